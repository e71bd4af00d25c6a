/**
 * Linearizable reads on the leader (Raft §6.4): ReadIndex confirmed by a heartbeat round,
 * or, with readOnly 'lease', answered at once while the leader's lease holds.
 */
import { RaftError } from './errors.js';
import { hasQuorum } from './quorum.js';
import type { Raft } from './raft.js';
import { broadcastHeartbeatWithContext } from './raft-replication.js';
import type { NodeId } from './types.js';

export function readIndex(raft: Raft, context: Uint8Array): void {
  raft.requireLeader('readIndex');
  if (!(context instanceof Uint8Array) || context.length === 0) {
    throw new RaftError('INVALID_ARGUMENT', 'a read context must be a non-empty Uint8Array');
  }
  if (raft.reads.size() + raft.readStates.length >= raft.config.pendingReadCountMax) {
    throw new RaftError('READ_QUEUE_FULL', `pendingReadCountMax (${raft.config.pendingReadCountMax}) reads are pending`);
  }
  if (raft.log.term(raft.log.committed) !== raft.term) {
    // Raft §6.4: a new leader learns the commit index only by committing an entry of its term.
    raft.reads.deferUntilTermCommit(context);
    return;
  }
  serveRead(raft, context);
}

export function serveRead(raft: Raft, context: Uint8Array): void {
  if (raft.config.readOnly === 'lease' && leaseValid(raft)) {
    raft.readStates.push({ context, index: raft.log.committed });
    return;
  }
  raft.reads.add(context, raft.log.committed);
  onReadAck(raft, raft.id, context);
  if (raft.reads.isPending(context)) broadcastHeartbeatWithContext(raft, context);
}

/** `from` confirmed our leadership for the read `context` (and all reads before it). */
export function onReadAck(raft: Raft, from: NodeId, context: Uint8Array): void {
  for (const read of raft.reads.acknowledge(from, context, raft.confState.voters)) raft.readStates.push(read);
}

/** Leadership was lost: every pending read fails (the runtime finds them in Ready.failedReads). */
export function failPendingReads(raft: Raft): void {
  for (const context of raft.reads.failAll()) raft.failedReads.push(context);
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
