/**
 * What the report derives from a run before drawing anything: the overall verdict,
 * outcome counts, percentiles, errors grouped by text, throughput per second. Pure
 * functions of the summary, shared by the page and the terminal block so the two never
 * disagree.
 */
import type { CheckerVerdict, NemesisKind, OperationRecord, Outcome } from './history.js';
import { formatDurationMs } from './report-escape.js';
import type { RunSummary } from './report.js';

export type OverallVerdict = 'VALID' | 'INVALID' | 'UNKNOWN';

/** Every kind, in the order the timeline stacks their rows. */
export const nemesisKinds: readonly NemesisKind[] = ['kill', 'pause', 'partition', 'clock', 'disk', 'membership', 'etcd', 'etcd-partition'];
export const outcomes: readonly Outcome[] = ['ok', 'fail', 'info'];

/**
 * INVALID when any checker found an anomaly or any final check failed; UNKNOWN when a
 * checker could not decide (or none ran); VALID only when every checker said so.
 */
export function overallVerdict(summary: RunSummary): OverallVerdict {
  const deciding = decidingVerdicts(summary);
  if (deciding.some((verdict) => verdict.valid === false)) return 'INVALID';
  if (summary.finalChecks.some((check) => !check.passed)) return 'INVALID';
  if (deciding.length === 0) return 'UNKNOWN';
  if (deciding.some((verdict) => verdict.valid === 'unknown')) return 'UNKNOWN';
  return 'VALID';
}

/** The verdicts that decide the run: all but the informational ones. */
export function decidingVerdicts(summary: RunSummary): CheckerVerdict[] {
  return summary.verdicts.filter((verdict) => verdict.informational !== true);
}

/** A checker's name, marked when its verdict is only reported. */
export function checkerLabel(verdict: CheckerVerdict): string {
  return verdict.informational === true ? `${verdict.checker} (reported only)` : verdict.checker;
}

export function verdictWord(valid: CheckerVerdict['valid']): OverallVerdict {
  if (valid === true) return 'VALID';
  if (valid === false) return 'INVALID';
  return 'UNKNOWN';
}

export type OutcomeCounts = Readonly<Record<Outcome, number>> & { readonly total: number };

export function countOutcomes(operations: readonly OperationRecord[]): OutcomeCounts {
  const counts = { ok: 0, fail: 0, info: 0, total: operations.length };
  for (const operation of operations) counts[operation.outcome]++;
  return counts;
}

/** Nearest-rank percentile (p in [0, 100]) of values already sorted ascending. */
export function percentile(sortedValues: readonly number[], p: number): number | undefined {
  if (sortedValues.length === 0) return undefined;
  const rank = Math.ceil((p / 100) * sortedValues.length);
  return sortedValues[Math.min(sortedValues.length, Math.max(1, rank)) - 1];
}

export interface FailoverStatistics {
  readonly count: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly maxMs?: number;
}

/** 'p50 1.2 s, p99 4.5 s, max 4.6 s': the same words on the page and in the terminal. */
export function failoverPercentilesText(statistics: FailoverStatistics): string {
  const format = (durationMs: number | undefined) => (durationMs === undefined ? '–' : formatDurationMs(durationMs));
  return `p50 ${format(statistics.p50Ms)}, p99 ${format(statistics.p99Ms)}, max ${format(statistics.maxMs)}`;
}

export function failoverStatistics(failoverMs: readonly number[]): FailoverStatistics {
  const sorted = [...failoverMs].sort((left, right) => left - right);
  return { count: sorted.length, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted.at(-1) };
}

export interface ErrorGroup {
  readonly error: string;
  readonly fail: number;
  readonly info: number;
  readonly functions: readonly string[];
  readonly nodes: readonly string[];
  readonly firstMs: number;
  readonly lastMs: number;
}

/** fail and info operations grouped by their error text, most frequent first. */
export function errorsByText(operations: readonly OperationRecord[]): ErrorGroup[] {
  const groups = new Map<string, { error: string; fail: number; info: number; functions: Set<string>; nodes: Set<string>; firstMs: number; lastMs: number }>();
  for (const operation of operations) {
    if (operation.outcome === 'ok') continue;
    const error = operation.error ?? '(no error text)';
    let group = groups.get(error);
    if (group === undefined) {
      group = { error, fail: 0, info: 0, functions: new Set(), nodes: new Set(), firstMs: operation.completeMs, lastMs: operation.completeMs };
      groups.set(error, group);
    }
    group[operation.outcome]++;
    group.functions.add(operation.f);
    group.nodes.add(operation.node);
    group.firstMs = Math.min(group.firstMs, operation.completeMs);
    group.lastMs = Math.max(group.lastMs, operation.completeMs);
  }
  return [...groups.values()]
    .map((group) => ({ ...group, functions: [...group.functions].sort(), nodes: [...group.nodes].sort() }))
    .sort((left, right) => right.fail + right.info - (left.fail + left.info) || left.error.localeCompare(right.error));
}

/** Operations completed with `outcome` in each whole second of the run (index = second). */
export function perSecond(operations: readonly OperationRecord[], keep: (operation: OperationRecord) => boolean, endMs: number): number[] {
  const seconds = new Array<number>(Math.max(1, Math.ceil(endMs / 1000))).fill(0);
  for (const operation of operations) {
    if (!keep(operation)) continue;
    const second = Math.min(seconds.length - 1, Math.max(0, Math.floor(operation.completeMs / 1000)));
    seconds[second] = (seconds[second] ?? 0) + 1;
  }
  return seconds;
}

/** Where the run's time axis ends: the last thing that happened, or the planned duration. */
export function timelineEndMs(summary: RunSummary): number {
  let endMs = Math.max(1, summary.durationMs);
  for (const operation of summary.operations) endMs = Math.max(endMs, operation.completeMs);
  for (const event of summary.nemesisEvents) endMs = Math.max(endMs, event.endMs ?? event.startMs);
  return endMs;
}

/** The functions the clients ran, most frequent first (so the commonest gets the plainest shape). */
export function functionsByFrequency(operations: readonly OperationRecord[]): string[] {
  const counts = new Map<string, number>();
  for (const operation of operations) counts.set(operation.f, (counts.get(operation.f) ?? 0) + 1);
  return [...counts.entries()].sort((left, right) => right[1] - left[1] || left[0].localeCompare(right[0])).map(([name]) => name);
}

/** Each checker's anomalies counted by type: 'G1c ×2, G0 ×1'. */
export function anomalyTally(verdict: CheckerVerdict): string {
  const counts = new Map<string, number>();
  for (const anomaly of verdict.anomalies) counts.set(anomaly.type, (counts.get(anomaly.type) ?? 0) + 1);
  return [...counts.entries()].map(([type, count]) => `${type} ×${count}`).join(', ');
}
