/**
 * Apply for the etcd log: entries reach this node from its own appends (the leader knows
 * what it wrote), from the watch on the log prefix, and from range reads of etcd when
 * neither brought the next index; they apply strictly in index order, exactly once (the
 * state machine's applied index decides: what is at or below it is dropped). Gaps cannot
 * exist in etcd (each append's transaction checks the previous leader's last index is
 * the one before), so a missing index is only one this node has not read yet.
 *
 * Runs apply as the embedded Raft's do (apply.ts's plan): runs of commands in one SQLite
 * transaction, a load's entries through the state machine's loads. An environmental
 * failure halts at the same entry and retries it; nothing is skipped.
 */
import type { Etcd3 } from 'etcd3';
import { Range } from 'etcd3';
import { assert } from '../common/assert.js';
import type { Entry } from '../raft/types.js';
import { StateMachineHaltedError } from '../state-machine/errors.js';
import { loadEntryKind } from '../state-machine/load-entries.js';
import { applyBatchEntryCountMax } from '../state-machine/state-machine.js';
import type { StatementResult } from '../state-machine/types.js';
import { planApplyRuns } from './apply.js';
import { decodeEntryValue, indexOfLogKey, logKey, type EtcdKeys } from './etcd-keys.js';
import { isEnvironmentalFailure } from './halt.js';
import type { NodeLogger } from './logger.js';
import type { BatchOutcome, NodeStateMachine } from './ports.js';
import { sleep, type Scheduler } from './scheduler.js';

/** Entries one range read fetches at most. */
export const fetchEntryCountMax = 1000;
/**
 * When at most this many entries are missing (the few a watch has not delivered yet: the
 * common case, after every read barrier on a follower), the read asks for this many: a
 * page this small keeps the client's short deadline although it carries values
 * (src/server/etcd-client.ts), so a member cut off from the others costs 2 s, not 5.
 * Eight entries are at most 12 MiB under etcd's default request bound of 1.5 MiB.
 */
export const smallFetchEntryCountMax = 8;
/** Entries the watch delivered ahead of apply, kept at most; past it they are dropped and read again from etcd in order. */
export const bufferedEntryCountMax = 10_000;

interface ApplierDependencies {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly stateMachine: NodeStateMachine;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
  readonly haltRetryIntervalMs: number;
  /** Each applied entry, with the state machine's results. */
  readonly onApplied: (entry: Entry, results: readonly StatementResult[]) => void;
  /** The next entry this node needs was compacted away: bring the state past it (a snapshot from a peer). */
  readonly catchUp: (firstIndex: number) => Promise<void>;
  /** Attempt `attempt` in a row to apply failed for an environmental reason (the node is halted). */
  readonly onHalt?: (attempt: number) => void;
}

export function entryFromKeyValue(keys: EtcdKeys, key: Buffer, value: Buffer): Entry {
  const { term, data } = decodeEntryValue(value);
  return { index: indexOfLogKey(keys, key.toString()), term, type: 'normal', data };
}

/**
 * One range read of the log from `next` on: a small page when at most
 * smallFetchEntryCountMax entries are known to be missing, else up to fetchEntryCountMax.
 * Both read ahead of what is known (the page's whole size), so entries the watch has not
 * announced yet come along.
 */
export async function fetchEntries(client: Etcd3, keys: EtcdKeys, next: number, missing: number): Promise<Entry[]> {
  const limit = missing <= smallFetchEntryCountMax ? smallFetchEntryCountMax : fetchEntryCountMax;
  const range = new Range(logKey(keys, next), Range.prefix(keys.logPrefix).end);
  const response = await client.getAll().inRange(range).limit(limit).exec();
  return response.kvs.map((kv) => entryFromKeyValue(keys, kv.key, kv.value));
}

export class EtcdApplier {
  readonly #dependencies: ApplierDependencies;
  readonly #buffered = new Map<number, Entry>();
  #knownLastIndex = 0;
  #running: Promise<void> | undefined;
  #stopped = false;
  haltError: Error | undefined;
  /** Environmental failures in a row, since the last entry applied. */
  #haltAttempt = 0;

  constructor(dependencies: ApplierDependencies) {
    this.#dependencies = dependencies;
  }

  get knownLastIndex(): number {
    return Math.max(this.#knownLastIndex, this.#dependencies.stateMachine.appliedIndex);
  }

  /** Entries known to be in etcd (this node's own appends, the watch's events). */
  offer(entries: readonly Entry[]): void {
    const applied = this.#dependencies.stateMachine.appliedIndex;
    for (const entry of entries) {
      if (entry.index > applied && this.#buffered.size < bufferedEntryCountMax) this.#buffered.set(entry.index, entry);
      this.#knownLastIndex = Math.max(this.#knownLastIndex, entry.index);
    }
    this.kick();
  }

  /** etcd holds entries up to `index` (a read barrier's or a poll's answer): fetch what is missing. */
  noteLastIndex(index: number): void {
    this.#knownLastIndex = Math.max(this.#knownLastIndex, index);
    this.kick();
  }

  kick(): void {
    if (this.#running !== undefined || this.#stopped) return;
    this.#running = this.#run().then((progressed) => {
      this.#running = undefined;
      // Work that arrived as the run ended; after a read that found nothing new, the next poll or watch event kicks (no busy loop on etcd).
      if (progressed && !this.#stopped && this.#hasWork()) this.kick();
    });
  }

  #hasWork(): boolean {
    return this.#knownLastIndex > this.#dependencies.stateMachine.appliedIndex;
  }

  /** Applies while there is work; false when it stopped because etcd had nothing new to read. */
  async #run(): Promise<boolean> {
    while (!this.#stopped && this.#hasWork()) {
      try {
        if (!(await this.#step())) return false;
      } catch (error) {
        if (isBrokenInvariant(error)) throw error;
        this.#dependencies.logger.warn({ event: 'etcd-apply-retry', error: String(error) }, 'cannot apply the next entries; retrying');
        if (isEnvironmentalFailure(error)) {
          this.haltError = error as Error;
          this.#haltAttempt += 1;
          this.#dependencies.onHalt?.(this.#haltAttempt);
        }
        await sleep(this.#dependencies.scheduler, this.#dependencies.haltRetryIntervalMs);
      }
    }
    return true;
  }

  /** Applies the next entries (buffered, else read from etcd); false when there were none to apply. */
  async #step(): Promise<boolean> {
    const next = this.#dependencies.stateMachine.appliedIndex + 1;
    const entries = this.#buffered.has(next) ? this.#takeBuffered(next) : await this.#fetch(next, this.#knownLastIndex - next + 1);
    if (entries.length === 0) return false;
    await this.#applyEntries(entries);
    if (this.haltError !== undefined) this.#dependencies.logger.info({ event: 'resumed' }, 'apply resumed');
    this.haltError = undefined;
    this.#haltAttempt = 0;
    return true;
  }

  #takeBuffered(next: number): Entry[] {
    const entries: Entry[] = [];
    for (let index = next; this.#buffered.has(index) && entries.length < fetchEntryCountMax; index += 1) {
      entries.push(this.#buffered.get(index) as Entry);
      this.#buffered.delete(index);
    }
    return entries;
  }

  /** Reads entries from `next` on (`missing` of them known to be in etcd); an answer that starts later means `next` was compacted away. */
  async #fetch(next: number, missing: number): Promise<Entry[]> {
    const { client, keys } = this.#dependencies;
    const entries = await fetchEntries(client, keys, next, missing);
    const first = entries[0];
    if (first === undefined) {
      // Nothing from `next` on: either nothing new yet, or compaction deleted every entry (`first` is past the log's end).
      const stored = await client.get(keys.first).string();
      const firstIndex = stored === null ? 1 : Number(stored);
      if (next < firstIndex) await this.#dependencies.catchUp(firstIndex);
      return [];
    }
    if (first.index > next) {
      await this.#dependencies.catchUp(first.index);
      return [];
    }
    return entries;
  }

  async #applyEntries(entries: readonly Entry[]): Promise<void> {
    for (const run of planApplyRuns(entries, applyBatchEntryCountMax)) {
      const pending = run.filter((entry) => entry.index > this.#dependencies.stateMachine.appliedIndex);
      const first = pending[0];
      if (first === undefined) continue;
      const applied = this.#dependencies.stateMachine.appliedIndex;
      assert(first.index === applied + 1, `applying ${first.index} after ${applied}`);
      if (loadEntryKind(first.data) === undefined) this.#applyRun(pending);
      else this.#record(pending, await this.#applyLoad(pending));
    }
  }

  #applyLoad(pending: readonly Entry[]): Promise<readonly BatchOutcome[]> {
    const loads = this.#dependencies.stateMachine.loads;
    assert(loads !== undefined, `entry ${(pending[0] as Entry).index} is a load's, and this state machine takes none`);
    return loads.apply(pending);
  }

  #applyRun(pending: readonly Entry[]): void {
    try {
      this.#record(pending, this.#dependencies.stateMachine.applyBatch(pending));
    } catch (error) {
      if (error instanceof StateMachineHaltedError) this.#record(pending, error.outcomesBefore);
      throw error;
    }
  }

  #record(pending: readonly Entry[], outcomes: readonly BatchOutcome[]): void {
    const firstIndex = (pending[0] as Entry).index;
    for (const outcome of outcomes) {
      if (outcome.skipped) continue;
      const entry = pending[outcome.entryIndex - firstIndex];
      assert(entry !== undefined && entry.index === outcome.entryIndex, `outcome for entry ${outcome.entryIndex} not in the batch`);
      this.#dependencies.onApplied(entry, outcome.results);
    }
  }

  /** Resolves once the current run ended; nothing applies after. */
  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#running;
  }
}

/**
 * A failed assertion stops the node; anything else here is the disk or database (a halt)
 * or etcd (no quorum, a lost connection, a deadline): retried until it succeeds.
 */
function isBrokenInvariant(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('assertion failed:');
}
