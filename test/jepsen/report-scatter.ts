/**
 * The latency scatter: one mark per operation at (invocation time, latency), coloured
 * by outcome and shaped by function. A long run has hundreds of thousands of operations,
 * so the marks are thinned before drawing (see thinOperations) and ok marks of one
 * function share a single <path>: the SVG's element count is bounded by the plot's width,
 * not by the history's length. Every fail and info mark that survives is its own element
 * with a <title>, so hovering it names the operation.
 */
import type { OperationRecord } from './history.js';
import { formatCount, formatDurationMs } from './report-escape.js';
import { type Scale, type ShapeName, shapeNames, shapePath, svgTitle } from './report-svg.js';

/** Operations in one pixel column share a bucket; 2 px keeps the thinning invisible. */
export const scatterColumnWidthPx = 2;
/** Per column and function: ok marks drawn at most (they share one <path>, so they cost bytes, not elements). */
export const okMarksPerColumnMax = 6;
/** Per column and outcome (fail, info): marks drawn at most. */
export const errorMarksPerColumnMax = 4;
/** Operations named by anomalies that get a ring on the scatter. */
export const anomalyRingsMax = 500;
const markSizePx = 4.5;

export interface ScatterGeometry {
  readonly x: Scale;
  readonly y: Scale;
  readonly left: number;
}

interface Mark {
  readonly operation: OperationRecord;
  readonly x: number;
  readonly y: number;
  readonly functionIndex: number;
}

export interface ThinnedMarks {
  readonly marks: readonly Mark[];
  /** Whether a column's cap dropped marks that would have been visible (not just overdrawn). */
  readonly capped: boolean;
}

export function latencyMs(operation: OperationRecord): number {
  return Math.max(0, operation.completeMs - operation.invokeMs);
}

/**
 * Keeps what a reader can see: each column keeps its fastest and slowest mark (the spike
 * is the point of the chart) and a sample of the rest, picked by a hash of the operation
 * id so that it follows where operations are dense without drawing the same quantiles in
 * every column (which would show as false horizontal bands). Marks that would land on
 * the same pixel with the same colour and shape are drawn once.
 */
export function thinOperations(operations: readonly OperationRecord[], geometry: ScatterGeometry, functionIndex: ReadonlyMap<string, number>): ThinnedMarks {
  const buckets = new Map<string, Mark[]>();
  for (const operation of operations) {
    const x = geometry.x(operation.invokeMs);
    const column = Math.floor((x - geometry.left) / scatterColumnWidthPx);
    const index = functionIndex.get(operation.f) ?? 0;
    const key = operation.outcome === 'ok' ? `${column} ok ${index}` : `${column} ${operation.outcome}`;
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = [];
      buckets.set(key, bucket);
    }
    bucket.push({ operation, x, y: geometry.y(latencyMs(operation)), functionIndex: index });
  }
  const marks: Mark[] = [];
  let capped = false;
  for (const bucket of buckets.values()) {
    const limit = bucket[0]?.operation.outcome === 'ok' ? okMarksPerColumnMax : errorMarksPerColumnMax;
    const kept = sampleBucket(bucket, limit);
    capped ||= kept.capped;
    marks.push(...kept.marks);
  }
  return { marks, capped };
}

/** Knuth's multiplicative hash: a fixed, well-mixed order over operation ids. */
function idHash(id: number): number {
  return Math.imul(id, 0x9e3779b1) >>> 0;
}

function pixelKey(mark: Mark): string {
  return `${Math.round(mark.y)} ${mark.functionIndex}`;
}

/** At most `limit` marks of distinct pixels: the extremes first, then the rest in hash order. */
function sampleBucket(bucket: readonly Mark[], limit: number): { marks: Mark[]; capped: boolean } {
  let fastest = bucket[0] as Mark;
  let slowest = fastest;
  for (const mark of bucket) {
    if (mark.y > fastest.y) fastest = mark;
    if (mark.y < slowest.y) slowest = mark;
  }
  const candidates = [slowest, fastest, ...[...bucket].sort((left, right) => idHash(left.operation.id) - idHash(right.operation.id))];
  const seen = new Set<string>();
  const marks: Mark[] = [];
  for (const mark of candidates) {
    const key = pixelKey(mark);
    if (seen.has(key)) continue;
    if (marks.length === limit) return { marks, capped: true };
    seen.add(key);
    marks.push(mark);
  }
  return { marks, capped: false };
}

export function shapeOf(functionIndex: number): ShapeName {
  return shapeNames[functionIndex % shapeNames.length] ?? 'circle';
}

/** Describes one operation for a hover title: id, function, node, outcome, latency, error. */
export function operationTooltip(operation: OperationRecord): string {
  const error = operation.error === undefined ? '' : `\n${operation.error}`;
  const timing = `${formatDurationMs(latencyMs(operation))} at ${formatDurationMs(operation.invokeMs)}`;
  return `#${operation.id} ${operation.f} → ${operation.node}\nprocess ${operation.process}, ${operation.outcome}, ${timing}${error}`;
}

/** The marks as SVG: ok marks merged per function, each fail and info mark with its own title. */
export function renderMarks(thinned: ThinnedMarks, functions: readonly string[]): string {
  const okPaths = new Map<number, string[]>();
  const errorElements: string[] = [];
  for (const mark of thinned.marks) {
    const path = shapePath(shapeOf(mark.functionIndex), mark.x, mark.y, markSizePx);
    if (mark.operation.outcome === 'ok') {
      const paths = okPaths.get(mark.functionIndex) ?? [];
      paths.push(path);
      okPaths.set(mark.functionIndex, paths);
    } else {
      errorElements.push(`<path class="mark ${mark.operation.outcome}" d="${path}">${svgTitle(operationTooltip(mark.operation))}</path>`);
    }
  }
  const okElements = [...okPaths.entries()].map(
    ([index, paths]) => `<path class="mark ok" d="${paths.join('')}">${svgTitle(`ok ${functions[index] ?? '?'}: ${formatCount(paths.length)} marks`)}</path>`,
  );
  return `<g class="marks">${okElements.join('')}${errorElements.join('')}</g>`;
}

/** A ring around each operation an anomaly names, so a reader finds it on the timeline. */
export function renderAnomalyRings(operations: readonly OperationRecord[], anomalyLabels: ReadonlyMap<number, string>, geometry: ScatterGeometry): string {
  const rings: string[] = [];
  for (const operation of operations) {
    const label = anomalyLabels.get(operation.id);
    if (label === undefined) continue;
    if (rings.length >= anomalyRingsMax) break;
    const cx = Math.round(geometry.x(operation.invokeMs) * 10) / 10;
    const cy = Math.round(geometry.y(latencyMs(operation)) * 10) / 10;
    rings.push(`<circle class="anomaly-ring" cx="${cx}" cy="${cy}" r="7">${svgTitle(`${label}\n${operationTooltip(operation)}`)}</circle>`);
  }
  return `<g class="anomaly-rings">${rings.join('')}</g>`;
}

/** The chart's caption: how many operations are drawn, and how the rest were thinned. */
export function scatterCaption(thinned: ThinnedMarks, total: number): string {
  const drawn = thinned.marks.length;
  const base = 'Each mark is one operation at its invocation time (x) and latency (y, log scale); colour is its outcome, shape its function.';
  if (drawn === total) return `${base} All ${formatCount(total)} operations are drawn.`;
  const how = thinned.capped
    ? `marks that would cover the same pixel are drawn once, and each ${scatterColumnWidthPx}-px column keeps at most ${okMarksPerColumnMax} ok marks ` +
      `per function and ${errorMarksPerColumnMax} fail and ${errorMarksPerColumnMax} info marks, sampled with each column’s fastest and slowest kept`
    : 'marks that would cover the same pixel are drawn once';
  return `${base} Downsampled: ${formatCount(drawn)} of ${formatCount(total)} operations drawn; ${how}. Counts and tables below use every operation.`;
}
