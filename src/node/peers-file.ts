/**
 * Lost-quorum recovery, the file: `raft/peers.json` in the data directory, in rqlite's
 * format (hashicorp/raft's peers.json): a JSON array of `{ "id", "address", "non_voter" }`,
 * one object per node of the recovered cluster. `non_voter` may be left out (false).
 * Unknown keys are ignored, as rqlite's decoder does.
 *
 * Everything here only reads: a file that fails any check is refused with a
 * `PeersFileError` before the node opens its store, so a refused start changes nothing.
 * Once recovery has rewritten the store (cluster-recovery.ts), `retirePeersFile` renames
 * the file to `peers.info`, as rqlite does, so it never triggers a second recovery.
 */
import { renameSync } from 'node:fs';
import { join } from 'node:path';
import { nodeIdBytesMax } from '../raft/conf-change.js';
import type { NodeId } from '../raft/types.js';
import { fsyncDirectory } from '../state-machine/files.js';
import { readBoundedText } from './files.js';

const peersFileName = 'peers.json';
export const peersInfoFileName = 'peers.info';
/** A list of a few dozen nodes is a few KiB; anything near this is not a peers file. */
export const peersFileBytesMax = 1024 * 1024;
/** Nodes one peers.json may list (rqlite clusters of more than 9 voters are impractical; read-only nodes add some). */
export const recoveryPeerCountMax = 64;
const addressLengthMax = 256;

export interface RecoveryPeer {
  readonly id: NodeId;
  /** The Raft address other nodes reach this one at, `host:port`. */
  readonly address: string;
  readonly nonVoter: boolean;
}

/** peers.json is present but unusable, or recovery is impossible: the node refuses to start and changes nothing. */
export class PeersFileError extends Error {
  override readonly name = 'PeersFileError';
  constructor(
    readonly path: string,
    reason: string,
  ) {
    super(`${path}: ${reason}; fix or remove the file (nothing was changed)`);
  }
}

/** Where rqlite looks for the file: `raft/` inside the data directory. */
export function peersFilePath(dataDirectory: string): string {
  return join(dataDirectory, 'raft', peersFileName);
}

function readPeersText(path: string): string | undefined {
  let read: ReturnType<typeof readBoundedText>;
  try {
    read = readBoundedText(path, peersFileBytesMax);
  } catch (error) {
    throw new PeersFileError(path, `cannot read: ${String(error)}`);
  }
  if (read === undefined) return undefined;
  if ('oversizeBytes' in read) throw new PeersFileError(path, `${read.oversizeBytes} bytes is more than a peers file can be (${peersFileBytesMax})`);
  return read.text;
}

/**
 * The recovery this node was asked for: undefined without a peers.json, the peers it
 * lists otherwise. `self` is this node's id and advertised Raft address: the file must
 * list the node, at that address, or the recovered cluster could not reach it.
 */
export function readPeersFile(dataDirectory: string, self: { readonly id: NodeId; readonly raftAddress: string }): readonly RecoveryPeer[] | undefined {
  const path = peersFilePath(dataDirectory);
  const text = readPeersText(path);
  if (text === undefined) return undefined;
  return parsePeersFile(text, self, path);
}

/** Checks peers.json text; every problem is a PeersFileError naming the file and what is wrong. */
export function parsePeersFile(text: string, self: { readonly id: NodeId; readonly raftAddress: string }, path: string): RecoveryPeer[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new PeersFileError(path, `not JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(parsed)) throw new PeersFileError(path, 'must be a JSON array of {"id", "address", "non_voter"} objects');
  if (parsed.length === 0) throw new PeersFileError(path, 'lists no nodes');
  if (parsed.length > recoveryPeerCountMax) throw new PeersFileError(path, `lists ${parsed.length} nodes, more than ${recoveryPeerCountMax}`);
  const peers = parsed.map((value: unknown, position) => readPeer(value, position, path));
  checkPeerSet(peers, self, path);
  return peers;
}

function readPeer(value: unknown, position: number, path: string): RecoveryPeer {
  const where = `entry ${position}`;
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PeersFileError(path, `${where} is not an object`);
  const { id, address, non_voter: nonVoter } = value as Record<string, unknown>;
  if (typeof id !== 'string' || id.length === 0) throw new PeersFileError(path, `${where}: "id" must be a non-empty string`);
  if (new TextEncoder().encode(id).length > nodeIdBytesMax) throw new PeersFileError(path, `${where}: "id" is longer than ${nodeIdBytesMax} bytes`);
  if (typeof address !== 'string' || !isHostPort(address)) {
    throw new PeersFileError(path, `${where} (id ${JSON.stringify(id)}): "address" must be a "host:port" string`);
  }
  if (nonVoter !== undefined && typeof nonVoter !== 'boolean') {
    throw new PeersFileError(path, `${where} (id ${JSON.stringify(id)}): "non_voter" must be true or false`);
  }
  return { id, address, nonVoter: nonVoter === true };
}

/** "host:port" (IPv6 as "[::1]:port"), port 1-65535: the shape every Raft address here has. */
function isHostPort(text: string): boolean {
  if (text.length > addressLengthMax) return false;
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2] ?? 0);
  return match !== null && port >= 1 && port <= 65_535;
}

/** What hashicorp/raft's configuration check refuses, and what would leave this node outside the cluster it recovers. */
function checkPeerSet(peers: readonly RecoveryPeer[], self: { readonly id: NodeId; readonly raftAddress: string }, path: string): void {
  const ids = new Set<NodeId>();
  const addresses = new Set<string>();
  for (const peer of peers) {
    if (ids.has(peer.id)) throw new PeersFileError(path, `node id ${JSON.stringify(peer.id)} is listed twice`);
    if (addresses.has(peer.address)) throw new PeersFileError(path, `address ${peer.address} is listed twice`);
    ids.add(peer.id);
    addresses.add(peer.address);
  }
  if (!peers.some((peer) => !peer.nonVoter)) throw new PeersFileError(path, 'lists no voter (every node has "non_voter": true), so no leader could be elected');
  const listed = peers.find((peer) => peer.id === self.id);
  if (listed === undefined) throw new PeersFileError(path, `does not list this node (id ${JSON.stringify(self.id)})`);
  if (listed.address !== self.raftAddress) {
    throw new PeersFileError(path, `gives this node (id ${JSON.stringify(self.id)}) the address ${listed.address}, but it advertises ${self.raftAddress}`);
  }
}

/**
 * Recovery is done: renames peers.json to peers.info (replacing an older one) and syncs
 * the directory, so a restart never recovers again over writes taken since. A crash
 * before the rename only repeats the recovery, which is idempotent.
 */
export function retirePeersFile(dataDirectory: string): void {
  const path = peersFilePath(dataDirectory);
  const directory = join(dataDirectory, 'raft');
  renameSync(path, join(directory, peersInfoFileName));
  fsyncDirectory(directory);
}
