/**
 * The failover histogram: for each fault that cost the cluster its leader or quorum,
 * how long until the first acknowledged write after it. Buckets double from 125 ms, so
 * an election (hundreds of ms) and a stuck minority (tens of seconds) fit on one chart.
 */
import { formatCount, formatDurationMs } from './report-escape.js';
import { failoverStatistics } from './report-model.js';
import { linearScale, round1, svgText, svgTitle } from './report-svg.js';

/** Bucket upper edges; the last bucket is everything at or over the final edge. */
export const failoverBucketEdgesMs: readonly number[] = [125, 250, 500, 1000, 2000, 4000, 8000, 16_000, 32_000];
const widthPx = 640;
const heightPx = 210;
const marginLeftPx = 40;
const marginBottomPx = 36;
const marginTopPx = 18;
/** Buckets always shown, so one fast failover still sits on a readable axis. */
const bucketsShownMin = 5;

export interface FailoverBucket {
  readonly label: string;
  readonly count: number;
}

function bucketLabel(index: number): string {
  const lowMs = failoverBucketEdgesMs[index - 1];
  const highMs = failoverBucketEdgesMs[index];
  if (lowMs === undefined) return `< ${formatDurationMs(highMs ?? 0)}`;
  if (highMs === undefined) return `≥ ${formatDurationMs(lowMs)}`;
  return `${formatDurationMs(lowMs)}–${formatDurationMs(highMs)}`;
}

export function failoverBuckets(failoverMs: readonly number[]): FailoverBucket[] {
  const counts = new Array<number>(failoverBucketEdgesMs.length + 1).fill(0);
  for (const durationMs of failoverMs) {
    const index = failoverBucketEdgesMs.findIndex((edgeMs) => durationMs < edgeMs);
    const bucket = index === -1 ? failoverBucketEdgesMs.length : index;
    counts[bucket] = (counts[bucket] ?? 0) + 1;
  }
  const lastUsed = counts.reduce((last, count, index) => (count > 0 ? index : last), 0);
  return counts.slice(0, Math.max(bucketsShownMin, lastUsed + 1)).map((count, index) => ({ label: bucketLabel(index), count }));
}

export function renderFailoverSection(failoverMs: readonly number[]): string {
  const statistics = failoverStatistics(failoverMs);
  if (statistics.count === 0) {
    return '<section id="failover"><h2>Failover</h2><p class="muted">No fault in this run cost the cluster its leader or quorum.</p></section>';
  }
  const figures = [
    `<span class="figure"><b>${formatCount(statistics.count)}</b> failovers</span>`,
    `<span class="figure">p50 <b>${formatDurationMs(statistics.p50Ms ?? 0)}</b></span>`,
    `<span class="figure">p99 <b>${formatDurationMs(statistics.p99Ms ?? 0)}</b></span>`,
    `<span class="figure">max <b>${formatDurationMs(statistics.maxMs ?? 0)}</b></span>`,
  ];
  return [
    '<section id="failover"><h2>Failover</h2>',
    '<p class="muted">For each fault that cost the cluster its leader or quorum: the time from the fault to the first acknowledged write after it.</p>',
    `<p class="figures">${figures.join('')}</p>`,
    renderHistogram(failoverBuckets(failoverMs)),
    '</section>',
  ].join('');
}

function renderHistogram(buckets: readonly FailoverBucket[]): string {
  const peak = Math.max(1, ...buckets.map((bucket) => bucket.count));
  const slotWidth = (widthPx - marginLeftPx - 8) / buckets.length;
  const y = linearScale(0, peak, heightPx - marginBottomPx, marginTopPx);
  const bars = buckets.map((bucket, index) => {
    const x = marginLeftPx + index * slotWidth;
    const top = round1(y(bucket.count));
    const geometry = `x="${round1(x + 4)}" y="${top}" width="${round1(slotWidth - 8)}" height="${round1(heightPx - marginBottomPx - top)}"`;
    const bar = `<rect class="bar" ${geometry}>${svgTitle(`${bucket.count} × ${bucket.label}`)}</rect>`;
    const count = bucket.count > 0 ? svgText(x + slotWidth / 2, top - 4, String(bucket.count), 'class="bar-count" text-anchor="middle"') : '';
    const label = svgText(x + slotWidth / 2, heightPx - marginBottomPx + 16, bucket.label, 'class="tick" text-anchor="middle"');
    return bar + count + label;
  });
  const baseline = `<line class="axis" x1="${marginLeftPx}" y1="${heightPx - marginBottomPx}" x2="${widthPx - 8}" y2="${heightPx - marginBottomPx}"/>`;
  const open = `<svg class="histogram" viewBox="0 0 ${widthPx} ${heightPx}" role="img" aria-label="Failover time histogram">`;
  return `${open}${baseline}${bars.join('')}</svg>`;
}
