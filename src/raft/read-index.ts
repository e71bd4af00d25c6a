/**
 * ReadIndex bookkeeping on the leader (Raft dissertation §6.4): reads waiting for the
 * leader's first commit of its term, and reads waiting for a quorum to confirm a
 * heartbeat round that carried their context. Bounded by pendingReadCountMax in total.
 * A read is the leader's own or a follower's (MsgReadIndex): `requester` says whose.
 */
import { voteResult } from './quorum.js';
import type { NodeId, ReadState } from './types.js';

/** A read asked of the leader: its context, and the node to answer (the leader itself or a follower). */
export interface ReadRequest {
  readonly context: Uint8Array;
  readonly requester: NodeId;
}

/** A confirmed read: answer `requester` with `index`. */
interface ConfirmedRead extends ReadState {
  readonly requester: NodeId;
}

interface PendingRead {
  readonly context: Uint8Array;
  readonly requester: NodeId;
  /** The leader's commit index when the read arrived: the answer once confirmed. */
  readonly index: number;
  readonly acks: Map<NodeId, boolean>;
  /** Counts reads in arrival order: a round is in flight while its newest read is unconfirmed. */
  readonly sequence: number;
}

export class ReadIndexQueue {
  #pending: PendingRead[] = [];
  #awaitingTermCommit: ReadRequest[] = [];
  #lastSequence = 0;
  /** Reads up to this sequence are confirmed or failed. */
  #settledSequence = 0;
  /** The newest read the last heartbeat round carried, and its context (the round's). */
  #roundSequence = 0;
  #roundContext: Uint8Array = new Uint8Array(0);
  /** The nodes the last round asked (a hedge asks the others: notAsked). */
  #roundAsked = new Set<NodeId>();
  /** Per node, the newest round it acknowledged while that round was still unconfirmed: whom the next round asks (askFirst). */
  #answeredRound = new Map<NodeId, number>();

  size(): number {
    return this.#pending.length + this.#awaitingTermCommit.length;
  }

  /** A read that must wait until the leader has committed an entry of its own term. */
  deferUntilTermCommit(read: ReadRequest): void {
    this.#awaitingTermCommit.push(read);
  }

  /** The deferred reads, now that an entry of the term is committed; the queue forgets them. */
  takeDeferred(): ReadRequest[] {
    const deferred = this.#awaitingTermCommit;
    this.#awaitingTermCommit = [];
    return deferred;
  }

  /** Queues `read` for the next heartbeat round; once confirmed it is answered with `commitIndex`. */
  add(read: ReadRequest, commitIndex: number): void {
    this.#lastSequence += 1;
    this.#pending.push({ context: read.context, requester: read.requester, index: commitIndex, acks: new Map(), sequence: this.#lastSequence });
  }

  /** A heartbeat round starts now, carrying the newest pending context (returned; undefined when none is pending). */
  startRound(): Uint8Array | undefined {
    const newest = this.#pending[this.#pending.length - 1];
    if (newest !== undefined) {
      this.#roundSequence = newest.sequence;
      this.#roundContext = newest.context;
    }
    this.#roundAsked.clear();
    return newest?.context;
  }

  /** The round just started asks `id`. */
  asked(id: NodeId): void {
    this.#roundAsked.add(id);
  }

  /** `candidates` the last round did not ask: whom a hedge of it asks. */
  notAsked(candidates: readonly NodeId[]): NodeId[] {
    return candidates.filter((id) => !this.#roundAsked.has(id));
  }

  /** The number that names the last round (its newest read's), and that read's context, which the round carries. */
  roundSequence(): number {
    return this.#roundSequence;
  }

  roundContext(): Uint8Array {
    return this.#roundContext;
  }

  /** Whether the last round's newest read is still unconfirmed: reads arriving now wait for the round after it. */
  roundInFlight(): boolean {
    return this.#roundSequence > this.#settledSequence;
  }

  isPending(context: Uint8Array): boolean {
    return this.#pending.some((read) => read.context === context);
  }

  /**
   * `from` acknowledged the heartbeat round of `context`. Once a quorum of `voters` has,
   * that read and every read queued before it are confirmed (their rounds came earlier).
   */
  acknowledge(from: NodeId, context: Uint8Array, voters: readonly NodeId[]): ConfirmedRead[] {
    const position = this.#pending.findIndex((read) => bytesEqual(read.context, context));
    const read = this.#pending[position];
    if (read === undefined) return [];
    read.acks.set(from, true);
    if ((this.#answeredRound.get(from) ?? 0) < read.sequence) this.#answeredRound.set(from, read.sequence);
    if (voteResult(voters, read.acks) !== 'won') return [];
    this.#settledSequence = read.sequence;
    return this.#pending.splice(0, position + 1).map((done) => ({ context: done.context, index: done.index, requester: done.requester }));
  }

  /**
   * `candidates` ordered by who answered rounds lately: a node that helped confirm a newer
   * round first, a node never heard from (or heard from only after its round was
   * confirmed) last, ties in the given order. A read round asks only the first few.
   */
  askFirst(candidates: readonly NodeId[]): NodeId[] {
    const answered = (id: NodeId): number => this.#answeredRound.get(id) ?? 0;
    return candidates
      .map((id, position) => ({ id, position }))
      .sort((left, right) => answered(right.id) - answered(left.id) || left.position - right.position)
      .map(({ id }) => id);
  }

  /** Leadership is lost: every waiting read fails; returns them. */
  failAll(): ReadRequest[] {
    const failed: ReadRequest[] = [...this.#pending, ...this.#awaitingTermCommit];
    this.#settledSequence = this.#lastSequence;
    this.#pending = [];
    this.#awaitingTermCommit = [];
    this.#answeredRound.clear();
    return failed;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
