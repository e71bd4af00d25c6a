/**
 * Membership as the log says (Raft dissertation §4.1): a change takes effect on each
 * server as soon as its entry is in that server's log, and reverts if the entry is
 * truncated. On the leader, progress tracking follows the membership.
 */
import { assert } from './errors.js';
import { Inflights, Progress } from './progress.js';
import { abortLeaderTransfer } from './leadership-transfer.js';
import type { Raft } from './raft.js';
import { maybeCommit } from './raft-leader.js';
import { announceCommit } from './raft-replication.js';
import type { ConfState, Entry } from './types.js';

export function loadConfChangesFromLog(raft: Raft, low: number): void {
  const lastIndex = raft.log.lastIndex();
  let next = low;
  // Each batch returns at least one entry, so this ends after at most lastIndex - low + 1 rounds.
  while (next <= lastIndex) {
    const batch = raft.log.slice(next, lastIndex + 1, raft.config.messageBytesMax);
    assert(batch !== undefined && batch.length > 0, `log entries from ${next} readable at start`);
    raft.confHistory.record(batch);
    next += batch.length;
  }
  setConfState(raft, raft.confHistory.latest());
}

/** Entries were appended at entries[0].index, replacing whatever followed: update membership. */
export function onEntriesAppended(raft: Raft, entries: readonly Entry[]): void {
  if (raft.confHistory.onAppend(entries)) setConfState(raft, raft.confHistory.latest());
}

export function setConfState(raft: Raft, confState: ConfState): void {
  raft.confState = confState;
  if (raft.role !== 'leader') return;
  syncProgressWithMembership(raft);
  if (raft.leadTransferee !== '' && !raft.confState.voters.includes(raft.leadTransferee)) abortLeaderTransfer(raft);
  if (maybeCommit(raft)) announceCommit(raft);
}

export function syncProgressWithMembership(raft: Raft): void {
  const members = new Set([...raft.confState.voters, ...raft.confState.learners]);
  for (const id of [...raft.progress.keys()]) {
    if (!members.has(id) && id !== raft.id) raft.progress.delete(id);
  }
  for (const id of members) {
    const isLearner = raft.confState.learners.includes(id);
    const existing = raft.progress.get(id);
    if (existing !== undefined) {
      existing.isLearner = isLearner;
      continue;
    }
    const progress = newProgress(raft, raft.log.lastIndex(), isLearner);
    progress.recentActive = true;
    raft.progress.set(id, progress);
  }
}

export function newProgress(raft: Raft, next: number, isLearner: boolean): Progress {
  return new Progress(next, isLearner, new Inflights(raft.config.inflightMessageCountMax, raft.config.inflightBytesMax));
}
