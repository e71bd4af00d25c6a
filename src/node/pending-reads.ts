/**
 * Linearizable reads waiting for a read index, batched into ReadIndex rounds as etcd's
 * server batches them. A round is one call of the core's readIndexAnywhere with a fresh
 * context: on the leader one heartbeat round, on a follower one MsgReadIndex to the leader.
 * This node keeps at most one round of its own in flight; reads that arrive meanwhile join
 * the next round, which starts as soon as the one in flight ends. When a round is answered
 * with index I, every read of that round waits for apply >= I (the caller does) and
 * proceeds; when it fails, every read of that round fails. Each read keeps its own timeout,
 * and the table is bounded in reads (countMax), waiting or in flight.
 *
 * Why a read never joins the round in flight: the read must see every write acknowledged
 * before it arrived. A round's answer is the leader's commit index when the round reached
 * the leader, confirmed by a quorum after that. A round started after the read arrived
 * reached the leader after every write acknowledged before the read, so its index covers
 * them; a round already in flight may have taken its index before such a write committed,
 * and a read answered by it would miss the write (a stale read).
 *
 * A round unanswered for retryMs (a lost MsgReadIndex or answer: the core never reports
 * those) is abandoned and its reads go into a new round with the reads waiting, so one lost
 * message cannot hold up every read behind it; a round whose reads all timed out is
 * abandoned at once. An abandoned round's late answer is ignored.
 *
 * The contexts must not repeat across restarts: a follower's read is answered by the
 * leader by context, and the leader may still hold a read the node asked for before it
 * restarted; with a bare counter the restarted node would take that older (lower) read
 * index for its new read and read stale data (the simulator found it, seed 5408).
 */
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

interface Read {
  readonly resolve: (index: number) => void;
  readonly reject: (error: Error) => void;
  timer: ScheduledTimer | undefined;
}

interface Round {
  readonly key: string;
  readonly reads: Set<Read>;
  /** The round was asked of the leader (this node was not it when the round started). */
  viaLeader: boolean;
  retryTimer: ScheduledTimer | undefined;
}

/**
 * Asks the core for a read index for `context` (readIndexAnywhere) and wakes the Ready
 * loop; returns whether the leader is asked (this node is not it). Throws a ServiceError
 * when the core refuses.
 */
type ReadIndexRequester = (context: Uint8Array) => boolean;

interface PendingReadBounds {
  /** Reads waiting or in flight, at most. */
  readonly countMax: number;
  /** A round unanswered this long is asked again with a fresh context. */
  readonly retryMs: number;
}

function encodeReadContext(originMs: number, sequence: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, originMs);
  view.setFloat64(8, sequence);
  return bytes;
}

function contextKey(context: Uint8Array): string {
  return Buffer.from(context.buffer, context.byteOffset, context.byteLength).toString('hex');
}

/**
 * A round asked of the leader that the leader did not confirm: its leader changed (or it
 * began a campaign) or the leader refused it. Not a redirect: this node can serve the read
 * again once it knows the new leader.
 */
function forwardedReadFailure(error: Error): Error {
  if (error instanceof ServiceError && (error.code === 'NOT_LEADER' || error.code === 'NO_LEADER')) {
    return new ServiceError('UNAVAILABLE', 'linearizable read not confirmed: the leader changed or refused it before confirming (retry)', { cause: error });
  }
  return error;
}

export class PendingReads {
  readonly #bounds: PendingReadBounds;
  readonly #scheduler: Scheduler;
  readonly #requestReadIndex: ReadIndexRequester;
  #inFlight: Round | undefined;
  /** Reads that arrived after the round in flight started: they go in the next one. */
  #next = new Set<Read>();
  #sequence = 0;
  /** The wall clock when this node's process made the table: a restarted node's contexts differ from its earlier ones. */
  readonly #originMs: number;
  #readCount = 0;
  #roundCount = 0;

  constructor(bounds: PendingReadBounds, scheduler: Scheduler, requestReadIndex: ReadIndexRequester) {
    assert(Number.isInteger(bounds.countMax) && bounds.countMax >= 1, `countMax must be >= 1, got ${bounds.countMax}`);
    assert(Number.isFinite(bounds.retryMs) && bounds.retryMs > 0, `retryMs must be > 0, got ${bounds.retryMs}`);
    this.#bounds = bounds;
    this.#scheduler = scheduler;
    this.#requestReadIndex = requestReadIndex;
    this.#originMs = scheduler.nowMs();
  }

  /** Reads waiting or in flight. */
  get count(): number {
    return this.#next.size + (this.#inFlight?.reads.size ?? 0);
  }

  /** Reads this node took, and the ReadIndex rounds it started for them (retries included). */
  get counts(): { readonly readCount: number; readonly roundCount: number } {
    return { readCount: this.#readCount, roundCount: this.#roundCount };
  }

  /**
   * Registers a read and resolves with the index to wait for, once a round that started
   * after this call is answered. UNAVAILABLE at once at the bound; TIMEOUT after `timeoutMs`.
   */
  join(timeoutMs: number): Promise<number> {
    if (this.count >= this.#bounds.countMax) {
      return Promise.reject(new ServiceError('UNAVAILABLE', `too many linearizable reads in flight (${this.#bounds.countMax})`));
    }
    this.#readCount += 1;
    const index = new Promise<number>((resolve, reject) => {
      const read: Read = { resolve, reject, timer: undefined };
      read.timer = this.#scheduler.setTimeout(() => this.#timedOut(read, timeoutMs), timeoutMs);
      this.#next.add(read);
    });
    if (this.#inFlight === undefined) this.#startRound();
    return index;
  }

  /** The core confirmed the round of `context` at `index`. Unknown contexts (abandoned rounds) are ignored. */
  confirmed(context: Uint8Array, index: number): void {
    const round = this.#takeInFlight(context);
    if (round === undefined) return;
    for (const read of round.reads) settle(read).resolve(index);
    this.#startRound();
  }

  /** The core reports the round of `context` failed: its reads fail; the reads waiting start the next round. */
  failed(context: Uint8Array, error: Error): void {
    const round = this.#takeInFlight(context);
    if (round === undefined) return;
    failRound(round, error);
    this.#startRound();
  }

  /** Leadership lost or the node stops: every read fails, in flight or waiting. */
  failAll(error: Error): void {
    const round = this.#inFlight;
    this.#inFlight = undefined;
    const waiting = this.#next;
    this.#next = new Set();
    if (round !== undefined) {
      round.retryTimer?.cancel();
      failRound(round, error);
    }
    for (const read of waiting) settle(read).reject(error);
  }

  /** Starts a round for every read waiting, if any; the round in flight has ended. */
  #startRound(): void {
    assert(this.#inFlight === undefined, 'a read round is already in flight');
    if (this.#next.size === 0) return;
    const reads = this.#next;
    this.#next = new Set();
    this.#sequence += 1;
    this.#roundCount += 1;
    const context = encodeReadContext(this.#originMs, this.#sequence);
    const round: Round = { key: contextKey(context), reads, viaLeader: false, retryTimer: undefined };
    this.#inFlight = round;
    try {
      round.viaLeader = this.#requestReadIndex(context);
    } catch (error) {
      this.#inFlight = undefined;
      // Refused at the call (no leader known, the core's queue full, stopping): as each read would have been.
      for (const read of reads) settle(read).reject(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    round.retryTimer = this.#scheduler.setTimeout(() => this.#abandon(round), this.#bounds.retryMs);
  }

  /** The round in flight, if it is the one of `context`, taken out of flight. */
  #takeInFlight(context: Uint8Array): Round | undefined {
    const round = this.#inFlight;
    if (round === undefined || round.key !== contextKey(context)) return undefined;
    this.#inFlight = undefined;
    round.retryTimer?.cancel();
    return round;
  }

  /**
   * Gives up on the round in flight: its reads (if any are left) join the reads waiting,
   * and a new round starts for them all. It starts after every one of them arrived, so it
   * may answer them all.
   */
  #abandon(round: Round): void {
    if (this.#inFlight !== round) return;
    this.#inFlight = undefined;
    round.retryTimer?.cancel();
    this.#next = new Set([...round.reads, ...this.#next]);
    this.#startRound();
  }

  #timedOut(read: Read, timeoutMs: number): void {
    read.timer = undefined;
    const round = this.#inFlight;
    if (round?.reads.delete(read) === true) {
      if (round.reads.size === 0) this.#abandon(round);
    } else {
      this.#next.delete(read);
    }
    read.reject(new ServiceError('TIMEOUT', `linearizable read not confirmed within ${timeoutMs}ms`));
  }
}

/** Cancels the read's timeout; returns it to be resolved or rejected. */
function settle(read: Read): Read {
  read.timer?.cancel();
  read.timer = undefined;
  return read;
}

function failRound(round: Round, error: Error): void {
  const translated = round.viaLeader ? forwardedReadFailure(error) : error;
  for (const read of round.reads) settle(read).reject(translated);
}
