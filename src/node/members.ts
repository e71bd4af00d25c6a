/**
 * The address book: every member's Raft and HTTP addresses, keyed by node id. Addresses
 * travel in the `context` of conf-change entries and in snapshot contexts, so every node
 * learns them from the log; the book is also kept in `members.json` in the data
 * directory so a restarted node knows its peers before it replays anything.
 */
import { join } from 'node:path';
import type { NodeId } from '../raft/types.js';
import { ServiceError } from '../service/service.js';
import { storageErrorFromSystem } from '../storage/errors.js';
import { systemFiles } from './files.js';
import type { MemberAddresses, NodeFiles } from './ports.js';

export const contextBytesMax = 4096;
export const membersFileName = 'members.json';

const textEncoder = new TextEncoder();
const textDecoder = new TextDecoder('utf-8', { fatal: true });

export function encodeMemberContext(addresses: MemberAddresses): Uint8Array {
  const bytes = textEncoder.encode(JSON.stringify({ raftAddress: addresses.raftAddress, apiAddress: addresses.apiAddress }));
  if (bytes.byteLength > contextBytesMax) throw new ServiceError('BAD_REQUEST', `member context exceeds ${contextBytesMax} bytes`);
  return bytes;
}

function isMemberAddresses(value: unknown): value is MemberAddresses {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.raftAddress === 'string' && typeof record.apiAddress === 'string';
}

/** Decodes a conf change's context; undefined when it carries none (e.g. a removal). */
export function decodeMemberContext(bytes: Uint8Array): MemberAddresses | undefined {
  if (bytes.byteLength === 0 || bytes.byteLength > contextBytesMax) return undefined;
  try {
    const value: unknown = JSON.parse(textDecoder.decode(bytes));
    return isMemberAddresses(value) ? { raftAddress: value.raftAddress, apiAddress: value.apiAddress } : undefined;
  } catch {
    return undefined;
  }
}

/** Reads a `{ id: { raftAddress, apiAddress } }` record from a peer or a snapshot context, dropping malformed entries. */
export function readMemberRecord(value: unknown): Record<NodeId, MemberAddresses> {
  if (typeof value !== 'object' || value === null) return {};
  const members: Record<NodeId, MemberAddresses> = {};
  for (const [id, addresses] of Object.entries(value)) {
    if (isMemberAddresses(addresses)) members[id] = { raftAddress: addresses.raftAddress, apiAddress: addresses.apiAddress };
  }
  return members;
}

/** The address book read-only: what the layers above the runtime may see of it. */
export interface MemberAddressBook {
  get(id: NodeId): MemberAddresses | undefined;
  has(id: NodeId): boolean;
  entries(): [NodeId, MemberAddresses][];
  toRecord(): Record<NodeId, MemberAddresses>;
  findByRaftAddress(raftAddress: string): NodeId | undefined;
}

export class MemberBook implements MemberAddressBook {
  /** A change not yet in members.json (set or delete since the last successful write). */
  #unsaved = false;
  readonly #members = new Map<NodeId, MemberAddresses>();
  readonly #filePath: string | undefined;
  readonly #files: NodeFiles;

  constructor(dataDirectory?: string, files: NodeFiles = systemFiles) {
    this.#filePath = dataDirectory === undefined ? undefined : join(dataDirectory, membersFileName);
    this.#files = files;
  }

  /** Loads members.json if present; a missing file is an empty book. */
  load(): void {
    if (this.#filePath === undefined) return;
    let text: string | undefined;
    try {
      text = this.#files.readTextIfPresent(this.#filePath);
    } catch (error) {
      throw new ServiceError('INTERNAL', `${this.#filePath}: cannot read: ${String(error)}`, { cause: error });
    }
    if (text === undefined) return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new ServiceError('INTERNAL', `${this.#filePath}: not JSON: ${String(error)}`, { cause: error });
    }
    if (typeof parsed !== 'object' || parsed === null) throw new ServiceError('INTERNAL', `${this.#filePath}: not a JSON object`);
    for (const [id, addresses] of Object.entries(parsed)) {
      if (!isMemberAddresses(addresses)) throw new ServiceError('INTERNAL', `${this.#filePath}: bad entry for ${id}`);
      this.#members.set(id, addresses);
    }
  }

  get(id: NodeId): MemberAddresses | undefined {
    return this.#members.get(id);
  }

  has(id: NodeId): boolean {
    return this.#members.has(id);
  }

  entries(): [NodeId, MemberAddresses][] {
    return [...this.#members.entries()];
  }

  toRecord(): Record<NodeId, MemberAddresses> {
    return Object.fromEntries(this.#members);
  }

  findByRaftAddress(raftAddress: string): NodeId | undefined {
    for (const [id, addresses] of this.#members) if (addresses.raftAddress === raftAddress) return id;
    return undefined;
  }

  /** Returns true when the book changed. */
  set(id: NodeId, addresses: MemberAddresses): boolean {
    const existing = this.#members.get(id);
    if (existing?.raftAddress === addresses.raftAddress && existing.apiAddress === addresses.apiAddress) return false;
    this.#members.set(id, addresses);
    this.#unsaved = true;
    return true;
  }

  delete(id: NodeId): boolean {
    const deleted = this.#members.delete(id);
    if (deleted) this.#unsaved = true;
    return deleted;
  }

  /**
   * Writes members.json atomically (temp file, fsync, rename) when the book changed since
   * it was last written. A write that fails leaves the change unsaved, so the next call
   * writes it: the caller may retry the whole step. The failure is a StorageError
   * (DISK_FULL, IO_ERROR): environmental, so the runtime halts and retries rather than
   * dies (found by the fault suite: a conf change applied on a full disk killed the node).
   */
  persist(): void {
    if (this.#filePath === undefined || !this.#unsaved) return;
    try {
      this.#files.writeTextDurably(this.#filePath, JSON.stringify(this.toRecord()));
    } catch (error) {
      throw storageErrorFromSystem(error, `writing ${this.#filePath}`);
    }
    this.#unsaved = false;
  }
}
