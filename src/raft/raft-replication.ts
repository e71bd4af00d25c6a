/**
 * Leader side: what goes to followers. MsgApp within the in-flight window, MsgSnap when
 * a follower needs entries the log has compacted, and heartbeats (which also carry read
 * contexts and lease ticks).
 */
import { assert } from './errors.js';
import { entriesBytes } from './log-unstable.js';
import { emptyBytes } from './message-shape.js';
import type { Progress } from './progress.js';
import { quorumCount } from './quorum.js';
import type { Raft } from './raft.js';
import { RaftStorageError } from './types.js';
import type { NodeId, Snapshot } from './types.js';

export function broadcastAppend(raft: Raft): void {
  raft.appendsToFlush = false;
  raft.commitToAnnounce = false;
  for (const id of raft.progress.keys()) {
    if (id === raft.id) continue;
    sendAppend(raft, id);
    fillWindow(raft, id);
  }
}

/**
 * Proposals do not send at once: RawNode.ready() flushes them, so all proposals made
 * between two Ready turns travel in as few MsgApp as the size limit allows.
 */
export function flushAppends(raft: Raft): void {
  if (raft.appendsToFlush && raft.role === 'leader') broadcastAppend(raft);
  raft.appendsToFlush = false;
}

/**
 * The commit index moved. Followers learn it from the next MsgApp or heartbeat, whichever
 * goes first: with writes in flight the next entries carry it, and an idle leader sends
 * it on its next tick (tickHeartbeat). Announcing each commit at once cost every write
 * an empty MsgApp to each follower and an answer back (bench/README.md).
 */
export function announceCommit(raft: Raft): void {
  raft.commitToAnnounce = true;
}

export function sendAppend(raft: Raft, to: NodeId): void {
  maybeSendAppend(raft, to, true);
}

/** Sends as many MsgApp as the in-flight window allows. */
export function fillWindow(raft: Raft, to: NodeId): void {
  for (let sent = 0; sent < raft.config.inflightMessageCountMax; sent++) {
    if (!maybeSendAppend(raft, to, false)) return;
  }
}

function maybeSendAppend(raft: Raft, to: NodeId, sendIfEmpty: boolean): boolean {
  const progress = raft.progress.get(to);
  if (progress === undefined || progress.isPaused()) return false;
  const previousIndex = progress.next - 1;
  const previousTerm = raft.log.term(previousIndex);
  const entries = previousTerm === undefined ? undefined : raft.log.entriesFrom(progress.next, raft.config.messageBytesMax);
  if (previousTerm === undefined || entries === undefined) return sendSnapshot(raft, to, progress);
  if (entries.length === 0 && !sendIfEmpty) return false;
  raft.send({ type: 'MsgApp', to, index: previousIndex, logTerm: previousTerm, entries, commit: raft.log.committed });
  const last = entries[entries.length - 1];
  progress.sentEntries(entries.length, last?.index ?? previousIndex, entriesBytes(entries));
  return true;
}

function sendSnapshot(raft: Raft, to: NodeId, progress: Progress): boolean {
  if (!progress.recentActive) {
    raft.emit('snapshot-deferred-inactive', { to });
    return false;
  }
  let snapshot: Snapshot;
  try {
    snapshot = raft.log.snapshot();
  } catch (error) {
    if (error instanceof RaftStorageError && error.code === 'SNAPSHOT_TEMPORARILY_UNAVAILABLE') {
      raft.emit('snapshot-temporarily-unavailable', { to });
      return false;
    }
    throw error;
  }
  assert(snapshot.metadata.index > 0, 'a follower needs compacted entries but the snapshot is empty');
  progress.becomeSnapshot(snapshot.metadata.index);
  raft.send({ type: 'MsgSnap', to, snapshot });
  raft.emit('sent-snapshot', { to, index: snapshot.metadata.index });
  return true;
}

/**
 * One heartbeat round for every read that arrived since the last round (leader-reads.ts),
 * as etcd's server batches ReadIndex: reads go not one round each but in the Ready turn
 * after they arrived, as proposals do (flushAppends), and while a round is in flight they
 * wait for it to be confirmed and then share the next.
 *
 * The round asks only as many followers as a quorum needs, those that answered rounds
 * lately first (ReadIndexQueue.askFirst): on 3 nodes one follower wakes per round instead
 * of two, and the leader steps one answer instead of two. A round that is lost, or asked
 * a follower that has since stopped answering, holds its reads only until the next tick's
 * heartbeat, which goes to every follower with the newest context and is a round of its
 * own; whoever answers that one is asked first from then on.
 */
export function flushReadRound(raft: Raft): void {
  if (raft.role !== 'leader') raft.readRoundToSend = false;
  if (readRoundDue(raft)) sendReadRound(raft);
}

/** Reads wait for a round and none is in flight. */
export function readRoundDue(raft: Raft): boolean {
  return raft.readRoundToSend && !raft.reads.roundInFlight();
}

function sendReadRound(raft: Raft): void {
  const context = raft.reads.startRound() ?? emptyBytes;
  raft.readRoundToSend = false;
  const voters = raft.confState.voters;
  const needed = quorumCount(voters.length) - (voters.includes(raft.id) ? 1 : 0);
  for (const id of raft.reads.askFirst(votingFollowers(raft)).slice(0, needed)) sendHeartbeat(raft, id, context);
}

/** The voters other than this node that it has progress for: whom a read round may ask. */
function votingFollowers(raft: Raft): NodeId[] {
  return raft.confState.voters.filter((id) => id !== raft.id && raft.progress.has(id));
}

/**
 * The read round `round` (readRoundToHedge), asked now of the voters it skipped: the
 * runtime calls this when the followers asked have not answered within
 * `readRoundHedgeMs`, so one follower descheduled, in a garbage collection, or stopped
 * holds reads that long, not until the tick. Nothing when that round is no longer in
 * flight (a later round is not hedged early) or it asked every voter.
 */
export function hedgeReadRound(raft: Raft, round: number): void {
  if (round === 0 || readRoundToHedge(raft) !== round) return;
  const context = raft.reads.roundContext();
  for (const id of raft.reads.notAsked(votingFollowers(raft))) sendHeartbeat(raft, id, context);
}

/**
 * The read round in flight (a number that names it) when it has not asked every voter,
 * else 0: what hedgeReadRound takes. The runtime asks after every Ready turn, so the
 * common answer (no round in flight) costs no allocation.
 */
export function readRoundToHedge(raft: Raft): number {
  if (raft.role !== 'leader' || !raft.reads.roundInFlight()) return 0;
  return raft.reads.notAsked(votingFollowers(raft)).length > 0 ? raft.reads.roundSequence() : 0;
}

/**
 * The tick's heartbeat, to every follower, carrying the newest pending read's context: a
 * quorum acknowledging it confirms that read and every read that arrived before it (the
 * round started after all of them).
 */
export function broadcastHeartbeat(raft: Raft): void {
  const context = raft.reads.startRound() ?? emptyBytes;
  raft.readRoundToSend = false;
  // Each heartbeat carries the commit up to what its follower holds: all a follower can apply.
  raft.commitToAnnounce = false;
  for (const id of raft.progress.keys()) if (id !== raft.id) sendHeartbeat(raft, id, context);
}

/** A heartbeat of the round just started (its context, empty when no read waits); the round remembers whom it asked. */
function sendHeartbeat(raft: Raft, to: NodeId, context: Uint8Array): void {
  const progress = raft.progress.get(to);
  if (progress === undefined) return;
  const commit = Math.min(progress.match, raft.log.committed);
  raft.send({ type: 'MsgHeartbeat', to, commit, context, index: raft.tickCount });
  raft.reads.asked(to);
}
