/**
 * step(): every message enters here. Malformed and foreign messages are dropped, terms
 * are reconciled (Raft §5.1), vote requests are answered whatever the role, and the
 * rest goes to the role's step function.
 */
import { bytesEqual } from './read-index.js';
import { isWellFormed } from './message-shape.js';
import type { Raft } from './raft.js';
import { campaignTransferContext, onVoteRequest, stepCandidate } from './raft-election.js';
import { stepFollower } from './raft-follower.js';
import { stepLeader } from './raft-leader.js';
import type { Message } from './types.js';

export function step(raft: Raft, message: Message): void {
  if (!isWellFormed(message)) {
    raft.emit('ignored-malformed-message', {});
    return;
  }
  if (message.to !== raft.id || message.from === raft.id) {
    raft.emit('ignored-foreign-message', { from: message.from, to: message.to });
    return;
  }
  if (message.term > raft.term) {
    if (!onHigherTerm(raft, message)) return;
  } else if (message.term < raft.term) {
    onLowerTerm(raft, message);
    return;
  }
  if (message.type === 'MsgVote' || message.type === 'MsgPreVote') {
    onVoteRequest(raft, message);
    return;
  }
  if (raft.role === 'leader') stepLeader(raft, message);
  else if (raft.role === 'follower') stepFollower(raft, message);
  else stepCandidate(raft, message);
}

/** Returns whether the message should be processed further. */
function onHigherTerm(raft: Raft, message: Message): boolean {
  const isVoteRequest = message.type === 'MsgVote' || message.type === 'MsgPreVote';
  if (isVoteRequest) {
    const forced = bytesEqual(message.context, campaignTransferContext);
    if (!forced && inLeaderLease(raft)) {
      raft.emit('ignored-vote-in-lease', { from: message.from, type: message.type });
      return false;
    }
  }
  // A pre-vote never changes terms; a granted pre-vote answer carries the term we will campaign at.
  if (message.type === 'MsgPreVote') return true;
  if (message.type === 'MsgPreVoteResp' && !message.reject) return true;
  const fromLeader = message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap';
  // Raft §5.2: only a leader's message or a granted vote restarts the election timer.
  // Keeping it on a vote request lets an up-to-date node still time out and win while
  // a behind candidate keeps raising terms (sim note N1).
  const electionElapsedTicks = raft.electionElapsedTicks;
  raft.becomeFollower(message.term, fromLeader ? message.from : '');
  if (message.type === 'MsgVote') raft.electionElapsedTicks = electionElapsedTicks;
  return true;
}

/**
 * Leader stickiness: while we heard from a leader within the election timeout we do not
 * help elect another. With leases, a node that just started counts as having heard from
 * one: it may have acknowledged a leader's heartbeat right before it crashed, and that
 * leader's lease relies on us not voting for an election timeout after that.
 */
function inLeaderLease(raft: Raft): boolean {
  if (!raft.config.checkQuorum) return false;
  const electionTicks = raft.config.electionTicks;
  if (raft.leaderId !== '' && raft.electionElapsedTicks < electionTicks) return true;
  return raft.config.readOnly === 'lease' && raft.tickCount < electionTicks;
}

function onLowerTerm(raft: Raft, message: Message): void {
  const fromStaleLeader = message.type === 'MsgApp' || message.type === 'MsgHeartbeat';
  if (fromStaleLeader && (raft.config.checkQuorum || raft.config.preVote)) {
    // Tell the stale leader about our term, or it could never learn it (we ignore its
    // messages and, with pre-vote, nobody bumps terms to reach it).
    raft.send({ type: 'MsgAppResp', to: message.from });
  } else if (message.type === 'MsgPreVote' || message.type === 'MsgVote') {
    // Refuse with our term, so a candidate stuck below it learns the term (sim note N1).
    raft.send({ type: message.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp', to: message.from, reject: true });
  }
}
