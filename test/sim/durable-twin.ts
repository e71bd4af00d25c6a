/**
 * A simulated node's durable Raft log: what its store has fsynced, and nothing else. It
 * mirrors the real store's picture of its log (src/storage log-state.ts): the hard state,
 * the saved membership, the compaction point, the snapshot installed through the log (a
 * received one) and the entries after the compaction point. The storage twin
 * (storage-twin.ts) writes it only when a save lands, so a crash keeps exactly this.
 *
 * Planted faults (for the tests that prove the checkers can fail) are options here,
 * never edits to src/: `forgetVoteOnRestart` loses the vote a node cast,
 * `loseLastAppendOnRestart` acknowledges an append but loses it in a crash (an fsync that
 * lied), and `discardSnapshotsBeyondCommit` is the store's old recovery rule (see
 * storage-twin.ts).
 */
import assert from 'node:assert/strict';
import { entryOverheadBytes } from '../../src/raft/types.js';
import { RaftStorageError, type ConfState, type Entry, type HardState, type Snapshot, type SnapshotMetadata } from '../../src/raft/types.js';
import { StorageError } from '../../src/storage/errors.js';

export interface DiskFaults {
  readonly forgetVoteOnRestart?: boolean;
  readonly loseLastAppendOnRestart?: boolean;
  /** At open, discard every snapshot newer than the lazily saved commit index (the store's rule before bb86da3). */
  readonly discardSnapshotsBeyondCommit?: boolean;
  /** Snapshot retention keeps only the newest `retainCount`, even the one covering the log (the store's rule before finding R2's fix). */
  readonly unguardedSnapshotRetention?: boolean;
}

/** What a leader-completeness check reads of a log. */
export interface LogView {
  firstIndex(): number;
  lastIndex(): number;
  term(index: number): number;
}

export const emptyConfState: ConfState = { voters: [], learners: [] };
const emptyHardState: HardState = { term: 0, vote: '', commit: 0 };

export class DurableTwin implements LogView {
  hardState: HardState = emptyHardState;
  hasHardState = false;
  confState: ConfState | null = null;
  compactIndex = 0;
  compactTerm = 0;
  /** The newest snapshot installed through the log (a received one), if any. */
  installedSnapshot: SnapshotMetadata | null = null;
  private log: Entry[] = [];
  private lastAppend: { firstIndex: number } | undefined;

  constructor(
    confState?: ConfState,
    readonly faults: DiskFaults = {},
  ) {
    if (confState !== undefined) this.confState = confState;
  }

  lastIndex(): number {
    return this.compactIndex + this.log.length;
  }

  lastTerm(): number {
    return this.log.length === 0 ? this.compactTerm : (this.log[this.log.length - 1] as Entry).term;
  }

  firstIndex(): number {
    return this.compactIndex + 1;
  }

  /** The term at `index` if the log knows it (the compaction point or a live entry). */
  termAt(index: number): number | undefined {
    if (index === this.compactIndex) return this.compactTerm;
    if (index < this.compactIndex || index > this.lastIndex()) return undefined;
    return (this.log[index - this.compactIndex - 1] as Entry).term;
  }

  /** RaftStorage.term: as the real store answers it. */
  term(index: number): number {
    if (index < this.compactIndex) throw new RaftStorageError('COMPACTED', `entry ${index} is compacted (snapshot at ${this.compactIndex})`);
    if (index > this.lastIndex()) throw new RaftStorageError('UNAVAILABLE', `entry ${index} is beyond the last index ${this.lastIndex()}`);
    return this.termAt(index) as number;
  }

  /** RaftStorage.entries: [low, high), stopping before maxBytes (data plus the core's per-entry overhead), at least one. */
  entries(low: number, high: number, maxBytes: number): Entry[] {
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || low > high) {
      throw new StorageError('INVALID_ARGUMENT', `entries range [${low}, ${high}) is invalid`);
    }
    if (low <= this.compactIndex) throw new RaftStorageError('COMPACTED', `entry ${low} is compacted (snapshot at ${this.compactIndex})`);
    if (high > this.lastIndex() + 1) throw new RaftStorageError('UNAVAILABLE', `entry ${high - 1} is beyond the last index ${this.lastIndex()}`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.log[index - this.compactIndex - 1] as Entry;
      const entryBytes = entry.data.byteLength + entryOverheadBytes;
      if (result.length > 0 && bytes + entryBytes > maxBytes) break;
      bytes += entryBytes;
      result.push(entry);
    }
    return result;
  }

  /** Appends one entry, replacing the suffix from its index (as the real log replays entry records). */
  applyEntry(entry: Entry): void {
    if (entry.index <= this.compactIndex) return;
    assert.ok(entry.index <= this.lastIndex() + 1, `entry ${entry.index} leaves a gap after ${this.lastIndex()}`);
    this.log.length = entry.index - this.compactIndex - 1;
    this.log.push(entry);
  }

  applyEntries(entries: readonly Entry[]): void {
    const first = entries.find((entry) => entry.index > this.compactIndex);
    if (first === undefined) return;
    for (const entry of entries) this.applyEntry(entry);
    this.lastAppend = { firstIndex: first.index };
  }

  applyHardState(hardState: HardState): void {
    this.hardState = hardState;
    this.hasHardState = true;
  }

  applyConfState(confState: ConfState): void {
    this.confState = confState;
  }

  applyCompact(index: number, term: number): void {
    if (index <= this.compactIndex) return;
    this.log = this.log.slice(index - this.compactIndex);
    this.compactIndex = index;
    this.compactTerm = term;
  }

  /** A received snapshot replaces the whole log. */
  applySnapshot(metadata: SnapshotMetadata): void {
    this.log = [];
    this.compactIndex = metadata.index;
    this.compactTerm = metadata.term;
    this.confState = metadata.confState;
    this.installedSnapshot = metadata;
    this.lastAppend = undefined;
  }

  /** For tests: persist a Ready's parts in the order a real disk must: snapshot, entries, hard state. */
  persist(input: { readonly snapshot?: Snapshot; readonly entries: readonly Entry[]; readonly hardState?: HardState }): void {
    if (input.snapshot !== undefined) this.applySnapshot(input.snapshot.metadata);
    this.applyEntries(input.entries);
    if (input.hardState !== undefined) this.applyHardState(input.hardState);
  }

  /**
   * The node crashed: apply the planted faults, if any. A lost append never reaches below
   * `appliedIndexMin` (the durable state machine's applied index: entries it applied were
   * committed, and losing them would only make the core refuse to start).
   */
  crash(appliedIndexMin: number): void {
    if (this.faults.forgetVoteOnRestart === true) this.hardState = { ...this.hardState, vote: '' };
    if (this.faults.loseLastAppendOnRestart === true && this.lastAppend !== undefined) {
      const keptLastIndex = Math.max(this.lastAppend.firstIndex - 1, this.compactIndex, appliedIndexMin);
      this.log.length = Math.max(0, Math.min(this.log.length, keptLastIndex - this.compactIndex));
      this.lastAppend = undefined;
      // Keep the hard state self-consistent so the core does not reject it outright: the
      // damage must be found by the checkers, not by a start-up assertion.
      this.hardState = { ...this.hardState, commit: Math.min(this.hardState.commit, this.lastIndex()) };
    }
  }

  /** All entries still in the log, for the checkers. */
  logEntries(): readonly Entry[] {
    return this.log;
  }
}
