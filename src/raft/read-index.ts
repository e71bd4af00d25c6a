/**
 * ReadIndex bookkeeping on the leader (Raft dissertation §6.4): reads waiting for the
 * leader's first commit of its term, and reads waiting for a quorum to confirm a
 * heartbeat round that carried their context. Bounded by pendingReadCountMax in total.
 */
import { voteResult } from './quorum.js';
import type { NodeId, ReadState } from './types.js';

interface PendingRead {
  readonly context: Uint8Array;
  /** The leader's commit index when the read arrived: the answer once confirmed. */
  readonly index: number;
  readonly acks: Map<NodeId, boolean>;
}

export class ReadIndexQueue {
  #pending: PendingRead[] = [];
  #awaitingTermCommit: Uint8Array[] = [];

  size(): number {
    return this.#pending.length + this.#awaitingTermCommit.length;
  }

  /** A read that must wait until the leader has committed an entry of its own term. */
  deferUntilTermCommit(context: Uint8Array): void {
    this.#awaitingTermCommit.push(context);
  }

  /** The deferred reads, now that an entry of the term is committed; the queue forgets them. */
  takeDeferred(): Uint8Array[] {
    const deferred = this.#awaitingTermCommit;
    this.#awaitingTermCommit = [];
    return deferred;
  }

  /** Starts a heartbeat round for `context`, answered with `commitIndex` once confirmed. */
  add(context: Uint8Array, commitIndex: number): void {
    this.#pending.push({ context, index: commitIndex, acks: new Map() });
  }

  isPending(context: Uint8Array): boolean {
    return this.#pending.some((read) => read.context === context);
  }

  /** The newest pending context, carried by every heartbeat so lost rounds are retried. */
  newestContext(): Uint8Array | undefined {
    return this.#pending[this.#pending.length - 1]?.context;
  }

  /**
   * `from` acknowledged the heartbeat round of `context`. Once a quorum of `voters` has,
   * that read and every read queued before it are confirmed (their rounds came earlier).
   */
  acknowledge(from: NodeId, context: Uint8Array, voters: readonly NodeId[]): ReadState[] {
    const position = this.#pending.findIndex((read) => bytesEqual(read.context, context));
    const read = this.#pending[position];
    if (read === undefined) return [];
    read.acks.set(from, true);
    if (voteResult(voters, read.acks) !== 'won') return [];
    return this.#pending.splice(0, position + 1).map((done) => ({ context: done.context, index: done.index }));
  }

  /** Leadership is lost: every waiting read fails; returns their contexts. */
  failAll(): Uint8Array[] {
    const failed = [...this.#pending.map((read) => read.context), ...this.#awaitingTermCommit];
    this.#pending = [];
    this.#awaitingTermCommit = [];
    return failed;
  }
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
