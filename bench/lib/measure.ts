/**
 * The load generator shared by every system: sequential and concurrent loops bounded by
 * an operation count and a time budget, per-operation latencies, and percentiles.
 * An operation returns true when the system acknowledged it; only those count.
 */
export type Operation = (sequenceNumber: number, clientIndex: number) => Promise<boolean>;

export interface LoadBounds {
  readonly operationCountMax: number;
  readonly durationMsMax: number;
}

export interface LoadResult {
  readonly acknowledgedCount: number;
  readonly failedCount: number;
  readonly elapsedMs: number;
  readonly operationsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  /** Each interleaved round's own rate, in run order: how much the rounds agree. */
  readonly roundOperationsPerSecond: number[];
}

/** Nearest-rank percentile of an ascending list; NaN when empty. */
export function percentile(sortedAscending: readonly number[], fraction: number): number {
  if (!(fraction >= 0 && fraction <= 1)) throw new Error(`percentile fraction ${fraction} outside 0..1`);
  if (sortedAscending.length === 0) return Number.NaN;
  const rank = Math.max(1, Math.ceil(fraction * sortedAscending.length));
  return sortedAscending[rank - 1] ?? Number.NaN;
}

/** The middle value (the upper one of an even count), NaN when empty: how the benches report rounds. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((left, right) => left - right);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

/** Runs `read` `count` times one after another; the mean microseconds per call. */
export async function microsecondsPerCall(count: number, read: (position: number) => unknown): Promise<number> {
  const startedMs = performance.now();
  for (let position = 0; position < count; position++) await read(position);
  return ((performance.now() - startedMs) * 1000) / count;
}

/** The raw outcome of one bounded load (one round); rounds merge into one LoadResult. */
export interface LoadSamples {
  readonly latenciesMs: number[];
  readonly failedCount: number;
  readonly elapsedMs: number;
}

/** Merges rounds: counts and elapsed time add up, percentiles over every latency. */
export function summarise(rounds: readonly LoadSamples[]): LoadResult {
  const latenciesMs = rounds.flatMap((round) => round.latenciesMs).sort((left, right) => left - right);
  const elapsedMs = rounds.reduce((total, round) => total + round.elapsedMs, 0);
  return {
    acknowledgedCount: latenciesMs.length,
    failedCount: rounds.reduce((total, round) => total + round.failedCount, 0),
    elapsedMs,
    operationsPerSecond: elapsedMs > 0 ? (latenciesMs.length * 1000) / elapsedMs : 0,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
    roundOperationsPerSecond: rounds.map((round) => (round.elapsedMs > 0 ? (round.latenciesMs.length * 1000) / round.elapsedMs : 0)),
  };
}

/**
 * Runs `operation` from `clientCount` concurrent loops (client i passes clientIndex i, so
 * a workload can pin a client to a node) until operationCountMax operations were issued
 * in total or durationMsMax passed. Latency counts acknowledged operations only.
 */
export async function collectLoad(operation: Operation, clientCount: number, bounds: LoadBounds): Promise<LoadSamples> {
  if (!(Number.isInteger(clientCount) && clientCount >= 1)) throw new Error(`clientCount ${clientCount} must be a whole number >= 1`);
  if (!(bounds.operationCountMax >= 1 && bounds.durationMsMax >= 1)) throw new Error('load bounds must be at least 1');
  const latenciesMs: number[] = [];
  let failedCount = 0;
  let issuedCount = 0;
  const startedMs = performance.now();
  const deadlineMs = startedMs + bounds.durationMsMax;
  const client = async (_: unknown, clientIndex: number): Promise<void> => {
    while (issuedCount < bounds.operationCountMax && performance.now() < deadlineMs) {
      issuedCount += 1;
      const operationStartedMs = performance.now();
      let acknowledged = false;
      try {
        acknowledged = await operation(issuedCount, clientIndex);
      } catch {
        acknowledged = false;
      }
      if (acknowledged) latenciesMs.push(performance.now() - operationStartedMs);
      else failedCount += 1;
    }
  };
  await Promise.all(Array.from({ length: clientCount }, client));
  return { latenciesMs, failedCount, elapsedMs: performance.now() - startedMs };
}

export async function runLoad(operation: Operation, clientCount: number, bounds: LoadBounds): Promise<LoadResult> {
  return summarise([await collectLoad(operation, clientCount, bounds)]);
}

/** Splits bounds into `roundCount` equal rounds (at least one operation and 1 ms each). */
export function boundsPerRound(bounds: LoadBounds, roundCount: number): LoadBounds {
  if (!(Number.isInteger(roundCount) && roundCount >= 1)) throw new Error(`roundCount ${roundCount} must be a whole number >= 1`);
  return {
    operationCountMax: Math.max(1, Math.ceil(bounds.operationCountMax / roundCount)),
    durationMsMax: Math.max(1, Math.ceil(bounds.durationMsMax / roundCount)),
  };
}

/** Each workload writes its own key range, each round its own slice of it. */
export const keyBase = {
  sequential: 0,
  concurrent: 10_000_000,
  batches: 20_000_000,
  failover: 30_000_000,
  mixed: 40_000_000,
  hung: 50_000_000,
  warmUp: 60_000_000,
  afterIdle: 70_000_000,
  /** The lead-ins before measured rounds (workloads.ts), each a slice of its own from here up. */
  leadIn: 80_000_000,
} as const;
export const keysPerRound = 1_000_000;

/** bench:compare's workload 10 in a full run: how long every system sits idle before its writes (options.ts; the table's row names it). */
export const fullRunIdleMs = 30_000;

/** A key of exactly 16 bytes and a value of exactly 100 bytes, as every peer is measured (docs/TESTING.md, "The peers we compare against"). */
export const keyBytes = 16;
export const valueBytes = 100;

export function benchKey(sequenceNumber: number): string {
  return `k${String(sequenceNumber).padStart(keyBytes - 1, '0')}`.slice(-keyBytes);
}

export function benchValue(sequenceNumber: number): string {
  const prefix = `v${sequenceNumber}-`;
  return (prefix + 'x'.repeat(valueBytes)).slice(0, valueBytes);
}

/** Distinct replies a tally keeps; later new ones are counted under `otherReplies`. */
export const replyKindsMax = 4;
/** How much of a reply's text a tally keeps. */
export const replyTextMax = 100;
const otherReplies = '(other replies)';

/**
 * The replies a system gave that were not acknowledgements (`database is locked`, a
 * redirect, a timeout), counted by their text, so the report can say why writes failed.
 * Bounded: `replyKindsMax` texts of at most `replyTextMax` characters, the rest together.
 */
export class ReplyTally {
  readonly #counts = new Map<string, number>();

  record(reply: string): void {
    const text = reply.trim().replaceAll(/\s+/g, ' ').slice(0, replyTextMax);
    const key = this.#counts.has(text) || this.#counts.size < replyKindsMax ? text : otherReplies;
    this.#counts.set(key, (this.#counts.get(key) ?? 0) + 1);
  }

  /** Most frequent first. */
  entries(): { readonly reply: string; readonly count: number }[] {
    return [...this.#counts].map(([reply, count]) => ({ reply, count })).sort((a, b) => b.count - a.count);
  }
}
