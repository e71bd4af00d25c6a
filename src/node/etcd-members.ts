/**
 * The members of an etcd-log cluster: the nodes registered under `members/` in etcd, each
 * key attached to its node's session lease, so a node that stops or loses its lease drops
 * out by itself. The book follows the registrations (watch and poll); /nodes, leader
 * routing and the peer transport read it.
 */
import type { IKeyValue } from 'etcd3';
import type { ConfState, NodeId } from '../raft/types.js';
import type { EtcdKeys } from './etcd-keys.js';
import type { MemberAddressBook } from './members.js';
import type { MemberAddresses } from './ports.js';

interface Registration {
  readonly id: NodeId;
  readonly addresses: MemberAddresses;
  readonly voter: boolean;
}

/** A registration's key and value; a malformed value registers no addresses (the id still counts as a member). */
export function parseRegistration(keys: EtcdKeys, kv: IKeyValue): Registration {
  const id = kv.key.toString().slice(keys.membersPrefix.length);
  try {
    const value = JSON.parse(kv.value.toString()) as Record<string, unknown>;
    const raftAddress = typeof value.raftAddress === 'string' ? value.raftAddress : '';
    const apiAddress = typeof value.apiAddress === 'string' ? value.apiAddress : '';
    return { id, addresses: { raftAddress, apiAddress }, voter: value.voter !== false };
  } catch {
    return { id, addresses: { raftAddress: '', apiAddress: '' }, voter: true };
  }
}

export class EtcdMemberBook implements MemberAddressBook {
  readonly #members = new Map<NodeId, Registration>();
  readonly #listeners = new Set<() => void>();

  learn(registration: Registration): void {
    this.#members.set(registration.id, registration);
    this.#changed();
  }

  forget(id: NodeId): void {
    if (this.#members.delete(id)) this.#changed();
  }

  replace(registrations: readonly Registration[]): void {
    this.#members.clear();
    for (const registration of registrations) this.#members.set(registration.id, registration);
    this.#changed();
  }

  /** Calls `listener` after every change (the transport's peers follow the book). */
  subscribe(listener: () => void): void {
    this.#listeners.add(listener);
  }

  #changed(): void {
    for (const listener of this.#listeners) listener();
  }

  get(id: NodeId): MemberAddresses | undefined {
    return this.#members.get(id)?.addresses;
  }

  has(id: NodeId): boolean {
    return this.#members.has(id);
  }

  entries(): [NodeId, MemberAddresses][] {
    return [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : 1)).map((member) => [member.id, member.addresses]);
  }

  toRecord(): Record<NodeId, MemberAddresses> {
    return Object.fromEntries(this.entries());
  }

  findByRaftAddress(raftAddress: string): NodeId | undefined {
    return [...this.#members.values()].find((member) => member.addresses.raftAddress === raftAddress)?.id;
  }

  confState(): ConfState {
    const sorted = [...this.#members.values()].sort((a, b) => (a.id < b.id ? -1 : 1));
    return {
      voters: sorted.filter((member) => member.voter).map((member) => member.id),
      learners: sorted.filter((member) => !member.voter).map((member) => member.id),
    };
  }
}
