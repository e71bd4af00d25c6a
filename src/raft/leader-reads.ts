/**
 * Linearizable reads on the leader (Raft §6.4): ReadIndex confirmed by a heartbeat round,
 * or, with readOnly 'lease', answered at once while the leader's lease holds. A read is
 * the leader's own (readIndex) or a follower's (MsgReadIndex, answered with
 * MsgReadIndexResp once confirmed; see follower-reads.ts).
 */
import { RaftError } from './errors.js';
import { hasQuorum } from './quorum.js';
import type { Raft } from './raft.js';
import type { ReadRequest } from './read-index.js';
import type { Message, NodeId } from './types.js';

export function readIndex(raft: Raft, context: Uint8Array): void {
  raft.requireLeader('readIndex');
  requireReadContext(context);
  if (leaderReadQueueFull(raft)) {
    throw new RaftError('READ_QUEUE_FULL', `pendingReadCountMax (${raft.config.pendingReadCountMax}) reads are pending`);
  }
  requestRead(raft, { context, requester: raft.id });
}

export function requireReadContext(context: Uint8Array): void {
  if (!(context instanceof Uint8Array) || context.length === 0) {
    throw new RaftError('INVALID_ARGUMENT', 'a read context must be a non-empty Uint8Array');
  }
}

function leaderReadQueueFull(raft: Raft): boolean {
  return raft.reads.size() + raft.readStates.length >= raft.config.pendingReadCountMax;
}

/** A follower's MsgReadIndex: served like the leader's own, refused at once when the queue is full. */
export function onReadIndexRequest(raft: Raft, message: Message): void {
  if (message.context.length === 0) return;
  if (leaderReadQueueFull(raft)) {
    raft.send({ type: 'MsgReadIndexResp', to: message.from, context: message.context, reject: true });
    return;
  }
  requestRead(raft, { context: message.context, requester: message.from });
}

function requestRead(raft: Raft, read: ReadRequest): void {
  if (raft.log.term(raft.log.committed) !== raft.term) {
    // Raft §6.4: a new leader learns the commit index only by committing an entry of its term.
    raft.reads.deferUntilTermCommit(read);
    return;
  }
  serveRead(raft, read);
}

export function serveRead(raft: Raft, read: ReadRequest): void {
  if (raft.config.readOnly === 'lease' && leaseValid(raft)) {
    answerRead(raft, read, raft.log.committed);
    return;
  }
  raft.reads.add(read, raft.log.committed);
  onReadAck(raft, raft.id, read.context);
  // Confirmed by the next heartbeat round, which a Ready turn starts (flushReadRound) for
  // every read that arrived since the last, once no round is in flight: reads arriving
  // together share one round. Answering a read needs a round that started after it
  // arrived: the round in flight carries an older context, and its acknowledgements
  // confirm only reads up to that one.
  if (raft.reads.isPending(read.context)) raft.readRoundToSend = true;
}

function answerRead(raft: Raft, read: ReadRequest, index: number): void {
  if (read.requester === raft.id) raft.readStates.push({ context: read.context, index });
  else raft.send({ type: 'MsgReadIndexResp', to: read.requester, context: read.context, index });
}

/** `from` confirmed our leadership for the read `context` (and all reads before it). */
export function onReadAck(raft: Raft, from: NodeId, context: Uint8Array): void {
  for (const read of raft.reads.acknowledge(from, context, raft.confState.voters)) answerRead(raft, read, read.index);
}

/**
 * Leadership was lost: every pending read fails. The runtime finds its own in
 * Ready.failedReads. A follower's is dropped: the term may already have moved (a refusal
 * would carry the new term to the follower without a leader), and the follower fails its
 * forwarded reads itself when it learns of the new term or starts a campaign.
 */
export function failPendingReads(raft: Raft): void {
  for (const read of raft.reads.failAll()) if (read.requester === raft.id) raft.failedReads.push(read.context);
}

/**
 * Whether a quorum of voters acknowledged a heartbeat sent within the last
 * electionTicks - leaseDriftTicks ticks: until then none of them votes for anyone else
 * (leader stickiness), so no other leader can exist.
 */
function leaseValid(raft: Raft): boolean {
  if (raft.timeoutNowSentThisTerm || raft.leadTransferee !== '') return false;
  const oldestValidTick = raft.tickCount - (raft.config.electionTicks - raft.config.leaseDriftTicks);
  return hasQuorum(raft.confState.voters, (id) => id === raft.id || (raft.progress.get(id)?.leaseAckTick ?? Number.NEGATIVE_INFINITY) > oldestValidTick);
}
