/**
 * The leader's bookkeeping per follower (etcd's Progress): how far its log matches,
 * what to send next, and how much is in flight.
 */
import { assert } from './errors.js';
import type { ProgressState, ProgressStatus } from './types.js';

/** A bounded window of MsgApp messages sent but not yet acknowledged, by count and bytes. */
export class Inflights {
  readonly #messageCountMax: number;
  readonly #bytesMax: number;
  /** Last entry index of each in-flight message, ascending, with its byte size. */
  #items: { index: number; bytes: number }[] = [];
  #totalBytes = 0;

  constructor(messageCountMax: number, bytesMax: number) {
    this.#messageCountMax = messageCountMax;
    this.#bytesMax = bytesMax;
  }

  add(index: number, bytes: number): void {
    assert(!this.full(), 'adding to a full inflight window');
    const last = this.#items[this.#items.length - 1];
    assert(last === undefined || index > last.index, `inflight index ${index} not increasing`);
    this.#items.push({ index, bytes });
    this.#totalBytes += bytes;
  }

  /** Frees every message whose last index is <= `index` (acknowledged). */
  freeLE(index: number): void {
    let freed = 0;
    for (const item of this.#items) {
      if (item.index > index) break;
      this.#totalBytes -= item.bytes;
      freed++;
    }
    if (freed > 0) this.#items = this.#items.slice(freed);
  }

  freeFirstOne(): void {
    const first = this.#items[0];
    if (first !== undefined) this.freeLE(first.index);
  }

  full(): boolean {
    return this.#items.length >= this.#messageCountMax || this.#totalBytes >= this.#bytesMax;
  }

  count(): number {
    return this.#items.length;
  }

  bytes(): number {
    return this.#totalBytes;
  }

  reset(): void {
    this.#items = [];
    this.#totalBytes = 0;
  }
}

export class Progress {
  match = 0;
  next: number;
  state: ProgressState = 'probe';
  /** In 'snapshot' state: the index of the snapshot sent. */
  pendingSnapshotIndex = 0;
  /** Heard from since the last check-quorum round. */
  recentActive = false;
  /** In 'probe' state: one MsgApp is out; wait for an answer or a heartbeat response. */
  probeSent = false;
  /** Leader lease: the newest leader tick count this follower echoed in a heartbeat response. */
  leaseAckTick = Number.NEGATIVE_INFINITY;
  isLearner: boolean;
  readonly inflights: Inflights;

  constructor(next: number, isLearner: boolean, inflights: Inflights) {
    this.next = next;
    this.isLearner = isLearner;
    this.inflights = inflights;
  }

  #resetState(state: ProgressState): void {
    this.probeSent = false;
    this.pendingSnapshotIndex = 0;
    this.state = state;
    this.inflights.reset();
  }

  becomeProbe(): void {
    if (this.state === 'snapshot') {
      const pendingSnapshotIndex = this.pendingSnapshotIndex;
      this.#resetState('probe');
      this.next = Math.max(this.match + 1, pendingSnapshotIndex + 1);
    } else {
      this.#resetState('probe');
      this.next = this.match + 1;
    }
  }

  /**
   * The follower lost its log (its data directory was wiped and it came back under the
   * same id): nothing it acknowledged is there any more. Probe from the leader's end
   * with no match, so rejections walk back as far as the follower's real log.
   */
  forgetMatch(leaderLastIndex: number): void {
    this.#resetState('probe');
    this.match = 0;
    this.next = leaderLastIndex + 1;
  }

  becomeReplicate(): void {
    this.#resetState('replicate');
    this.next = this.match + 1;
  }

  becomeSnapshot(snapshotIndex: number): void {
    this.#resetState('snapshot');
    this.pendingSnapshotIndex = snapshotIndex;
  }

  /** An acknowledgement up to `index`; false if it is stale. */
  maybeUpdate(index: number): boolean {
    let updated = false;
    if (this.match < index) {
      this.match = index;
      updated = true;
      this.probeSent = false;
    }
    this.next = Math.max(this.next, index + 1);
    return updated;
  }

  /**
   * A rejection of the MsgApp whose previous index was `rejected`; `matchHint` is where
   * to probe next. False if the rejection is stale.
   */
  maybeDecreaseTo(rejected: number, matchHint: number): boolean {
    if (this.state === 'replicate') {
      if (rejected <= this.match) return false;
      this.next = this.match + 1;
      return true;
    }
    if (this.next - 1 !== rejected) return false;
    this.next = Math.max(Math.min(rejected, matchHint + 1), this.match + 1);
    this.probeSent = false;
    return true;
  }

  /** Records a MsgApp whose last entry is `lastIndex` carrying `bytes` of entries. */
  sentEntries(entryCount: number, lastIndex: number, bytes: number): void {
    if (this.state === 'replicate') {
      if (entryCount > 0) {
        this.next = lastIndex + 1;
        this.inflights.add(lastIndex, bytes);
      }
    } else if (this.state === 'probe') {
      this.probeSent = true;
    }
  }

  isPaused(): boolean {
    if (this.state === 'probe') return this.probeSent;
    if (this.state === 'replicate') return this.inflights.full();
    return true;
  }

  toStatus(): ProgressStatus {
    return {
      match: this.match,
      next: this.next,
      state: this.state,
      isLearner: this.isLearner,
      recentActive: this.recentActive,
      inflightMessageCount: this.inflights.count(),
      pendingSnapshotIndex: this.pendingSnapshotIndex,
    };
  }
}
