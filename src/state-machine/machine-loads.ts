/**
 * How the state machine applies a load's entries (load-entries.ts): chunks and aborts
 * stage the file beside the database (load-staging.ts) and then commit the entry's
 * index like a no-op; a commit swaps the staged file in through restore(). All of it is
 * asynchronous (a chunk's write and fsync run off the event loop, so heartbeats keep
 * flowing on a busy disk), so the runtime applies load entries on their own.
 *
 * Determinism: what a load entry does depends only on the staged file, which the log's
 * earlier entries made (durably, before their indexes committed). A commit that finds its
 * load incomplete or gone commits nothing, with an error result, on every node alike.
 * Failures of the disk (and of the swap) halt: the entry is applied again later.
 */
import type { StateMachineHaltedError } from './errors.js';
import type { InternalStore } from './internal-store.js';
import { assert } from '../common/assert.js';
import { prepareLoadedDatabase } from './load-commit.js';
import { decodeLoadEntry, type LoadEntry } from './load-entries.js';
import { LoadStaging, type OpenLoad } from './load-staging.js';
import type { ApplyOutcome, StatementResult } from './types.js';

type StagedEntry = Exclude<LoadEntry, { kind: 'commit' }>;

/** What applying load entries needs of the state machine. */
interface LoadApplyTarget {
  readonly extensionPaths: readonly string[];
  readonly appliedIndex: () => number;
  /** The outcome of an entry at or below the applied index (nothing runs); after a halt it reopens the database first. */
  skipIfApplied(index: number): ApplyOutcome | undefined;
  /** The entries' indexes committed as no-ops (the applied index moves), in one transaction when several. */
  applyNoops(indexes: readonly number[]): ApplyOutcome[];
  /** Marks the machine halted at `index` and returns the error to throw. */
  halt(index: number, code: string, cause: unknown): StateMachineHaltedError;
  store(): InternalStore;
  /** Replaces the database with a file in the snapshot format; afterwards the machine is at its index. */
  restore(path: string): Promise<unknown>;
}

/** Applies a load's entries and tells what is staged: one database's (MachineLoads), or several (database-loads.ts). */
export interface LoadApplier {
  /** The load whose chunks are staged, if any (of any database). */
  readonly openLoad: OpenLoad | undefined;
  /** `/boot`: `path` becomes the open load of `database` (absent: the default one), named as beginning at `beginIndex`. */
  adopt(path: string, loadId: string, beginIndex: number, database?: string): void;
  discardAll(): void;
  apply(entries: readonly { readonly index: number; readonly data: Uint8Array }[]): Promise<ApplyOutcome[]>;
}

export class MachineLoads implements LoadApplier {
  readonly #target: LoadApplyTarget;
  readonly #staging: LoadStaging;

  /** `appliedIndex`: the database's at open (see LoadStaging). */
  constructor(databasePath: string, appliedIndex: number, target: LoadApplyTarget) {
    this.#target = target;
    this.#staging = new LoadStaging(databasePath, appliedIndex);
  }

  get openLoad(): OpenLoad | undefined {
    return this.#staging.openLoad;
  }

  /**
   * Before a snapshot copy (see LoadStaging.guardSnapshot): refuses while a load is open,
   * and gives the check to pass the copy through once it is made.
   */
  guardSnapshot(): <Copy>(copy: Copy) => Copy {
    const check = this.#staging.guardSnapshot();
    return (copy) => {
      check();
      return copy;
    };
  }

  /** See LoadStaging.adopt (`/boot`). This machine holds one database: a name is a caller's bug. */
  adopt(path: string, loadId: string, beginIndex: number, database?: string): void {
    assert(database === undefined, `a load of database ${database} reached a machine of one database`);
    this.#staging.adopt(path, loadId, beginIndex);
  }

  /** After a restore: whatever was staged belongs to a past the database no longer has. */
  discardAll(): void {
    this.#staging.discardAll();
  }

  /** An undecodable entry halts the node, as any other does: it is never skipped. */
  #decode(index: number, data: Uint8Array): LoadEntry {
    try {
      return decodeLoadEntry(data);
    } catch (error) {
      throw this.#target.halt(index, 'BAD_COMMAND', error);
    }
  }

  /**
   * Applies consecutive load entries: a commit alone, or a run of chunks and aborts (their
   * bytes fsynced once, their indexes then committed in one transaction). Entries at or
   * below the applied index run nothing, as any entry.
   */
  async apply(entries: readonly { readonly index: number; readonly data: Uint8Array }[]): Promise<ApplyOutcome[]> {
    const target = this.#target;
    const skipped = entries
      .filter((item) => item.index <= target.appliedIndex())
      .map((item): ApplyOutcome => ({ entryIndex: item.index, results: [], deduplicated: false, skipped: true }));
    const pending = entries.slice(skipped.length);
    const first = pending[0];
    if (first === undefined) return skipped;
    target.skipIfApplied(first.index);
    const decoded = pending.map((item) => ({ index: item.index, entry: this.#decode(item.index, item.data) }));
    const commit = decoded[0]?.entry;
    if (commit?.kind === 'commit') {
      assert(decoded.length === 1, `load commit ${first.index} applies alone`);
      return [...skipped, await this.#applyCommit(first.index, commit)];
    }
    const staged = decoded.map(({ index, entry }) => {
      assert(entry.kind !== 'commit', `load commit ${index} applies alone`);
      return { index, entry: entry as StagedEntry };
    });
    let results: StatementResult[][];
    try {
      results = await this.#staging.applyEntries(staged);
    } catch (error) {
      throw target.halt(first.index, 'LOAD_FAILED', error);
    }
    const committed = target.applyNoops(pending.map((item) => item.index));
    return [...skipped, ...committed.map((outcome, position) => ({ ...outcome, results: results[position] ?? [] }))];
  }

  async #applyCommit(index: number, entry: Extract<LoadEntry, { kind: 'commit' }>): Promise<ApplyOutcome> {
    const target = this.#target;
    let staged: { readonly path: string } | { readonly error: string };
    try {
      staged = this.#staging.beginCommit(index, entry.loadId, entry.totalBytes);
      if ('path' in staged) {
        const store = target.store();
        const carried = { requests: store.requestsAt(index - 1), maintenance: store.maintenanceAt(index - 1) };
        prepareLoadedDatabase(staged.path, index, carried, target.extensionPaths);
        await target.restore(staged.path);
      }
    } catch (error) {
      throw target.halt(index, 'LOAD_FAILED', error);
    }
    if ('error' in staged) return { ...(target.applyNoops([index])[0] as ApplyOutcome), results: [{ kind: 'error', error: staged.error }] };
    return { entryIndex: index, results: [], deduplicated: false, skipped: false };
  }
}
