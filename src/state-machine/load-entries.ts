/**
 * The log entries of a load (`/db/load`, `/boot`): a SQLite file travels through the log
 * in bounded chunks that every node stages beside its database (load-staging.ts), then a
 * commit entry swaps the staged file in on every node at one index, or an abort entry
 * drops it. They start with their own magic byte, as maintenance entries do.
 *
 * The entry: u8 magic 0x4C ('L') · u8 version 1 · u8 kind (1 chunk, 2 commit, 3 abort) ·
 * 16 bytes load id · u64 (chunk: the offset of its bytes in the file; commit: the file's
 * size; abort: 0) · a chunk's bytes.
 */
import { targetedInner } from './database-entries.js';
import { StateMachineError } from './errors.js';

export type LoadEntry =
  | { readonly kind: 'chunk'; readonly loadId: string; readonly offset: number; readonly data: Uint8Array }
  | { readonly kind: 'commit'; readonly loadId: string; readonly totalBytes: number }
  | { readonly kind: 'abort'; readonly loadId: string };

const loadMagic = 0x4c;
const loadVersion = 1;
const kindCodes = { chunk: 1, commit: 2, abort: 3 } as const;
const loadIdBytes = 16;
const headerBytes = 3 + loadIdBytes + 8;
/** What a load entry adds to its chunk's bytes. */
export const loadEntryHeaderBytes = headerBytes;
const loadIdPattern = /^[0-9a-f]{32}$/;

/**
 * The kind of a load's entry (told by its magic, version and whole header), undefined for
 * any other entry: the runtime applies load entries apart from commands, asynchronously
 * (their file work runs off the event loop), a commit alone. A load of another database
 * (the targeted envelope of database-entries.ts around it) is a load's entry too.
 */
export function loadEntryKind(entryData: Uint8Array): LoadEntry['kind'] | undefined {
  const data = targetedInner(entryData) ?? entryData;
  if (data.length < headerBytes || data[0] !== loadMagic || data[1] !== loadVersion) return undefined;
  const code = data[2];
  return (Object.keys(kindCodes) as LoadEntry['kind'][]).find((kind) => kindCodes[kind] === code);
}

export function isLoadEntry(data: Uint8Array): boolean {
  return loadEntryKind(data) !== undefined;
}

export function encodeLoadEntry(entry: LoadEntry): Uint8Array {
  if (!loadIdPattern.test(entry.loadId)) throw new RangeError(`a load id is 32 hex digits, got ${JSON.stringify(entry.loadId)}`);
  const payload = entry.kind === 'chunk' ? entry.data : new Uint8Array(0);
  const bytes = new Uint8Array(headerBytes + payload.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, loadMagic);
  view.setUint8(1, loadVersion);
  view.setUint8(2, kindCodes[entry.kind]);
  bytes.set(Buffer.from(entry.loadId, 'hex'), 3);
  const number = entry.kind === 'chunk' ? entry.offset : entry.kind === 'commit' ? entry.totalBytes : 0;
  view.setBigUint64(3 + loadIdBytes, BigInt(number));
  bytes.set(payload, headerBytes);
  return bytes;
}

export function decodeLoadEntry(data: Uint8Array): LoadEntry {
  if (data.length < headerBytes || data[0] !== loadMagic) throw new StateMachineError('BAD_COMMAND', 'not a load entry');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(1) !== loadVersion) throw new StateMachineError('BAD_COMMAND', `unknown load entry version ${view.getUint8(1)}`);
  const loadId = Buffer.from(data.subarray(3, 3 + loadIdBytes)).toString('hex');
  const number = view.getBigUint64(3 + loadIdBytes);
  if (number > BigInt(Number.MAX_SAFE_INTEGER)) throw new StateMachineError('BAD_COMMAND', `load entry offset ${number} is too large`);
  const code = view.getUint8(2);
  if (code === kindCodes.chunk) return { kind: 'chunk', loadId, offset: Number(number), data: data.subarray(headerBytes) };
  if (code === kindCodes.commit) return { kind: 'commit', loadId, totalBytes: Number(number) };
  if (code === kindCodes.abort) return { kind: 'abort', loadId };
  throw new StateMachineError('BAD_COMMAND', `unknown load entry kind ${code}`);
}
