/**
 * Membership as the runtime keeps it: the address book (members.json) and the
 * transport's peers follow the membership in the log. Addresses ride in conf-change
 * contexts and snapshot contexts, so they are learned from appended entries, applied
 * changes, restored snapshots and, at start-up, a replay of the snapshot and the log.
 * Who is a voter or learner is the core's to say (`confState`).
 */
import { assert } from '../common/assert.js';
import { decodeConfChange } from '../raft/conf-change.js';
import type { ConfChange, ConfState, Entry, NodeId } from '../raft/types.js';
import { decodeMemberContext, encodeMemberContext, readMemberRecord } from './members.js';
import type { MemberAddresses } from './ports.js';
import type { RuntimeState } from './runtime-state.js';
import { coreLimits } from './start-up.js';

export class MemberDirectory {
  readonly #state: RuntimeState;

  constructor(state: RuntimeState) {
    this.#state = state;
  }

  /** The current membership (including changes appended but not yet applied). */
  confState(): ConfState {
    return this.#state.core?.status().confState ?? this.#state.storage.initialState().confState;
  }

  isVoter(id: NodeId = this.#state.config.nodeId): boolean {
    return this.confState().voters.includes(id);
  }

  isMember(id: NodeId): boolean {
    const confState = this.confState();
    return confState.voters.includes(id) || confState.learners.includes(id);
  }

  /** The members' addresses encoded for a conf change's context. */
  memberContext(addresses: MemberAddresses): Uint8Array {
    return encodeMemberContext(addresses);
  }

  /** Records addresses learned from a peer (before a join, so replies can reach the leader). */
  learnMembers(members: Readonly<Record<NodeId, MemberAddresses>>): void {
    for (const [id, addresses] of Object.entries(members)) this.#setMember(id, addresses);
  }

  /** Addresses carried by a snapshot's context (one restored or installed here). */
  learnFromSnapshotContext(context: unknown): void {
    this.learnMembers(readMemberRecord(context));
  }

  /** Addresses carried by conf changes just appended to the log (they take effect on append). */
  learnFromEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.type === 'conf-change') this.learnAddresses(decodeConfChange(entry.data));
    }
  }

  learnAddresses(change: ConfChange): void {
    if (change.type === 'remove-node') return;
    const addresses = decodeMemberContext(change.context);
    if (addresses !== undefined) this.#setMember(change.nodeId, addresses);
  }

  /** A conf change applied: its addresses are known, and a removed node is forgotten. */
  applied(change: ConfChange): void {
    this.learnAddresses(change);
    if (change.type === 'remove-node') this.#forgetMember(change.nodeId);
  }

  /** Start-up: every address named in the newest snapshot and in the log, and a transport peer for each. */
  replay(): void {
    const { storage, members, transport, config } = this.#state;
    const snapshot = storage.snapshots.latest();
    if (snapshot !== undefined) for (const [id, addresses] of Object.entries(readMemberRecord(snapshot.context))) members.set(id, addresses);
    for (const entry of this.#logEntries(storage.firstIndex(), storage.lastIndex() + 1)) {
      if (entry.type === 'conf-change') this.learnAddresses(decodeConfChange(entry.data));
    }
    for (const [id, addresses] of members.entries()) {
      if (id !== config.nodeId) transport.setPeer(id, addresses.raftAddress);
    }
  }

  #logEntries(low: number, high: number): Entry[] {
    const result: Entry[] = [];
    let next = low;
    while (next < high) {
      const batch = this.#state.storage.entries(next, high, coreLimits.committedBytesPerReadyMax);
      assert(batch.length > 0, `storage returned no entries at ${next}`);
      result.push(...batch);
      next += batch.length;
    }
    return result;
  }

  #setMember(id: NodeId, addresses: MemberAddresses): void {
    const { members, transport, config } = this.#state;
    if (!members.set(id, addresses)) return;
    if (id !== config.nodeId) transport.setPeer(id, addresses.raftAddress);
    members.persist();
  }

  #forgetMember(id: NodeId): void {
    const { members, transport, config } = this.#state;
    if (id !== config.nodeId) transport.removePeer(id);
    if (members.delete(id)) members.persist();
  }
}
