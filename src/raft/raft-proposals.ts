/**
 * Proposals on the leader: commands and membership changes become entries of the
 * current term, within the bound on uncommitted bytes. They are sent at the next
 * Ready turn (see flushAppends).
 */
import { confChangeProblem, encodeConfChange } from './conf-change.js';
import { RaftError, assert } from './errors.js';
import type { Raft } from './raft.js';
import { onEntriesAppended } from './raft-membership.js';
import type { ConfChange, Entry, EntryType } from './types.js';

export function propose(raft: Raft, data: Uint8Array): { index: number; term: number } {
  if (!(data instanceof Uint8Array)) throw new RaftError('INVALID_ARGUMENT', 'proposal data must be a Uint8Array');
  raft.requireLeader('propose');
  refuseDuringTransferOrRemoval(raft);
  return appendProposal(raft, 'normal', data);
}

export function proposeConfChange(raft: Raft, change: ConfChange): { index: number; term: number } {
  raft.requireLeader('proposeConfChange');
  refuseDuringTransferOrRemoval(raft);
  if (raft.pendingConfIndex > raft.log.committed) {
    throw new RaftError('CONF_CHANGE_PENDING', `the membership change at ${raft.pendingConfIndex} is not committed yet`);
  }
  if (raft.log.term(raft.log.committed) !== raft.term) {
    throw new RaftError('CONF_CHANGE_PENDING', `no entry of term ${raft.term} is committed yet`);
  }
  const problem = confChangeProblem(raft.confState, change);
  if (problem !== undefined) throw new RaftError('CONF_CHANGE_INVALID', problem);
  const result = appendProposal(raft, 'conf-change', encodeConfChange(change));
  raft.pendingConfIndex = result.index;
  return result;
}

function refuseDuringTransferOrRemoval(raft: Raft): void {
  if (raft.leadTransferee !== '') {
    throw new RaftError('PROPOSAL_DROPPED', `leadership is being transferred to ${raft.leadTransferee}`);
  }
  if (!raft.isVoter()) throw new RaftError('PROPOSAL_DROPPED', `${raft.id} is being removed from the cluster`);
}

function appendProposal(raft: Raft, type: EntryType, data: Uint8Array): { index: number; term: number } {
  // Like etcd, only payload bytes count, so empty entries (a new term's no-op) never do.
  const bytes = data.byteLength;
  if (raft.uncommittedBytes > 0 && raft.uncommittedBytes + bytes > raft.config.uncommittedEntriesBytesMax) {
    throw new RaftError('PROPOSAL_DROPPED', `uncommitted entries would exceed uncommittedEntriesBytesMax (${raft.config.uncommittedEntriesBytesMax})`);
  }
  raft.uncommittedBytes += bytes;
  const entry = appendEntries(raft, [{ type, data }]);
  raft.appendsToFlush = true;
  return { index: entry.index, term: entry.term };
}

/** Appends entries of the current term to the leader's log; returns the last. */
export function appendEntries(raft: Raft, items: readonly { type: EntryType; data: Uint8Array }[]): Entry {
  const lastIndex = raft.log.lastIndex();
  const entries: Entry[] = items.map((item, i) => ({ term: raft.term, index: lastIndex + 1 + i, type: item.type, data: item.data }));
  raft.log.append(entries);
  onEntriesAppended(raft, entries);
  const last = entries[entries.length - 1];
  assert(last !== undefined, 'appended at least one entry');
  return last;
}

/** Bytes of committed entries were applied: they no longer count as uncommitted. */
export function reduceUncommittedBytes(raft: Raft, entries: readonly Entry[]): void {
  if (raft.role !== 'leader') return;
  let bytes = 0;
  for (const entry of entries) bytes += entry.data.byteLength;
  raft.uncommittedBytes = Math.max(0, raft.uncommittedBytes - bytes);
}
