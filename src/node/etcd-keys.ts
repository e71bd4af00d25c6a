/**
 * The etcd log's key layout and entry encoding (docs/ARCHITECTURE.md, "etcd as the log").
 * Under one prefix:
 *
 * - `<prefix>/leader`: the leader's node id, attached to its session lease. The key's
 *   create revision is the leadership's term and fencing token: every append compares it.
 * - `<prefix>/log/<index>`: one entry, the index zero-padded to 20 digits so etcd's byte
 *   order is index order. Its value is a version byte, the fencing token (8 bytes, big
 *   endian) and the command bytes (empty: a no-op).
 * - `<prefix>/members/<id>`: a node's addresses (JSON), attached to its session lease.
 * - `<prefix>/applied/<id>`: the index a node applied, attached to its session lease (compaction reads it).
 * - `<prefix>/first`: the first index still in etcd (entries below were compacted away).
 */
import { assert } from '../common/assert.js';

const indexDigits = 20;
const entryVersion = 1;
const headerBytes = 9;

export interface EtcdKeys {
  readonly leader: string;
  readonly logPrefix: string;
  readonly membersPrefix: string;
  readonly appliedPrefix: string;
  readonly first: string;
}

/** The keys under `prefix` (a trailing slash is dropped, so `/q` and `/q/` name one cluster). */
export function etcdKeys(prefix: string): EtcdKeys {
  const base = prefix.replace(/\/+$/, '');
  return {
    leader: `${base}/leader`,
    logPrefix: `${base}/log/`,
    membersPrefix: `${base}/members/`,
    appliedPrefix: `${base}/applied/`,
    first: `${base}/first`,
  };
}

export function logKey(keys: EtcdKeys, index: number): string {
  assert(Number.isSafeInteger(index) && index >= 1, `log index must be a positive integer, got ${index}`);
  return keys.logPrefix + String(index).padStart(indexDigits, '0');
}

/** The index a log key names; throws on a key that is not one (nothing else is written under the log prefix). */
export function indexOfLogKey(keys: EtcdKeys, key: string): number {
  assert(key.startsWith(keys.logPrefix), `not a log key: ${key}`);
  const digits = key.slice(keys.logPrefix.length);
  assert(/^\d{20}$/.test(digits), `malformed log key: ${key}`);
  return Number(digits);
}

/** An entry's value: version, the fencing token of the leadership that appended it, the command. */
export function encodeEntryValue(term: number, data: Uint8Array): Buffer {
  assert(Number.isSafeInteger(term) && term >= 1, `term must be a positive integer, got ${term}`);
  const value = Buffer.alloc(headerBytes + data.byteLength);
  value.writeUInt8(entryVersion, 0);
  value.writeBigUInt64BE(BigInt(term), 1);
  value.set(data, headerBytes);
  return value;
}

export function decodeEntryValue(value: Uint8Array): { readonly term: number; readonly data: Uint8Array } {
  assert(value.byteLength >= headerBytes, `entry value of ${value.byteLength} bytes is shorter than its header`);
  const buffer = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  assert(buffer.readUInt8(0) === entryVersion, `unknown entry version ${buffer.readUInt8(0)}`);
  const term = Number(buffer.readBigUInt64BE(1));
  // A copy: the state machine may keep the bytes beyond the gRPC buffer's life.
  return { term, data: new Uint8Array(buffer.subarray(headerBytes)) };
}
