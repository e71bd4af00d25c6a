/**
 * A simulated node's disk: the durable twin of the Raft log, hard state and snapshot.
 * It holds only what the node persisted from a Ready; a crash keeps exactly this and
 * loses everything else (the core's unstable entries, volatile state, the state
 * machine). It is also the RaftStorage the node's core reads from.
 *
 * Planted faults (for the tests that prove the checkers can fail) are options here,
 * never edits to src/raft: `forgetVoteOnRestart` loses the vote a node cast, and
 * `loseLastAppendOnRestart` acknowledges an append but loses it in a crash (an fsync
 * that lied).
 */
import assert from 'node:assert/strict';
import {
  RaftStorageError,
  type ConfState,
  type Entry,
  type HardState,
  type RaftStorage,
  type Snapshot,
} from '../../src/raft/types.js';

export interface DiskFaults {
  readonly forgetVoteOnRestart?: boolean;
  readonly loseLastAppendOnRestart?: boolean;
}

export interface PersistInput {
  readonly hardState?: HardState | undefined;
  readonly entries: readonly Entry[];
  readonly snapshot?: Snapshot | undefined;
}

const emptyHardState: HardState = { term: 0, vote: '', commit: 0 };

export class DurableTwin implements RaftStorage {
  private hardStateValue: HardState = emptyHardState;
  private snapshotValue: Snapshot;
  /** The index and term of the entry just before `log[0]` (compacted away). */
  private offsetIndex = 0;
  private offsetTerm = 0;
  private log: Entry[] = [];
  private lastAppend: { firstIndex: number; count: number } | undefined;
  /** When set and returning true, snapshot() throws SNAPSHOT_TEMPORARILY_UNAVAILABLE. */
  snapshotUnavailable: (() => boolean) | undefined;

  constructor(confState: ConfState, private readonly faults: DiskFaults = {}) {
    this.snapshotValue = { metadata: { index: 0, term: 0, confState }, data: new Uint8Array(0) };
  }

  initialState(): { hardState: HardState; confState: ConfState } {
    return { hardState: this.hardStateValue, confState: this.snapshotValue.metadata.confState };
  }

  hardState(): HardState {
    return this.hardStateValue;
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    if (low <= this.offsetIndex) throw new RaftStorageError('COMPACTED', `entries from ${low}: compacted up to ${this.offsetIndex}`);
    if (high > this.lastIndex() + 1) throw new RaftStorageError('UNAVAILABLE', `entries up to ${high - 1}: last index is ${this.lastIndex()}`);
    assert.ok(low <= high, `entries(${low}, ${high}): low > high`);
    const result: Entry[] = [];
    let bytes = 0;
    for (let index = low; index < high; index++) {
      const entry = this.log[index - this.offsetIndex - 1] as Entry;
      bytes += entry.data.byteLength;
      if (result.length > 0 && bytes > maxBytes) break;
      result.push(entry);
    }
    return result;
  }

  term(index: number): number {
    if (index < this.offsetIndex) throw new RaftStorageError('COMPACTED', `term of ${index}: compacted up to ${this.offsetIndex}`);
    if (index > this.lastIndex()) throw new RaftStorageError('UNAVAILABLE', `term of ${index}: last index is ${this.lastIndex()}`);
    if (index === this.offsetIndex) return this.offsetTerm;
    return (this.log[index - this.offsetIndex - 1] as Entry).term;
  }

  firstIndex(): number {
    return this.offsetIndex + 1;
  }

  lastIndex(): number {
    return this.offsetIndex + this.log.length;
  }

  /** The core's read: may answer SNAPSHOT_TEMPORARILY_UNAVAILABLE while `snapshotUnavailable` says so. */
  snapshot(): Snapshot {
    if (this.snapshotUnavailable?.() === true) throw new RaftStorageError('SNAPSHOT_TEMPORARILY_UNAVAILABLE', 'the snapshot is still being produced');
    return this.snapshotValue;
  }

  /** The simulator's own read of the latest snapshot (never unavailable). */
  latestSnapshot(): Snapshot {
    return this.snapshotValue;
  }

  /** Persist one Ready's durable parts, in the order a real disk must: snapshot, entries, hard state. */
  persist(input: PersistInput): void {
    if (input.snapshot !== undefined) this.applySnapshot(input.snapshot);
    if (input.entries.length > 0) this.append(input.entries);
    if (input.hardState !== undefined) this.hardStateValue = input.hardState;
  }

  /** Append, truncating any conflicting suffix. Entries at or below the compaction point are ignored. */
  append(entries: readonly Entry[]): void {
    const fresh = entries.filter((entry) => entry.index > this.offsetIndex);
    if (fresh.length === 0) return;
    const first = fresh[0] as Entry;
    assert.ok(first.index <= this.lastIndex() + 1, `append at ${first.index} leaves a gap after ${this.lastIndex()}`);
    fresh.forEach((entry, position) => assert.equal(entry.index, first.index + position, 'appended entries must be contiguous'));
    this.log.length = first.index - this.offsetIndex - 1;
    this.log.push(...fresh);
    this.lastAppend = { firstIndex: first.index, count: fresh.length };
  }

  /** Replace the log with a snapshot received from the leader (ignored if older than ours). */
  applySnapshot(snapshot: Snapshot): void {
    const index = snapshot.metadata.index;
    if (index <= this.snapshotValue.metadata.index) return;
    // Like etcd's MemoryStorage: the log restarts after the snapshot (the core's own
    // log does the same when it restores one).
    this.log = [];
    this.snapshotValue = snapshot;
    this.offsetIndex = index;
    this.offsetTerm = snapshot.metadata.term;
    this.lastAppend = undefined;
  }

  /** Record a snapshot the node took of its own state machine at `index` (<= applied, so <= commit). */
  createSnapshot(index: number, confState: ConfState, data: Uint8Array): void {
    assert.ok(index <= this.hardStateValue.commit, `snapshot at ${index} beyond commit ${this.hardStateValue.commit}`);
    if (index <= this.snapshotValue.metadata.index) return;
    this.snapshotValue = { metadata: { index, term: this.term(index), confState }, data };
  }

  /** Discard entries up to `index`, which the latest snapshot must cover. */
  compact(index: number): void {
    assert.ok(index <= this.snapshotValue.metadata.index, `compact to ${index} beyond snapshot ${this.snapshotValue.metadata.index}`);
    if (index <= this.offsetIndex) return;
    const term = this.term(index);
    this.log = this.log.slice(index - this.offsetIndex);
    this.offsetIndex = index;
    this.offsetTerm = term;
  }

  /** The node crashed and restarts: apply the planted faults, if any. */
  crash(): void {
    if (this.faults.forgetVoteOnRestart === true) {
      this.hardStateValue = { ...this.hardStateValue, vote: '' };
    }
    if (this.faults.loseLastAppendOnRestart === true && this.lastAppend !== undefined) {
      // Lose the last append, but not what a snapshot already covers.
      const keptLastIndex = Math.max(this.lastAppend.firstIndex - 1, this.snapshotValue.metadata.index);
      this.log.length = Math.max(0, Math.min(this.log.length, keptLastIndex - this.offsetIndex));
      this.lastAppend = undefined;
      // Keep the hard state self-consistent so the core does not reject it outright:
      // the damage must be found by the checkers, not by a startup assertion.
      const commit = Math.min(this.hardStateValue.commit, this.lastIndex());
      this.hardStateValue = { ...this.hardStateValue, commit };
    }
  }

  /** All entries still in the log, for the checkers. */
  logEntries(): readonly Entry[] {
    return this.log;
  }
}
