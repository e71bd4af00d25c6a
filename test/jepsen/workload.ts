/**
 * What a workload gives the runner: the schema, the next operation a client should run,
 * how to run it against one node, the reads that close a run, and the checks of the
 * finished history. A workload keeps no state about outcomes: the history is the record.
 */
import type { Prng } from '../sim/prng.js';
import type { CallOutcome } from './client.js';
import type { CheckerVerdict, OperationRecord, Outcome } from './history.js';

export interface Invocation {
  readonly f: string;
  readonly input: unknown;
  /** For reads: the consistency level. */
  readonly level?: string;
}

export interface Completion {
  readonly outcome: Outcome;
  readonly output?: unknown;
  readonly error?: string;
}

export interface FinalCheck {
  readonly name: string;
  readonly passed: boolean;
  readonly detail: string;
}

export interface Workload {
  readonly name: string;
  /** Statements run once through the leader before any client starts. */
  readonly setupStatements: readonly (readonly unknown[])[];
  /** The next operation of client `process`. */
  nextInvocation(process: number, random: Prng): Invocation;
  /** Runs `invocation` against the node at `baseUrl`. */
  invoke(baseUrl: string, invocation: Invocation, timeoutMs: number, idempotencyKey: string): Promise<Completion>;
  /** Reads of everything the run touched, run at `linearizable` once the cluster is healed. */
  finalInvocations(): readonly Invocation[];
  /**
   * The verdicts. `required` verdicts decide the run (a read level that promises
   * linearizability, a total that must hold); the others are reported (what `weak` and
   * `none` reads gave).
   */
  check(operations: readonly OperationRecord[]): { readonly required: readonly CheckerVerdict[]; readonly reported: readonly CheckerVerdict[] };
  /** End-of-run checks on the history (e.g. every acknowledged append is in the final read). */
  finalChecks(operations: readonly OperationRecord[]): readonly FinalCheck[];
}

/** A write-ish outcome from a call: ok carries what the workload makes of the results. */
export function completionOf(outcome: CallOutcome, output: (results: Extract<CallOutcome, { kind: 'ok' }>['results']) => unknown): Completion {
  if (outcome.kind === 'ok') return { outcome: 'ok', output: output(outcome.results) };
  return { outcome: outcome.kind, error: outcome.error };
}

/**
 * Keys in use: each client picks among a small window of live keys; a key retires after
 * `operationsPerKey` operations and a fresh one takes its place. Small per-key histories
 * keep the linearizability search tractable, as Jepsen's independent keys do.
 */
export class KeyWindow {
  #nextKey: number;
  readonly #live: { key: number; used: number }[] = [];
  readonly #allKeys: number[] = [];

  constructor(
    readonly windowSize: number,
    readonly operationsPerKey: number,
    firstKey = 1,
  ) {
    this.#nextKey = firstKey;
    for (let index = 0; index < windowSize; index += 1) this.#live.push(this.#fresh());
  }

  #fresh(): { key: number; used: number } {
    const key = this.#nextKey;
    this.#nextKey += 1;
    this.#allKeys.push(key);
    return { key, used: 0 };
  }

  /** A live key, counted as used once. */
  take(random: Prng): number {
    const slot = random.nextInt(this.#live.length);
    const entry = this.#live[slot] as { key: number; used: number };
    entry.used += 1;
    if (entry.used >= this.operationsPerKey) this.#live[slot] = this.#fresh();
    return entry.key;
  }

  /** Every key handed out so far (and the live ones). */
  keys(): readonly number[] {
    return this.#allKeys;
  }
}

/** Read levels that promise linearizability: their reads are checked, not just reported. */
export const linearizableLevels: ReadonlySet<string> = new Set(['linearizable', 'strong']);
