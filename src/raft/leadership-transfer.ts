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
  raft.electionElapsedTicks = 0;
  raft.leadTransferee = to;
  raft.emit('leader-transfer-started', { to });
  const progress = raft.progress.get(to);
  assert(progress !== undefined, `a voter ${to} has progress`);
  if (progress.match === raft.log.lastIndex()) sendTimeoutNow(raft, to);
  else sendAppend(raft, to);
}

/** Graceful step-down: hand leadership to successor(). Returns it. */
export function stepDown(raft: Raft): NodeId {
  raft.requireLeader('stepDown');
  const chosen = successor(raft);
  if (chosen === undefined) throw new RaftError('TRANSFER_INVALID', 'no other voter to hand leadership to');
  transferLeadership(raft, chosen);
  return chosen;
}

/** Raft dissertation §4.2.2: a leader removed from the cluster steps down once the change commits. */
export function stepDownAfterRemoval(raft: Raft): void {
  broadcastAppend(raft);
  // Hand over at once to a voter that has our whole log, so it can win without waiting.
  const best = successor(raft);
  const caughtUp = best !== undefined && raft.progress.get(best)?.match === raft.log.lastIndex() ? best : undefined;
  if (caughtUp !== undefined) sendTimeoutNow(raft, caughtUp);
  raft.emit('stepped-down-after-removal', { successor: caughtUp ?? '' });
  raft.becomeFollower(raft.term, '');
}

/**
 * The one successor policy (step-down, shutdown hand-over, removal): among the other
 * voters, one heard from within the current election timeout first (a silent one may
 * be down, and a transfer to it stalls proposals until the transfer times out), then
 * the one whose log matches ours furthest; ties go to the first in the voter list.
 * Undefined on a non-leader or without another voter.
 */
export function successor(raft: Raft): NodeId | undefined {
  if (raft.role !== 'leader') return undefined;
  let best: { id: NodeId; match: number; active: boolean } | undefined;
  for (const id of raft.confState.voters) {
    const progress = raft.progress.get(id);
    if (id === raft.id || progress === undefined) continue;
    const candidate = { id, match: progress.match, active: progress.recentActive };
    const better = best === undefined || (candidate.active && !best.active) || (candidate.active === best.active && candidate.match > best.match);
    if (better) best = candidate;
  }
  return best?.id;
}

export function sendTimeoutNow(raft: Raft, to: NodeId): void {
  raft.timeoutNowSentThisTerm = true;
  raft.send({ type: 'MsgTimeoutNow', to });
}

export function abortLeaderTransfer(raft: Raft): void {
  if (raft.leadTransferee !== '') raft.emit('leader-transfer-aborted', { to: raft.leadTransferee });
  raft.leadTransferee = '';
}
