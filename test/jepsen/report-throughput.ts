/**
 * The throughput panel under the scatter: ok operations completed per second, with
 * fail + info per second beside it, so a fault shows as the green line dropping and the
 * red one rising. A long run is averaged into wider buckets so the polyline never has
 * more points than the plot has pixels.
 */
import type { OperationRecord } from './history.js';
import { formatCount } from './report-escape.js';
import { perSecond } from './report-model.js';
import { linearScale, niceTicks, round1, svgText, svgTitle } from './report-svg.js';
import type { TimelineLayout } from './report-timeline.js';

/** Averages `perSecondCounts` into buckets of `bucketSeconds`: [start second, mean per second]. */
export function averageBuckets(perSecondCounts: readonly number[], bucketSeconds: number): [number, number][] {
  const points: [number, number][] = [];
  for (let start = 0; start < perSecondCounts.length; start += bucketSeconds) {
    const slice = perSecondCounts.slice(start, start + bucketSeconds);
    points.push([start, slice.reduce((sum, count) => sum + count, 0) / slice.length]);
  }
  return points;
}

function polyline(
  points: readonly [number, number][],
  bucketSeconds: number,
  x: (ms: number) => number,
  y: (rate: number) => number,
  className: string,
): string {
  const coordinates = points.map(([second, rate]) => `${round1(x((second + bucketSeconds / 2) * 1000))},${round1(y(rate))}`);
  return `<polyline class="${className}" points="${coordinates.join(' ')}"/>`;
}

export function renderThroughputPanel(operations: readonly OperationRecord[], layout: TimelineLayout, top: number, height: number): string {
  const seconds = Math.max(1, Math.ceil(layout.endMs / 1000));
  const bucketSeconds = Math.max(1, Math.ceil(seconds / (layout.right - layout.left)));
  const ok = averageBuckets(
    perSecond(operations, (operation) => operation.outcome === 'ok', layout.endMs),
    bucketSeconds,
  );
  const errors = averageBuckets(
    perSecond(operations, (operation) => operation.outcome !== 'ok', layout.endMs),
    bucketSeconds,
  );
  const peak = Math.max(4, ...ok.map(([, rate]) => rate), ...errors.map(([, rate]) => rate));
  const ticks = niceTicks(peak, 4);
  const y = linearScale(0, ticks.at(-1) ?? peak, top + height, top + 8);
  const parts = [svgText(6, top + 12, 'per second', 'class="panel-label"')];
  for (const tick of ticks) {
    const tickY = round1(y(tick));
    parts.push(`<line class="grid" x1="${layout.left}" y1="${tickY}" x2="${layout.right}" y2="${tickY}"/>`);
    parts.push(svgText(layout.left - 6, tickY + 4, formatCount(tick), 'class="tick" text-anchor="end"'));
  }
  const averaged = bucketSeconds > 1 ? `, averaged over ${bucketSeconds} s buckets` : '';
  parts.push(`<g>${polyline(errors, bucketSeconds, layout.x, y, 'rate errors')}${svgTitle(`fail + info per second${averaged}`)}</g>`);
  parts.push(`<g>${polyline(ok, bucketSeconds, layout.x, y, 'rate ok')}${svgTitle(`ok per second${averaged}`)}</g>`);
  return `<g class="throughput">${parts.join('')}</g>`;
}
