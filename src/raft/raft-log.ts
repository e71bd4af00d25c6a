/**
 * The log as the core sees it: stable entries in RaftStorage followed by unstable ones,
 * plus the commit and applied indexes.
 */
import { RaftError, assert } from './errors.js';
import { UnstableLog, entryBytes, limitBytes } from './log-unstable.js';
import { RaftStorageError } from './types.js';
import type { Entry, RaftStorage, Snapshot } from './types.js';

export class RaftLog {
  readonly storage: RaftStorage;
  readonly unstable: UnstableLog;
  committed: number;
  applied: number;
  /** The last index handed out to be applied (>= applied); entries are handed out once. */
  applying: number;

  constructor(storage: RaftStorage, applied: number) {
    this.storage = storage;
    const firstIndex = storage.firstIndex();
    const lastIndex = storage.lastIndex();
    this.unstable = new UnstableLog(lastIndex + 1);
    this.committed = firstIndex - 1;
    this.applied = firstIndex - 1;
    const hardCommit = storage.initialState().hardState.commit;
    if (hardCommit > lastIndex) {
      throw new RaftError('INVALID_CONFIG', `storage's hard state commit ${hardCommit} is beyond its last index ${lastIndex}`);
    }
    if (hardCommit > this.committed) this.committed = hardCommit;
    // The runtime restores its state machine from storage's snapshot before starting the
    // core, so applied below the snapshot means "as of the snapshot".
    if (applied > this.committed) {
      throw new RaftError('INVALID_CONFIG', `applied ${applied} is beyond the persisted commit index ${this.committed}`);
    }
    if (applied > this.applied) this.applied = applied;
    this.applying = this.applied;
  }

  firstIndex(): number {
    return this.unstable.maybeFirstIndex() ?? this.storage.firstIndex();
  }

  lastIndex(): number {
    return this.unstable.maybeLastIndex() ?? this.storage.lastIndex();
  }

  /** The term of `index`, or undefined if it is compacted or beyond the log. */
  term(index: number): number | undefined {
    const dummyIndex = this.firstIndex() - 1;
    if (index < dummyIndex || index > this.lastIndex()) return undefined;
    const unstableTerm = this.unstable.maybeTerm(index);
    if (unstableTerm !== undefined) return unstableTerm;
    try {
      return this.storage.term(index);
    } catch (error) {
      if (error instanceof RaftStorageError && (error.code === 'COMPACTED' || error.code === 'UNAVAILABLE')) {
        return undefined;
      }
      throw error;
    }
  }

  /** The term of `index`, 0 if compacted or unknown (used where a hint is good enough). */
  termOrZero(index: number): number {
    return this.term(index) ?? 0;
  }

  lastTerm(): number {
    const term = this.term(this.lastIndex());
    assert(term !== undefined, 'the last entry has a term');
    return term;
  }

  matchTerm(index: number, term: number): boolean {
    return this.term(index) === term;
  }

  /** Raft §5.4.1: is a log ending at (index, term) at least as up to date as ours? */
  isUpToDate(lastIndex: number, term: number): boolean {
    const ourTerm = this.lastTerm();
    return term > ourTerm || (term === ourTerm && lastIndex >= this.lastIndex());
  }

  /** The index of the first entry that is new or conflicts with ours, 0 if none. */
  findConflict(entries: readonly Entry[]): number {
    for (const entry of entries) {
      if (!this.matchTerm(entry.index, entry.term)) return entry.index;
    }
    return 0;
  }

  /**
   * The largest index <= `index` whose term is <= `term` (etcd's findConflictByTerm),
   * and that term. Lets a leader skip a whole term of conflicting entries per round trip.
   */
  findConflictByTerm(index: number, term: number): { index: number; term: number } {
    let candidate = Math.min(index, this.lastIndex());
    for (;;) {
      const ourTerm = this.term(candidate);
      if (ourTerm === undefined) return { index: candidate, term: 0 };
      if (ourTerm <= term) return { index: candidate, term: ourTerm };
      candidate--;
    }
  }

  /**
   * AppendEntries on a follower. Returns the last index now known to match the leader
   * and the entries actually appended (after dropping those already present), or
   * undefined if (prevIndex, prevTerm) does not match.
   */
  maybeAppend(
    prevIndex: number,
    prevTerm: number,
    leaderCommit: number,
    entries: readonly Entry[],
  ): { lastNewIndex: number; appended: readonly Entry[] } | undefined {
    if (!this.matchTerm(prevIndex, prevTerm)) return undefined;
    const lastNewIndex = prevIndex + entries.length;
    const conflictIndex = this.findConflict(entries);
    let appended: readonly Entry[] = [];
    if (conflictIndex !== 0) {
      assert(conflictIndex > this.committed, `entry ${conflictIndex} conflicts with committed ${this.committed}`);
      appended = entries.slice(conflictIndex - prevIndex - 1);
      this.append(appended);
    }
    this.commitTo(Math.min(leaderCommit, lastNewIndex));
    return { lastNewIndex, appended };
  }

  append(entries: readonly Entry[]): number {
    const first = entries[0];
    if (first === undefined) return this.lastIndex();
    assert(first.index - 1 >= this.committed, `appending after ${first.index - 1} would overwrite commit ${this.committed}`);
    this.unstable.truncateAndAppend(entries);
    return this.lastIndex();
  }

  commitTo(index: number): void {
    if (index <= this.committed) return;
    assert(index <= this.lastIndex(), `commit ${index} is beyond the last index ${this.lastIndex()}`);
    this.committed = index;
  }

  appliedTo(index: number): void {
    if (index === 0) return;
    assert(index <= this.committed && index >= this.applied, `applied ${index} outside [${this.applied}, ${this.committed}]`);
    this.applied = index;
    this.applying = Math.max(this.applying, index);
  }

  /** Commits `index` if it has `term` (only entries of the leader's term count, Raft §5.4.2). */
  maybeCommit(index: number, term: number): boolean {
    if (index > this.committed && this.term(index) === term) {
      this.commitTo(index);
      return true;
    }
    return false;
  }

  restore(snapshot: Snapshot): void {
    this.committed = snapshot.metadata.index;
    this.unstable.restore(snapshot);
  }

  /** Entries in [low, lastIndex], at most bytesMax (at least one). Undefined if `low` is compacted. */
  entriesFrom(low: number, bytesMax: number): Entry[] | undefined {
    if (low > this.lastIndex()) return [];
    return this.slice(low, this.lastIndex() + 1, bytesMax);
  }

  /** Entries in [low, high) within bytesMax (at least one). Undefined if `low` is compacted. */
  slice(low: number, high: number, bytesMax: number): Entry[] | undefined {
    if (low >= high) return [];
    if (low < this.firstIndex()) return undefined;
    assert(high <= this.lastIndex() + 1, `slice up to ${high - 1} beyond ${this.lastIndex()}`);
    const unstableOffset = this.unstable.offset;
    let out: Entry[] = [];
    if (low < unstableOffset) {
      try {
        out = this.storage.entries(low, Math.min(high, unstableOffset), bytesMax);
      } catch (error) {
        if (error instanceof RaftStorageError && error.code === 'COMPACTED') return undefined;
        throw error;
      }
      if (out.length < Math.min(high, unstableOffset) - low) return out;
    }
    if (high > unstableOffset) {
      out = out.concat(this.unstable.slice(Math.max(low, unstableOffset), high));
    }
    return limitBytes(out, bytesMax);
  }

  /**
   * Whether committed entries wait to be handed out for applying. With `allowUnpersisted`
   * false (asynchronous storage writes) only entries already durable here count: applied
   * state must never get ahead of the local log, or a crash would leave the database
   * beyond the last entry stored.
   */
  hasNextCommittedEntries(allowUnpersisted = true): boolean {
    if (this.unstable.snapshot !== undefined) return false;
    return this.#applicableTo(allowUnpersisted) > this.applying;
  }

  /** Committed entries not yet handed out for applying, within bytesMax (at least one). */
  nextCommittedEntries(bytesMax: number, allowUnpersisted = true): Entry[] {
    if (!this.hasNextCommittedEntries(allowUnpersisted)) return [];
    const low = Math.max(this.applying + 1, this.firstIndex());
    const entries = this.slice(low, this.#applicableTo(allowUnpersisted) + 1, bytesMax);
    assert(entries !== undefined, `committed entries from ${low} are compacted before being applied`);
    return entries;
  }

  /** nextCommittedEntries(), which count as being applied from now on: none is handed out twice. */
  takeCommittedEntries(bytesMax: number, allowUnpersisted: boolean): Entry[] {
    const entries = this.nextCommittedEntries(bytesMax, allowUnpersisted);
    const last = entries[entries.length - 1];
    if (last !== undefined) this.applying = last.index;
    return entries;
  }

  #applicableTo(allowUnpersisted: boolean): number {
    return allowUnpersisted ? this.committed : Math.min(this.committed, this.persistedLastIndex());
  }

  /** The newest snapshot: an incoming one not yet persisted, else storage's. Throws if unavailable. */
  snapshot(): Snapshot {
    return this.unstable.snapshot ?? this.storage.snapshot();
  }

  /** The last index the runtime has persisted (never counts unstable entries). */
  persistedLastIndex(): number {
    if (this.unstable.snapshot !== undefined) return 0;
    return Math.min(this.storage.lastIndex(), this.unstable.offset - 1);
  }

  entriesBytesBetween(low: number, high: number): number {
    const entries = this.slice(low, high, Number.MAX_SAFE_INTEGER) ?? [];
    let total = 0;
    for (const entry of entries) total += entryBytes(entry);
    return total;
  }
}
