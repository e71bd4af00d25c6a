/**
 * The reference in-memory RaftStorage, used by tests and the simulator. It behaves as a
 * durable store would: what was appended stays until truncated by a conflicting append,
 * compacted, or replaced by a snapshot.
 */
import { assert } from './errors.js';
import { entryBytes } from './log-unstable.js';
import { RaftStorageError } from './types.js';
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from './types.js';

interface MemoryStorageOptions {
  /**
   * The bootstrap membership. A cluster is bootstrapped with a snapshot of the empty
   * state machine at index 1, term 1 that carries it (hard state term 1, commit 1).
   * A node joining later starts with no membership (empty storage, snapshot index 0):
   * the leader then sends it a snapshot, and with it the membership it must know.
   */
  readonly confState?: ConfState;
  /** Tests that build logs by hand from index 1 set this to 0 (all members share the bootstrap). */
  readonly bootstrapIndex?: 0 | 1;
}

export class MemoryStorage implements RaftStorage {
  #hardState: HardState = { term: 0, vote: '', commit: 0 };
  #currentSnapshot: Snapshot;
  /** The last discarded entry (index and term); the log starts right after it. */
  #compacted = { index: 0, term: 0 };
  /** log[i] has index compacted.index + 1 + i. */
  #log: Entry[] = [];
  #snapshotUnavailable = false;

  constructor(options: MemoryStorageOptions = {}) {
    const confState = options.confState ?? { voters: [], learners: [] };
    const hasMembers = confState.voters.length + confState.learners.length > 0;
    const index = options.bootstrapIndex ?? (hasMembers ? 1 : 0);
    this.#currentSnapshot = { metadata: { index, term: index, confState }, data: new Uint8Array(0) };
    this.#compacted = { index, term: index };
    this.#hardState = { term: index, vote: '', commit: index };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.#hardState, confState: this.#currentSnapshot.metadata.confState };
  }

  hardStateNow(): HardState {
    return this.#hardState;
  }

  setHardState(hardState: HardState): void {
    this.#hardState = hardState;
  }

  firstIndex(): number {
    return this.#compacted.index + 1;
  }

  lastIndex(): number {
    return this.#compacted.index + this.#log.length;
  }

  term(index: number): number {
    if (index < this.#compacted.index) throw new RaftStorageError('COMPACTED', `index ${index} is compacted`);
    if (index > this.lastIndex()) throw new RaftStorageError('UNAVAILABLE', `index ${index} is beyond the log`);
    if (index === this.#compacted.index) return this.#compacted.term;
    const entry = this.#log[index - this.#compacted.index - 1];
    assert(entry !== undefined, 'entry within bounds');
    return entry.term;
  }

  entries(low: number, high: number, bytesMax: number): Entry[] {
    if (low < this.firstIndex()) throw new RaftStorageError('COMPACTED', `index ${low} is compacted`);
    if (high > this.lastIndex() + 1) {
      throw new RaftStorageError('UNAVAILABLE', `entries up to ${high - 1} requested, last is ${this.lastIndex()}`);
    }
    assert(low <= high, `entries(${low}, ${high}): low > high`);
    const offset = this.firstIndex();
    const out: Entry[] = [];
    let totalBytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.#log[index - offset];
      assert(entry !== undefined, 'entry within bounds');
      totalBytes += entryBytes(entry);
      if (out.length > 0 && totalBytes > bytesMax) break;
      out.push(entry);
    }
    return out;
  }

  snapshot(): Snapshot {
    if (this.#snapshotUnavailable) {
      throw new RaftStorageError('SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'snapshot is being produced');
    }
    return this.#currentSnapshot;
  }

  /** Tests: make snapshot() throw SNAPSHOT_TEMPORARILY_UNAVAILABLE until set back. */
  setSnapshotUnavailable(unavailable: boolean): void {
    this.#snapshotUnavailable = unavailable;
  }

  /**
   * Appends entries, replacing any stored suffix they conflict with. Entries at or below
   * the snapshot are ignored. Throws if they would leave a gap.
   */
  append(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    assertContiguous(entries);
    const offset = this.firstIndex();
    const kept = entries.filter((entry) => entry.index >= offset);
    const firstKept = kept[0];
    if (firstKept === undefined) return;
    if (firstKept.index > this.lastIndex() + 1) {
      throw new RaftStorageError('UNAVAILABLE', `append at ${firstKept.index} leaves a gap after ${this.lastIndex()}`);
    }
    this.#log.length = firstKept.index - offset; // drops the conflicting suffix, if any
    for (const entry of kept) this.#log.push(entry);
  }

  /** Replaces the whole log with a snapshot received from the leader. */
  applySnapshot(snapshot: Snapshot): void {
    if (snapshot.metadata.index <= this.#currentSnapshot.metadata.index) {
      throw new RaftStorageError('COMPACTED', `snapshot at ${snapshot.metadata.index} is not newer than ${this.#currentSnapshot.metadata.index}`);
    }
    this.#currentSnapshot = snapshot;
    this.#compacted = { index: snapshot.metadata.index, term: snapshot.metadata.term };
    this.#log = [];
  }

  /** Records a snapshot of the state machine as of `index` (<= lastIndex), keeping the log. */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): Snapshot {
    if (index <= this.#currentSnapshot.metadata.index) {
      throw new RaftStorageError('COMPACTED', `snapshot at ${index} is not newer than ${this.#currentSnapshot.metadata.index}`);
    }
    if (index > this.lastIndex()) throw new RaftStorageError('UNAVAILABLE', `snapshot at ${index} beyond the log`);
    const term = this.term(index);
    this.#currentSnapshot = { metadata: { index, term, confState }, data };
    return this.#currentSnapshot;
  }

  /**
   * Discards entries up to and including `index`. Only entries the snapshot covers may
   * go: a follower that needs them gets the snapshot instead.
   */
  compact(index: number): void {
    if (index > this.#currentSnapshot.metadata.index) {
      throw new RaftStorageError('UNAVAILABLE', `cannot compact to ${index}: the snapshot is at ${this.#currentSnapshot.metadata.index}`);
    }
    if (index <= this.#compacted.index) return;
    const term = this.term(index);
    this.#log = this.#log.slice(index - this.#compacted.index);
    this.#compacted = { index, term };
  }
}

function assertContiguous(entries: readonly Entry[]): void {
  for (let i = 1; i < entries.length; i++) {
    const previous = entries[i - 1];
    const current = entries[i];
    assert(previous !== undefined && current !== undefined, 'entries in bounds');
    if (current.index !== previous.index + 1) {
      throw new RaftStorageError('UNAVAILABLE', `entries are not contiguous at ${previous.index} -> ${current.index}`);
    }
  }
}
