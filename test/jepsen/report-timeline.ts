/**
 * The timeline: one SVG with three panels on a shared time axis, so that what the
 * nemesis did lines up with what the clients saw. On top, one row per nemesis kind with a
 * band per fault; in the middle, the latency scatter; at the bottom, operations per
 * second. Each fault's span is also shaded faintly behind the two lower panels.
 */
import type { NemesisEvent, NemesisKind } from './history.js';
import { escapeHtml, formatDurationMs } from './report-escape.js';
import { functionsByFrequency, nemesisKinds, timelineEndMs } from './report-model.js';
import { latencyMs, renderAnomalyRings, renderMarks, type ScatterGeometry, scatterCaption, shapeOf, thinOperations } from './report-scatter.js';
import {
  decadeTicks,
  latencyDomain,
  latencyLabel,
  linearScale,
  logScale,
  nemesisColors,
  outcomeColors,
  round1,
  type Scale,
  secondsLabel,
  shapePath,
  svgText,
  svgTitle,
} from './report-svg.js';
import { renderThroughputPanel } from './report-throughput.js';
import type { RunSummary } from './report.js';

export const timelineWidthPx = 1240;
const marginLeftPx = 96;
const marginRightPx = 16;
const nemesisRowHeightPx = 18;
const nemesisRowGapPx = 4;
const panelGapPx = 26;
const scatterHeightPx = 340;
const throughputHeightPx = 130;
const axisHeightPx = 28;

export interface TimelineLayout {
  readonly x: Scale;
  readonly left: number;
  readonly right: number;
  readonly endMs: number;
}

export interface Timeline {
  readonly svg: string;
  readonly caption: string;
  readonly legend: string;
}

/** The kinds that happened, in the fixed stacking order. */
function kindsPresent(events: readonly NemesisEvent[]): NemesisKind[] {
  const present = new Set(events.map((event) => event.kind));
  return nemesisKinds.filter((kind) => present.has(kind));
}

export function renderTimeline(summary: RunSummary, anomalyLabels: ReadonlyMap<number, string>): Timeline {
  const endMs = timelineEndMs(summary);
  const layout: TimelineLayout = {
    x: linearScale(0, endMs, marginLeftPx, timelineWidthPx - marginRightPx),
    left: marginLeftPx,
    right: timelineWidthPx - marginRightPx,
    endMs,
  };
  const kinds = kindsPresent(summary.nemesisEvents);
  const nemesisHeight = Math.max(1, kinds.length) * (nemesisRowHeightPx + nemesisRowGapPx);
  const scatterTop = nemesisHeight + panelGapPx;
  const throughputTop = scatterTop + scatterHeightPx + panelGapPx;
  const axisTop = throughputTop + throughputHeightPx;
  const height = axisTop + axisHeightPx;
  const functions = functionsByFrequency(summary.operations);
  const { lowMs, highMs } = latencyDomain(summary.operations.map(latencyMs));
  const geometry: ScatterGeometry = { x: layout.x, y: logScale(lowMs, highMs, scatterTop + scatterHeightPx, scatterTop), left: marginLeftPx };
  const thinned = thinOperations(summary.operations, geometry, new Map(functions.map((name, index) => [name, index])));
  const parts = [
    `<svg class="timeline" viewBox="0 0 ${timelineWidthPx} ${height}" role="img" aria-label="Timeline of faults, latencies and throughput">`,
    renderShading(summary.nemesisEvents, layout, scatterTop, axisTop),
    renderTimeGrid(layout, scatterTop, axisTop),
    renderNemesisRows(summary.nemesisEvents, kinds, layout),
    renderLatencyAxis(lowMs, highMs, geometry.y, layout),
    svgText(6, scatterTop + 12, 'latency', 'class="panel-label"'),
    renderMarks(thinned, functions),
    renderAnomalyRings(summary.operations, anomalyLabels, geometry),
    renderThroughputPanel(summary.operations, layout, throughputTop, throughputHeightPx),
    '</svg>',
  ];
  return { svg: parts.join('\n'), caption: scatterCaption(thinned, summary.operations.length), legend: renderLegend(functions, kinds) };
}

function renderNemesisRows(events: readonly NemesisEvent[], kinds: readonly NemesisKind[], layout: TimelineLayout): string {
  if (kinds.length === 0) return svgText(layout.left, nemesisRowHeightPx - 5, 'no faults injected', 'class="muted"');
  const parts: string[] = [];
  kinds.forEach((kind, row) => {
    const top = row * (nemesisRowHeightPx + nemesisRowGapPx);
    parts.push(svgText(layout.left - 8, top + nemesisRowHeightPx - 5, kind, 'class="row-label" text-anchor="end"'));
    parts.push(`<rect class="row-track" x="${layout.left}" y="${top}" width="${round1(layout.right - layout.left)}" height="${nemesisRowHeightPx}"/>`);
    for (const event of events) if (event.kind === kind) parts.push(renderNemesisBand(event, layout, top));
  });
  return `<g class="nemesis">${parts.join('')}</g>`;
}

export function nemesisTooltip(event: NemesisEvent): string {
  const span =
    event.endMs === undefined
      ? `${formatDurationMs(event.startMs)} → never healed`
      : `${formatDurationMs(event.startMs)} → ${formatDurationMs(event.endMs)} (${formatDurationMs(event.endMs - event.startMs)})`;
  return `${event.kind}: ${event.description}\ntargets: ${event.targets.join(', ') || 'none'}\n${span}`;
}

function renderNemesisBand(event: NemesisEvent, layout: TimelineLayout, top: number): string {
  const x = round1(layout.x(event.startMs));
  const width = round1(Math.max(2, layout.x(event.endMs ?? layout.endMs) - x));
  const unhealed = event.endMs === undefined ? ' unhealed' : '';
  const characterWidthPx = 6.2;
  const label =
    width > event.description.length * characterWidthPx + 8 ? svgText(x + 4, top + nemesisRowHeightPx - 5, event.description, 'class="band-label"') : '';
  const rect = `<rect x="${x}" y="${top}" width="${width}" height="${nemesisRowHeightPx}" fill="${nemesisColors[event.kind]}"/>`;
  return `<g class="band${unhealed}">${rect}${label}${svgTitle(nemesisTooltip(event))}</g>`;
}

function renderShading(events: readonly NemesisEvent[], layout: TimelineLayout, top: number, bottom: number): string {
  const rects = events.map((event) => {
    const x = round1(layout.x(event.startMs));
    const width = round1(Math.max(1, layout.x(event.endMs ?? layout.endMs) - x));
    return `<rect x="${x}" y="${top}" width="${width}" height="${bottom - top}" fill="${nemesisColors[event.kind]}"/>`;
  });
  return `<g class="shading">${rects.join('')}</g>`;
}

function renderTimeGrid(layout: TimelineLayout, top: number, axisTop: number): string {
  const parts: string[] = [`<line class="axis" x1="${layout.left}" y1="${axisTop}" x2="${layout.right}" y2="${axisTop}"/>`];
  for (const tickMs of timeTicks(layout.endMs)) {
    const x = round1(layout.x(tickMs));
    parts.push(`<line class="grid" x1="${x}" y1="${top}" x2="${x}" y2="${axisTop}"/>`);
    parts.push(svgText(x, axisTop + 16, secondsLabel(tickMs), 'class="tick" text-anchor="middle"'));
  }
  return `<g class="time-grid">${parts.join('')}</g>`;
}

/** About twelve round second marks over the run. */
function timeTicks(endMs: number): number[] {
  const stepsMs = [100, 200, 500, 1000, 2000, 5000, 10_000, 15_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000];
  const stepMs = stepsMs.find((candidate) => endMs / candidate <= 12) ?? Math.ceil(endMs / 12 / 3_600_000) * 3_600_000;
  const ticks: number[] = [];
  for (let tickMs = 0; tickMs <= endMs; tickMs += stepMs) ticks.push(tickMs);
  return ticks;
}

function renderLatencyAxis(lowMs: number, highMs: number, y: Scale, layout: TimelineLayout): string {
  const parts: string[] = [];
  for (const tickMs of decadeTicks(lowMs, highMs)) {
    const tickY = round1(y(tickMs));
    parts.push(`<line class="grid" x1="${layout.left}" y1="${tickY}" x2="${layout.right}" y2="${tickY}"/>`);
    parts.push(svgText(layout.left - 6, tickY + 4, latencyLabel(tickMs), 'class="tick" text-anchor="end"'));
  }
  return `<g class="latency-axis">${parts.join('')}</g>`;
}

/** The key to colours and shapes, as HTML with small inline SVG swatches. */
function renderLegend(functions: readonly string[], kinds: readonly NemesisKind[]): string {
  const swatch = (content: string) => `<svg class="swatch" viewBox="0 0 14 14" aria-hidden="true">${content}</svg>`;
  const outcomeItems = (['ok', 'fail', 'info'] as const).map(
    (outcome) => `<span class="legend-item">${swatch(`<path d="${shapePath('circle', 7, 7, 9)}" fill="${outcomeColors[outcome]}"/>`)}${outcome}</span>`,
  );
  const functionItems = functions.map(
    (name, index) => `<span class="legend-item">${swatch(`<path class="legend-shape" d="${shapePath(shapeOf(index), 7, 7, 9)}"/>`)}${escapeHtml(name)}</span>`,
  );
  const kindItems = kinds.map(
    (kind) => `<span class="legend-item">${swatch(`<rect x="1" y="3" width="12" height="8" fill="${nemesisColors[kind]}"/>`)}${kind}</span>`,
  );
  const ring = `<span class="legend-item">${swatch('<circle class="anomaly-ring" cx="7" cy="7" r="5"/>')}named by an anomaly</span>`;
  return [
    `<div class="legend"><span class="legend-title">outcome</span>${outcomeItems.join('')}`,
    `<span class="legend-title">function</span>${functionItems.join('')}`,
    kinds.length > 0 ? `<span class="legend-title">fault</span>${kindItems.join('')}` : '',
    `${ring}</div>`,
  ].join('');
}

/** Operations named by any anomaly, labelled with the checker and anomaly type (first wins). */
export function anomalyLabelsOf(summary: RunSummary): Map<number, string> {
  const labels = new Map<number, string>();
  for (const verdict of summary.verdicts) {
    for (const anomaly of verdict.anomalies) {
      for (const id of anomaly.operationIds) if (!labels.has(id)) labels.set(id, `${verdict.checker}: ${anomaly.type}`);
    }
  }
  return labels;
}
