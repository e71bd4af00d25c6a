/**
 * The leader's role: its tick (heartbeats, check-quorum), its step function (answers to
 * appends and heartbeats), commitment, and what the runtime reports about followers
 * (unreachable, snapshot outcome, a wiped log) or about the leader's own disk.
 */
import { RaftError } from './errors.js';
import { onReadAck, onReadIndexRequest, serveRead } from './leader-reads.js';
import { abortLeaderTransfer, sendTimeoutNow, stepDownAfterRemoval } from './leadership-transfer.js';
import type { Progress } from './progress.js';
import { hasQuorum, majorityCommitIndex } from './quorum.js';
import type { Raft } from './raft.js';
import { announceCommit, broadcastAppend, broadcastHeartbeat, fillWindow, sendAppend } from './raft-replication.js';
import type { Message, NodeId } from './types.js';

export function tickHeartbeat(raft: Raft): void {
  raft.heartbeatElapsedTicks++;
  raft.electionElapsedTicks++;
  if (raft.electionElapsedTicks >= raft.config.electionTicks) {
    raft.electionElapsedTicks = 0;
    if (raft.config.checkQuorum && !checkQuorumActive(raft)) {
      raft.emit('check-quorum-failed', {});
      raft.becomeFollower(raft.term, '');
      return;
    }
    if (raft.leadTransferee !== '') abortLeaderTransfer(raft);
  }
  if (raft.heartbeatElapsedTicks >= raft.config.heartbeatTicks) {
    raft.heartbeatElapsedTicks = 0;
    broadcastHeartbeat(raft);
  }
  if (raft.commitToAnnounce) broadcastAppend(raft);
}

/** Whether a quorum of voters was heard from since the last check; starts a new round. */
function checkQuorumActive(raft: Raft): boolean {
  const active = hasQuorum(raft.confState.voters, (id) => id === raft.id || raft.progress.get(id)?.recentActive === true);
  for (const [id, progress] of raft.progress) progress.recentActive = id === raft.id;
  return active;
}

export function stepLeader(raft: Raft, message: Message): void {
  const progress = raft.progress.get(message.from);
  if (progress === undefined) return;
  if (message.type === 'MsgAppResp') handleAppendResponse(raft, message, progress);
  else if (message.type === 'MsgHeartbeatResp') handleHeartbeatResponse(raft, message, progress);
  else if (message.type === 'MsgReadIndex') onReadIndexRequest(raft, message);
  else if (message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap') {
    raft.emit('ignored-second-leader', { from: message.from });
  }
}

function handleAppendResponse(raft: Raft, message: Message, progress: Progress): void {
  if (!message.reject && message.index > raft.log.lastIndex()) {
    raft.emit('ignored-append-response-beyond-log', { from: message.from, index: message.index });
    return;
  }
  progress.recentActive = true;
  if (message.reject) handleAppendRejection(raft, message, progress);
  else handleAppendAcceptance(raft, message, progress);
}

function handleAppendRejection(raft: Raft, message: Message, progress: Progress): void {
  let nextProbeIndex = message.rejectHint;
  if (message.logTerm > 0) nextProbeIndex = raft.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
  if (progress.maybeDecreaseTo(message.index, nextProbeIndex)) {
    if (progress.state === 'replicate') progress.becomeProbe();
    sendAppend(raft, message.from);
  }
}

function handleAppendAcceptance(raft: Raft, message: Message, progress: Progress): void {
  const wasPaused = progress.isPaused();
  const updated = progress.maybeUpdate(message.index);
  if (progress.state === 'snapshot' && progress.match + 1 >= raft.log.firstIndex()) {
    // The follower has everything up to our log's start (perhaps it never needed the
    // snapshot, and answered it with its old commit index): replicate from here.
    progress.becomeProbe();
    progress.becomeReplicate();
    if (!updated) sendAppend(raft, message.from);
  }
  if (!updated) return;
  if (progress.state === 'probe') progress.becomeReplicate();
  else if (progress.state === 'replicate') progress.inflights.freeLE(message.index);
  if (maybeCommit(raft)) announceCommit(raft);
  if (wasPaused) sendAppend(raft, message.from);
  fillWindow(raft, message.from);
  if (message.from === raft.leadTransferee && progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft, message.from);
  }
}

function handleHeartbeatResponse(raft: Raft, message: Message, progress: Progress): void {
  progress.recentActive = true;
  progress.probeSent = false;
  progress.leaseAckTick = Math.max(progress.leaseAckTick, message.index);
  if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirstOne();
  // Behind: resend from next. In replicate state this may be an empty MsgApp, which is
  // how a follower that lost appends (its rejection puts it back into probe) recovers.
  if (progress.match < raft.log.lastIndex()) sendAppend(raft, message.from);
  if (message.context.length > 0) onReadAck(raft, message.from, message.context);
}

/** Advances the commit index to what a majority of voters has; true if it moved. */
export function maybeCommit(raft: Raft): boolean {
  if (raft.role !== 'leader') return false;
  const index = majorityCommitIndex(raft.confState.voters, (id) => raft.progress.get(id)?.match ?? 0);
  if (!raft.log.maybeCommit(index, raft.term)) return false;
  onCommitAdvanced(raft);
  return true;
}

function onCommitAdvanced(raft: Raft): void {
  for (const read of raft.reads.takeDeferred()) serveRead(raft, read);
  const removalCommitted = raft.confHistory.latestIndex() <= raft.log.committed && !raft.isVoter();
  if (removalCommitted) stepDownAfterRemoval(raft);
}

/**
 * The runtime persisted entries up to `index` (whose term was `term`): the leader may now
 * count its own copy toward commit. A report whose term the log no longer has at `index`
 * (a new leader overwrote the entries while their save was on the disk) changes nothing.
 */
export function onEntriesPersisted(raft: Raft, index: number, term: number): void {
  if (!raft.log.unstable.stableTo(index, term)) return;
  const self = raft.role === 'leader' ? raft.progress.get(raft.id) : undefined;
  if (self?.maybeUpdate(index) && maybeCommit(raft)) announceCommit(raft);
}

export function forgetFollowerLog(raft: Raft, id: NodeId): void {
  raft.requireLeader('forgetFollowerLog');
  if (id === raft.id) throw new RaftError('INVALID_ARGUMENT', 'the leader cannot forget its own log');
  const progress = raft.progress.get(id);
  if (progress === undefined) throw new RaftError('INVALID_ARGUMENT', `${id} is not a member`);
  progress.forgetMatch(raft.log.lastIndex());
  sendAppend(raft, id);
}

export function reportUnreachable(raft: Raft, id: NodeId): void {
  const progress = raft.role === 'leader' ? raft.progress.get(id) : undefined;
  if (progress?.state === 'replicate') progress.becomeProbe();
}

export function reportSnapshot(raft: Raft, id: NodeId, status: 'finish' | 'failure'): void {
  if (status !== 'finish' && status !== 'failure') {
    throw new RaftError('INVALID_ARGUMENT', `snapshot status must be 'finish' or 'failure', got ${String(status)}`);
  }
  const progress = raft.role === 'leader' ? raft.progress.get(id) : undefined;
  if (progress === undefined || progress.state !== 'snapshot') return;
  if (status === 'failure') progress.pendingSnapshotIndex = 0;
  progress.becomeProbe();
  // Wait for a heartbeat response before probing, as etcd does: the follower may still be applying.
  progress.probeSent = true;
}
