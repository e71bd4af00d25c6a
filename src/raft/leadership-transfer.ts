/**
 * Handing leadership to another voter: on request (transferLeadership), as a graceful
 * step-down to the most caught-up voter, and after the leader's own removal commits.
 * The transferee gets MsgTimeoutNow once its log matches ours, and campaigns at once.
 */
import { RaftError, assert } from './errors.js';
import type { Raft } from './raft.js';
import { broadcastAppend, sendAppend } from './raft-replication.js';
import type { NodeId } from './types.js';

export function transferLeadership(raft: Raft, to: NodeId): void {
  raft.requireLeader('transferLeadership');
  if (to === raft.id) throw new RaftError('TRANSFER_INVALID', `${to} is already the leader`);
  if (!raft.confState.voters.includes(to)) throw new RaftError('TRANSFER_INVALID', `${to} is not a voter`);
  if (raft.leadTransferee === to) return;
  abortLeaderTransfer(raft);
  raft.electionElapsed = 0;
  raft.leadTransferee = to;
  raft.emit('leader-transfer-started', { to });
  const progress = raft.progress.get(to);
  assert(progress !== undefined, `a voter ${to} has progress`);
  if (progress.match === raft.log.lastIndex()) sendTimeoutNow(raft, to);
  else sendAppend(raft, to);
}

/** Graceful step-down: hand leadership to the most caught-up voter. Returns it. */
export function stepDown(raft: Raft): NodeId {
  raft.requireLeader('stepDown');
  const successor = bestCaughtUpVoter(raft);
  if (successor === undefined) throw new RaftError('TRANSFER_INVALID', 'no other voter to hand leadership to');
  transferLeadership(raft, successor);
  return successor;
}

/** Raft dissertation §4.2.2: a leader removed from the cluster steps down once the change commits. */
export function stepDownAfterRemoval(raft: Raft): void {
  broadcastAppend(raft);
  // Hand over at once to a voter that has our whole log, so it can win without waiting.
  const best = bestCaughtUpVoter(raft);
  const successor = best !== undefined && raft.progress.get(best)?.match === raft.log.lastIndex() ? best : undefined;
  if (successor !== undefined) sendTimeoutNow(raft, successor);
  raft.emit('stepped-down-after-removal', { successor: successor ?? '' });
  raft.becomeFollower(raft.term, '');
}

/** The voter other than the leader with the highest match index (the first in voter order on a tie). */
function bestCaughtUpVoter(raft: Raft): NodeId | undefined {
  let best: NodeId | undefined;
  let bestMatch = -1;
  for (const id of raft.confState.voters) {
    const match = raft.progress.get(id)?.match ?? 0;
    if (id !== raft.id && match > bestMatch) {
      best = id;
      bestMatch = match;
    }
  }
  return best;
}

export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.timeoutNowSentThisTerm = true;
  raft.send({ type: 'MsgTimeoutNow', to });
}

export function abortLeaderTransfer(raft: Raft): void {
  if (raft.leadTransferee !== '') raft.emit('leader-transfer-aborted', { to: raft.leadTransferee });
  raft.leadTransferee = '';
}
