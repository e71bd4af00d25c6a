/**
 * The follower's role: its step function, and what any role does with a message from
 * the current leader (append, heartbeat, snapshot).
 */
import { assert } from './errors.js';
import { onReadIndexResponse } from './follower-reads.js';
import type { Raft } from './raft.js';
import { onEntriesAppended, setConfState } from './raft-membership.js';
import type { Message, Snapshot } from './types.js';

export function stepFollower(raft: Raft, message: Message): void {
  switch (message.type) {
    case 'MsgApp':
    case 'MsgHeartbeat':
    case 'MsgSnap':
      raft.electionElapsedTicks = 0;
      raft.leaderId = message.from;
      onMessageFromLeader(raft, message);
      return;
    case 'MsgReadIndexResp':
      onReadIndexResponse(raft, message);
      return;
    case 'MsgReadIndex':
      // The sender takes us for the leader of this term; we are not: refuse at once.
      raft.send({ type: 'MsgReadIndexResp', to: message.from, context: message.context, reject: true });
      return;
    case 'MsgTimeoutNow':
      raft.emit('timeout-now', { from: message.from });
      raft.hup(true);
      return;
    default:
      return;
  }
}

export function onMessageFromLeader(raft: Raft, message: Message): void {
  if (message.type === 'MsgApp') handleAppendEntries(raft, message);
  else if (message.type === 'MsgHeartbeat') handleHeartbeat(raft, message);
  else handleSnapshot(raft, message);
}

function handleAppendEntries(raft: Raft, message: Message): void {
  if (message.index < raft.log.committed) {
    raft.send({ type: 'MsgAppResp', to: message.from, index: raft.log.committed });
    return;
  }
  const result = raft.log.maybeAppend(message.index, message.logTerm, message.commit, message.entries);
  if (result !== undefined) {
    onEntriesAppended(raft, result.appended);
    raft.send({ type: 'MsgAppResp', to: message.from, index: result.lastNewIndex });
    return;
  }
  const hint = raft.log.findConflictByTerm(Math.min(message.index, raft.log.lastIndex()), message.logTerm);
  raft.send({
    type: 'MsgAppResp',
    to: message.from,
    index: message.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
  });
}

function handleHeartbeat(raft: Raft, message: Message): void {
  raft.log.commitTo(Math.min(message.commit, raft.log.lastIndex()));
  raft.send({ type: 'MsgHeartbeatResp', to: message.from, context: message.context, index: message.index });
}

function handleSnapshot(raft: Raft, message: Message): void {
  const snapshot = message.snapshot;
  if (snapshot === undefined) return;
  if (restore(raft, snapshot)) {
    raft.emit('restored-snapshot', { index: snapshot.metadata.index, snapshotTerm: snapshot.metadata.term });
    raft.send({ type: 'MsgAppResp', to: message.from, index: raft.log.lastIndex() });
  } else {
    raft.send({ type: 'MsgAppResp', to: message.from, index: raft.log.committed });
  }
}

/** Resets the log to `snapshot` unless it is old news. */
function restore(raft: Raft, snapshot: Snapshot): boolean {
  const { index, term } = snapshot.metadata;
  if (index <= raft.log.committed) return false;
  assert(raft.role === 'follower', `restoring a snapshot as ${raft.role}`);
  if (raft.log.matchTerm(index, term)) {
    // We already have the snapshot's last entry: just learn that it is committed.
    raft.log.commitTo(index);
    return false;
  }
  raft.confHistory.restore(index, snapshot.metadata.confState, raft.log.committed);
  raft.log.restore(snapshot);
  setConfState(raft, raft.confHistory.latest());
  return true;
}
