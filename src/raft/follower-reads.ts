/**
 * Linearizable reads on a follower or learner (Raft dissertation §6.4, etcd's
 * MsgReadIndex): the node asks the leader for a read index, the leader confirms its
 * leadership with a quorum as for its own reads and answers with MsgReadIndexResp, and
 * the runtime reads locally once it has applied that index. The node remembers which
 * reads it forwarded: they fail when that leader's term is over here (a new term, a
 * campaign) or when the leader refuses one. A lost request or answer is left to the
 * runtime's timeout; the list keeps at most pendingReadCountMax reads, so reads the
 * runtime gave up on cannot pile up while the leader stays: past the bound the oldest is
 * dropped (reported failed).
 */
import { RaftError } from './errors.js';
import { readIndex, requireReadContext } from './leader-reads.js';
import type { Raft } from './raft.js';
import { bytesEqual } from './read-index.js';
import type { Message } from './types.js';

/** Reads sent to the leader and not yet answered, oldest first (answers come in order). */
export class ForwardedReads {
  #contexts: Uint8Array[] = [];

  size(): number {
    return this.#contexts.length;
  }

  /** Adds `context`; past `countMax` drops the oldest and returns it. */
  add(context: Uint8Array, countMax: number): Uint8Array | undefined {
    this.#contexts.push(context);
    return this.#contexts.length > countMax ? this.#contexts.shift() : undefined;
  }

  /** Forgets `context` and returns it as stored, or undefined if it is not waiting (failed, or never sent). */
  take(context: Uint8Array): Uint8Array | undefined {
    const position = this.#contexts.findIndex((waiting) => bytesEqual(waiting, context));
    if (position < 0) return undefined;
    const [taken] = this.#contexts.splice(position, 1);
    return taken;
  }

  takeAll(): Uint8Array[] {
    const all = this.#contexts;
    this.#contexts = [];
    return all;
  }
}

/**
 * A read point from any node: the leader serves it itself (readIndex); a follower or
 * learner asks the leader it knows. Throws NOT_LEADER (leaderId '') when no leader is
 * known, INVALID_ARGUMENT for an empty context (and READ_QUEUE_FULL on the leader).
 */
export function readIndexAnywhere(raft: Raft, context: Uint8Array): void {
  if (raft.role === 'leader') {
    readIndex(raft, context);
    return;
  }
  requireReadContext(context);
  if (raft.role !== 'follower' || raft.leaderId === '') {
    throw new RaftError('NOT_LEADER', `readIndex: ${raft.id} knows no leader to ask`, { leaderId: '' });
  }
  const dropped = raft.forwardedReads.add(context, raft.config.pendingReadCountMax);
  if (dropped !== undefined) raft.failedReads.push(dropped);
  raft.send({ type: 'MsgReadIndex', to: raft.leaderId, context });
}

/** The leader's answer to a forwarded read: a read state, or a failure when it refused. */
export function onReadIndexResponse(raft: Raft, message: Message): void {
  if (message.from !== raft.leaderId) return;
  const context = raft.forwardedReads.take(message.context);
  if (context === undefined) return;
  if (message.reject) raft.failedReads.push(context);
  else raft.readStates.push({ context, index: message.index });
}

/** The leader the reads were sent to is no longer ours: they fail. */
export function failForwardedReads(raft: Raft): void {
  for (const context of raft.forwardedReads.takeAll()) raft.failedReads.push(context);
}
