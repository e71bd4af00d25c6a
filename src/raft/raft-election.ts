/**
 * Elections: the election timer, campaigns (pre-vote first when configured, Raft
 * dissertation §9.6), answering vote requests, and the candidate's step function.
 */
import { emptyBytes } from './message-shape.js';
import { voteResult } from './quorum.js';
import type { Raft } from './raft.js';
import { onMessageFromLeader } from './raft-follower.js';
import { broadcastAppend } from './raft-replication.js';
import type { Message, MessageType, NodeId } from './types.js';

/** The context of a vote caused by leadership transfer: it overrides leader stickiness. */
export const campaignTransferContext: Uint8Array = new TextEncoder().encode('campaign-transfer');

type CampaignKind = 'pre-election' | 'election';

export function tickElection(raft: Raft): void {
  raft.electionElapsedTicks++;
  if (mayCampaign(raft) && raft.electionElapsedTicks >= raft.randomizedElectionTimeoutTicks) {
    raft.electionElapsedTicks = 0;
    hup(raft, false);
  }
}

/** Starts an election (pre-vote first when configured) unless leader or not allowed to (mayCampaign). */
export function hup(raft: Raft, transfer: boolean): void {
  if (raft.role === 'leader') return;
  if (!mayCampaign(raft)) {
    raft.emit('campaign-ignored-not-voter', {});
    return;
  }
  campaign(raft, raft.config.preVote && !transfer ? 'pre-election' : 'election', transfer);
}

/**
 * A voter of its latest configuration may campaign, and so may a voter that configuration
 * removes while the change is not known committed (Raft dissertation §4.2.2; ScyllaDB does
 * the same, and in etcd, where changes count once applied, such a node is still a voter):
 * its log may be the only one holding the change, so it refuses the others' votes, and they
 * may lack a quorum without it (voters {A, R}: R, the leader, appends its removal and loses
 * its term; A needs R's vote, R's log is ahead). It counts votes in its latest configuration,
 * not its own, as a leader being removed counts acknowledgements; once elected it commits
 * the change and steps down (stepDownAfterRemoval). Once the change is committed, a quorum
 * of the new configuration holds it and needs no help (sim finding R4).
 */
function mayCampaign(raft: Raft): boolean {
  if (raft.isVoter()) return true;
  const changeIndex = raft.confHistory.latestIndex();
  if (changeIndex <= raft.log.committed) return false;
  return raft.confHistory.at(changeIndex - 1).voters.includes(raft.id);
}

function campaign(raft: Raft, kind: CampaignKind, transfer: boolean): void {
  let voteTerm: number;
  let type: MessageType;
  if (kind === 'pre-election') {
    raft.becomePreCandidate();
    voteTerm = raft.term + 1;
    type = 'MsgPreVote';
  } else {
    raft.becomeCandidate();
    voteTerm = raft.term;
    type = 'MsgVote';
  }
  if (poll(raft, raft.id, true) === 'won') {
    onElectionWon(raft, kind, transfer);
    return;
  }
  const context = transfer ? campaignTransferContext : emptyBytes;
  for (const id of raft.confState.voters) {
    if (id === raft.id) continue;
    raft.send({ type, to: id, term: voteTerm, index: raft.log.lastIndex(), logTerm: raft.log.lastTerm(), context });
  }
}

function onElectionWon(raft: Raft, kind: CampaignKind, transfer: boolean): void {
  if (kind === 'pre-election') {
    campaign(raft, 'election', transfer);
    return;
  }
  raft.becomeLeader();
  broadcastAppend(raft);
}

function poll(raft: Raft, from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
  if (!raft.votes.has(from)) raft.votes.set(from, granted);
  return voteResult(raft.confState.voters, raft.votes);
}

export function onVoteRequest(raft: Raft, message: Message): void {
  const isPreVote = message.type === 'MsgPreVote';
  const canVote = raft.vote === message.from || (raft.vote === '' && raft.leaderId === '') || (isPreVote && message.term > raft.term);
  const responseType: MessageType = isPreVote ? 'MsgPreVoteResp' : 'MsgVoteResp';
  if (canVote && raft.log.isUpToDate(message.index, message.logTerm)) {
    raft.send({ type: responseType, to: message.from, term: message.term });
    if (!isPreVote) {
      raft.electionElapsedTicks = 0;
      raft.vote = message.from;
    }
  } else {
    raft.send({ type: responseType, to: message.from, reject: true });
  }
}

export function stepCandidate(raft: Raft, message: Message): void {
  const responseType: MessageType = raft.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
  if (message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap') {
    raft.becomeFollower(message.term, message.from);
    onMessageFromLeader(raft, message);
    return;
  }
  if (message.type !== responseType) return;
  const result = poll(raft, message.from, !message.reject);
  if (result === 'won') onElectionWon(raft, raft.role === 'pre-candidate' ? 'pre-election' : 'election', false);
  else if (result === 'lost') raft.becomeFollower(raft.term, '');
}
