/**
 * Membership over the log (Raft dissertation §4.1): the membership at the log's base
 * (snapshot or bootstrap) and after each conf-change entry in the log. A change counts
 * from the moment its entry is in the log and is forgotten if the entry is truncated.
 */
import { applyConfChange, decodeConfChange, sortedIds } from './conf-change.js';
import { RaftError, assert } from './errors.js';
import type { ConfState, Entry } from './types.js';

interface ConfHistoryItem {
  readonly index: number;
  readonly confState: ConfState;
}

function normalizeConfState(confState: ConfState): ConfState {
  return { voters: sortedIds(confState.voters), learners: sortedIds(confState.learners) };
}

export class ConfHistory {
  /** Ascending by index; never empty; [0] is the base. */
  #items: ConfHistoryItem[];
  /**
   * After a snapshot restore: indexes strictly between the last committed index we knew
   * and the snapshot's index, whose membership we never saw. at() refuses them.
   */
  #unknown: { from: number; to: number } | undefined;

  constructor(baseIndex: number, base: ConfState) {
    this.#items = [{ index: baseIndex, confState: normalizeConfState(base) }];
  }

  latest(): ConfState {
    return this.#latestItem().confState;
  }

  /** The index of the newest conf-change entry (or of the base). */
  latestIndex(): number {
    return this.#latestItem().index;
  }

  #latestItem(): ConfHistoryItem {
    const last = this.#items[this.#items.length - 1];
    assert(last !== undefined, 'conf history is never empty');
    return last;
  }

  /**
   * Entries were appended starting at entries[0].index, replacing whatever followed:
   * forgets changes from there on, records the new ones. Returns whether membership changed.
   */
  onAppend(entries: readonly Entry[]): boolean {
    const first = entries[0];
    if (first === undefined) return false;
    const before = this.#items.length;
    while (this.#items.length > 1 && this.#latestItem().index >= first.index) this.#items.pop();
    const truncated = this.#items.length !== before;
    return this.record(entries) || truncated;
  }

  /** Records the conf-change entries among `entries` (in log order). Returns whether any was. */
  record(entries: readonly Entry[]): boolean {
    let recorded = false;
    for (const entry of entries) {
      if (entry.type !== 'conf-change') continue;
      const change = decodeConfChange(entry.data);
      this.#items.push({ index: entry.index, confState: applyConfChange(this.latest(), change) });
      recorded = true;
    }
    return recorded;
  }

  /** Membership as of `index`; throws INVALID_ARGUMENT below the history's start or in a gap. */
  at(index: number): ConfState {
    if (this.#unknown !== undefined && index >= this.#unknown.from && index <= this.#unknown.to) {
      throw new RaftError(
        'INVALID_ARGUMENT',
        `membership at ${index} is unknown: a snapshot at ${this.#unknown.to + 1} replaced the log after ${this.#unknown.from - 1}`,
      );
    }
    let found: ConfState | undefined;
    for (const item of this.#items) if (item.index <= index) found = item.confState;
    if (found === undefined) {
      throw new RaftError('INVALID_ARGUMENT', `membership at ${index} predates the log start ${this.#items[0]?.index}`);
    }
    return found;
  }

  /** Forgets what no index >= keepAt needs: keeps the last item at or below it and all after. */
  trim(keepAt: number): void {
    let keepFrom = 0;
    for (let i = 0; i < this.#items.length; i++) if ((this.#items[i]?.index ?? 0) <= keepAt) keepFrom = i;
    if (keepFrom > 0) this.#items = this.#items.slice(keepFrom);
    if (this.#unknown !== undefined && keepAt > this.#unknown.to) this.#unknown = undefined;
  }

  /**
   * The log was replaced by a snapshot. Items up to `committedIndex` (the commit index
   * before the restore: those entries are the leader's too, so they are part of the
   * snapshot's history) stay answerable until trimmed: the runtime may be applying them
   * right now and label its own snapshot with confStateAt(). Indexes between the commit
   * index and the snapshot were never seen here and are refused.
   */
  restore(snapshotIndex: number, confState: ConfState, committedIndex: number): void {
    assert(committedIndex < snapshotIndex, `restoring a snapshot at ${snapshotIndex} at or below commit ${committedIndex}`);
    const kept = this.#items.filter((item) => item.index <= committedIndex);
    this.#items = [...kept, { index: snapshotIndex, confState: normalizeConfState(confState) }];
    this.#unknown = committedIndex + 1 <= snapshotIndex - 1 ? { from: committedIndex + 1, to: snapshotIndex - 1 } : undefined;
  }
}
