/**
 * Entry transactions across the pair of files (database-layout.ts): the user's database
 * and the internal store beside it. The store commits first, then the database, whose
 * header marker names the store commit it saw (applied-marker.ts); the applied index
 * moves only once the database committed. Also kept here: when both files are fsynced
 * next, and how far back the store must keep history (snapshots in progress pin it).
 */
import { durableSyncEntryCountMax, storeCommitEntryCountMax } from './applied-marker.js';
import { markDatabase, type Connections } from './connections.js';
import { syncPair } from './database-layout.js';
import { beginEntryTransaction, commitUnlessDeferredViolation, TransactionLostError } from './entry-execution.js';
import type { StateMachineHaltedError } from './errors.js';
import { rollbackQuietly } from './machine-connections.js';
import type { CommitStep } from './options.js';
import { isEnvironmentalError } from './statement-runner.js';

/** Makes the machine unhealthy and returns the error to throw. */
type Halt = (index: number, code: string, cause: unknown) => StateMachineHaltedError;

export class PairTransactions {
  readonly #path: string;
  readonly #onCommitStep: ((step: CommitStep) => void) | undefined;
  readonly #halt: Halt;
  #appliedIndex = 0;
  /** The internal store's last commit the database has seen (applied-marker.ts). */
  #storeIndex = 0;
  /** Entries applied since both files were last fsynced (applied-marker.ts bounds it). */
  #entriesSinceSync = 0;
  /** Applied indexes that snapshots in progress started at: the internal store keeps history back to the lowest. */
  readonly #snapshotPins: number[] = [];

  constructor(path: string, onCommitStep: ((step: CommitStep) => void) | undefined, halt: Halt) {
    this.#path = path;
    this.#onCommitStep = onCommitStep;
    this.#halt = halt;
  }

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** The pair as an open found it (both files were just fsynced). */
  opened(appliedIndex: number, storeIndex: number): void {
    this.#appliedIndex = appliedIndex;
    this.#storeIndex = storeIndex;
    this.#entriesSinceSync = 0;
  }

  /** Keeps the store's history back to the applied index now until the returned release is called. */
  pinHistory(): { readonly index: number; readonly release: () => void } {
    const index = this.#appliedIndex;
    this.#snapshotPins.push(index);
    return { index, release: () => this.#snapshotPins.splice(this.#snapshotPins.indexOf(index), 1) };
  }

  /**
   * Runs entries firstIndex..lastIndex in one transaction of each file. A crash between
   * the two commits leaves the store one batch ahead, which opening undoes.
   */
  run<Outcome>(
    connections: Connections,
    firstIndex: number,
    lastIndex: number,
    work: (connections: Connections) => Outcome,
    onDeferredViolation?: (connections: Connections) => Outcome,
  ): Outcome {
    let storeAhead = false;
    try {
      this.#syncIfDue(firstIndex);
      // The store keeps history back to the applied index, or to the oldest snapshot in progress.
      connections.store.plan(Math.min(this.#appliedIndex, ...this.#snapshotPins), lastIndex);
      beginEntryTransaction(connections);
      const outcome = work(connections);
      const storeIndex = this.#commitStore(connections, lastIndex);
      storeAhead = storeIndex !== this.#storeIndex;
      markDatabase(connections, lastIndex, storeIndex);
      if (!commitUnlessDeferredViolation(connections)) {
        if (storeAhead) connections.store.undoTo(this.#appliedIndex, this.#storeIndex);
        storeAhead = false;
        if (onDeferredViolation === undefined) throw new TransactionLostError();
        return this.run(connections, firstIndex, lastIndex, onDeferredViolation);
      }
      storeAhead = false;
      this.#onCommitStep?.('database-committed');
      // Counted in indexes, not entries: a database of several (database-catalog.ts) applies only some of them.
      this.#entriesSinceSync += lastIndex - this.#appliedIndex;
      this.#appliedIndex = lastIndex;
      this.#storeIndex = storeIndex;
      return outcome;
    } catch (error) {
      rollbackQuietly(connections);
      // Whether the database committed is for the reopen to read from its header, not to guess here.
      if (storeAhead) throw this.#halt(firstIndex, isEnvironmentalError(error) ? error.code : 'COMMIT_FAILED', error);
      if (isEnvironmentalError(error)) throw this.#halt(firstIndex, error.code, error);
      throw error;
    }
  }

  /** Commits the store if the batch wrote it, or if it is due; returns the store's last commit for the marker. */
  #commitStore(connections: Connections, lastIndex: number): number {
    // At least every storeCommitEntryCountMax entries, so the marker's distance to it stays in bounds.
    if (lastIndex - this.#storeIndex >= storeCommitEntryCountMax) connections.store.write();
    if (!connections.store.commitIfWritten()) return this.#storeIndex;
    this.#onCommitStep?.('store-committed');
    return lastIndex;
  }

  /** Outside any transaction: fsync both files once durableSyncEntryCountMax entries applied since the last time. */
  #syncIfDue(firstIndex: number): void {
    if (this.#entriesSinceSync < durableSyncEntryCountMax) return;
    const failure = syncPair(this.#path);
    if (failure !== undefined) throw this.#halt(firstIndex, 'FSYNC_FAILED', failure);
    this.#entriesSinceSync = 0;
  }
}
