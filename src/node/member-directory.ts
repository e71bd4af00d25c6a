/**
 * Membership as the runtime keeps it: the address book (members.json) and the
 * transport's peers follow the membership in the log. Addresses ride in conf-change
 * contexts and snapshot contexts, so they are learned from appended entries, applied
 * changes, restored snapshots and, at start-up, a replay of the snapshot and the log.
 * Who is a voter or learner is the core's to say (`confState`).
 *
 * One gap the log cannot fill: a node that missed the conf change adding a member (it was
 * down or cut off) has no address for it, and if that member now leads, the node cannot
 * answer it, so the leader never learns what to send and the node never catches up (the
 * simulator's finding R1). The transport hands up, with each message, the address the
 * sender announced in its handshake; the directory adopts it for the transport only, and
 * only to fill that gap (see `adoptAnnouncedAddress`).
 */
import { assert } from '../common/assert.js';
import { decodeConfChange } from '../raft/conf-change.js';
import type { ConfChange, ConfState, Entry, NodeId } from '../raft/types.js';
import { decodeMemberContext, encodeMemberContext, readMemberRecord } from './members.js';
import type { MemberAddresses } from './ports.js';
import type { RuntimeState } from './runtime-state.js';
import { coreLimits } from './start-up.js';

/** Addresses adopted from handshakes kept at once (members the log has no address for, and senders outside the configuration). */
export const adoptedPeersMax = 64;

export class MemberDirectory {
  readonly #state: RuntimeState;
  /**
   * Raft addresses adopted from handshakes, for peers the address book has none for. Kept
   * out of the book and members.json: a handshake carries no API address, and the log stays
   * the one authority for addresses. Each entry is dropped when the log names an address for
   * its peer or removes it; after a restart the leader's next message fills the gap again.
   */
  readonly #adopted = new Map<NodeId, string>();

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
    for (const [id, addresses] of Object.entries(members)) this.#setMember(id, addresses, true);
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

  /**
   * `persist: false` keeps the change in memory (and the transport) only: a proposal's
   * addresses are written to members.json by the Ready loop once the entry is saved
   * (learnFromEntries), where a full disk halts and retries instead of failing the request.
   */
  learnAddresses(change: ConfChange, persist = true): void {
    if (change.type === 'remove-node') return;
    const addresses = decodeMemberContext(change.context);
    if (addresses !== undefined) this.#setMember(change.nodeId, addresses, persist);
  }

  /** A conf change applied: its addresses are known, and a removed node is forgotten (this one learns it was removed). */
  applied(change: ConfChange): void {
    this.learnAddresses(change);
    if (change.type !== 'remove-node') return;
    this.#forgetMember(change.nodeId);
    // A node that rejoined under its old id replays its earlier removal: only a removal that
    // still holds (the log adds it back nowhere after) means this node is out.
    const self = this.#state.config.nodeId;
    if (change.nodeId === self && !this.isMember(self)) this.#state.markRemoved('its own removal applied');
  }

  /**
   * A message from `id` was just stepped into the core; its connection's handshake
   * announced `raftAddress` (and carried our cluster id). Fills a gap, never overrides:
   * nothing happens when the address book has an address for `id` (from the log, a snapshot
   * or a join's fetch). For any sender, not only a member of this node's configuration or
   * the leader it follows: the core may answer a sender it knows nothing of (FINDINGS.md
   * R5: a node cut off while the whole membership was replaced, with a term above the new
   * leader's, answers that leader's heartbeat with its own term, and until the answer
   * arrives the leader never learns it must step up its term, so the node never catches
   * up). The transport sends such a peer only what the core addresses to it; at most
   * adoptedPeersMax are kept, the oldest let go first. Why the handshake and not a fetch
   * of the address book from a member we know (FINDINGS.md R1 option b): the leader keeps
   * sending heartbeats, so its address arrives with them, also after this node restarts
   * (members.json and the log still lack it), with no extra call or retry loop; and a
   * member we know may itself be down or behind.
   */
  adoptAnnouncedAddress(id: NodeId, raftAddress: string): void {
    const { members, transport, config, core, logger } = this.#state;
    if (id === config.nodeId || raftAddress.length === 0 || members.has(id) || this.#adopted.get(id) === raftAddress) return;
    this.#adopted.delete(id);
    if (this.#adopted.size >= adoptedPeersMax) {
      const [oldest] = this.#adopted.keys();
      // A member or the leader keeps its transport peer: the core still talks to it.
      if (oldest !== undefined && !this.isMember(oldest) && core?.status().leaderId !== oldest) transport.removePeer(oldest);
      if (oldest !== undefined) this.#adopted.delete(oldest);
    }
    this.#adopted.set(id, raftAddress);
    transport.setPeer(id, raftAddress);
    logger.info(
      { event: 'peer-address-adopted', peer: id, address: raftAddress },
      'no address for this peer in the log: using the one its handshake announced',
    );
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

  #setMember(id: NodeId, addresses: MemberAddresses, persist: boolean): void {
    const { members, transport, config } = this.#state;
    this.#adopted.delete(id); // the log names an address now: it replaces an adopted one
    if (members.set(id, addresses) && id !== config.nodeId) transport.setPeer(id, addresses.raftAddress);
    if (persist) members.persist(); // also writes a change an earlier, failed call left unsaved
  }

  #forgetMember(id: NodeId): void {
    const { members, transport, config } = this.#state;
    this.#adopted.delete(id);
    this.#state.peerContactMs.delete(id);
    if (id !== config.nodeId) transport.removePeer(id);
    members.delete(id);
    members.persist(); // also writes a change an earlier, failed call left unsaved
  }
}
