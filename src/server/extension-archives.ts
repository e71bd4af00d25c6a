/**
 * The two archive formats rqlited takes SQLite extensions in, read with Node's zlib (no
 * extra dependency, no external unzip or tar): zip (stored or deflated entries) and
 * gzipped tar. Only flat archives, as rqlite: files at the root, no directories. Every
 * size and count is bounded, so a hostile archive cannot exhaust memory.
 */
import { gunzipSync, inflateRawSync } from 'node:zlib';

export interface ArchivedFile {
  readonly name: string;
  readonly bytes: Uint8Array;
}

const extensionFileBytesMax = 256 * 1024 * 1024;
const archiveFileCountMax = 1_000;

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

export function isZip(head: Uint8Array): boolean {
  return head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

export function isGzip(head: Uint8Array): boolean {
  return head[0] === 0x1f && head[1] === 0x8b;
}

/** A file name an archive may hold: flat, not hidden-relative, no NUL. `./x` counts as `x`. */
function flatName(rawName: string, archive: string): string | undefined {
  const name = rawName.startsWith('./') ? rawName.slice(2) : rawName;
  if (name === '' || name === '.') return undefined;
  if (name.includes('/') || name.includes('\\') || name.includes('\0') || name === '..') {
    throw new ArchiveError(`${archive} contains subdirectories (${JSON.stringify(rawName)}): only flat archives are supported`);
  }
  return name;
}

const endOfCentralDirectory = 0x06054b50;
const centralDirectoryEntry = 0x02014b50;
const localFileHeader = 0x04034b50;

function findEndOfCentralDirectory(view: DataView, archive: string): number {
  // The record is 22 bytes plus a comment of at most 65535.
  const lowest = Math.max(0, view.byteLength - 22 - 0xffff);
  for (let offset = view.byteLength - 22; offset >= lowest; offset -= 1) {
    if (view.getUint32(offset, true) === endOfCentralDirectory) return offset;
  }
  throw new ArchiveError(`${archive} is not a readable zip file (no central directory)`);
}

function zipEntryBytes(data: Uint8Array, view: DataView, entry: number, archive: string, name: string): Uint8Array {
  const method = view.getUint16(entry + 10, true);
  const compressedBytes = view.getUint32(entry + 20, true);
  const bytes = view.getUint32(entry + 24, true);
  const localOffset = view.getUint32(entry + 42, true);
  if (bytes > extensionFileBytesMax) throw new ArchiveError(`${archive}: ${name} is larger than ${extensionFileBytesMax} bytes`);
  if (localOffset + 30 > data.length || view.getUint32(localOffset, true) !== localFileHeader)
    throw new ArchiveError(`${archive}: bad local header for ${name}`);
  const start = localOffset + 30 + view.getUint16(localOffset + 26, true) + view.getUint16(localOffset + 28, true);
  const compressed = data.subarray(start, start + compressedBytes);
  if (compressed.length !== compressedBytes) throw new ArchiveError(`${archive}: ${name} is truncated`);
  if (method === 0) return compressed;
  if (method === 8) return inflateRawSync(compressed, { maxOutputLength: extensionFileBytesMax });
  throw new ArchiveError(`${archive}: ${name} uses compression method ${method} (only stored and deflate are supported)`);
}

/** The files of a flat zip archive. */
export function readZip(data: Uint8Array, archive: string): ArchivedFile[] {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (data.length < 22) throw new ArchiveError(`${archive} is not a readable zip file`);
  const end = findEndOfCentralDirectory(view, archive);
  const entryCount = view.getUint16(end + 10, true);
  if (entryCount > archiveFileCountMax) throw new ArchiveError(`${archive} holds more than ${archiveFileCountMax} files`);
  const files: ArchivedFile[] = [];
  let entry = view.getUint32(end + 16, true);
  for (let index = 0; index < entryCount; index += 1) {
    if (entry + 46 > data.length || view.getUint32(entry, true) !== centralDirectoryEntry) throw new ArchiveError(`${archive}: bad central directory`);
    const nameBytes = view.getUint16(entry + 28, true);
    const rawName = new TextDecoder().decode(data.subarray(entry + 46, entry + 46 + nameBytes));
    const name = flatName(rawName, archive);
    if (name !== undefined) files.push({ name, bytes: zipEntryBytes(data, view, entry, archive, name) });
    entry += 46 + nameBytes + view.getUint16(entry + 30, true) + view.getUint16(entry + 32, true);
  }
  return files;
}

const tarBlockBytes = 512;

function tarText(block: Uint8Array, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end === -1 ? field : field.subarray(0, end));
}

interface TarHeader {
  readonly rawName: string;
  readonly bytes: number;
  readonly type: string;
}

function readTarHeader(block: Uint8Array, archive: string): TarHeader {
  const prefix = tarText(block, 257, 6) === 'ustar' ? tarText(block, 345, 155) : '';
  const rawName = prefix === '' ? tarText(block, 0, 100) : `${prefix}/${tarText(block, 0, 100)}`;
  const bytes = Number.parseInt(tarText(block, 124, 12).trim() || '0', 8);
  if (!Number.isSafeInteger(bytes) || bytes > extensionFileBytesMax) throw new ArchiveError(`${archive}: ${rawName} is too large or malformed`);
  return { rawName, bytes, type: String.fromCharCode(block[156] ?? 0) };
}

/** A regular file's flat name; undefined for what is skipped (pax headers, `./`); throws on anything else. */
function tarFileName(header: TarHeader, archive: string): string | undefined {
  if (header.type === 'x' || header.type === 'g') return undefined;
  if (header.type === '5') {
    if (flatName(header.rawName.replace(/\/$/, ''), archive) === undefined) return undefined;
    throw new ArchiveError(`${archive} contains subdirectories (${JSON.stringify(header.rawName)}): only flat archives are supported`);
  }
  if (header.type !== '0' && header.type !== '\0') throw new ArchiveError(`${archive}: ${header.rawName} is not a regular file`);
  return flatName(header.rawName, archive);
}

/** The files of a flat gzipped tar archive (pax headers skipped; links and devices refused). */
export function readTarGzip(data: Uint8Array, archive: string): ArchivedFile[] {
  const tar = gunzipSync(data, { maxOutputLength: archiveFileCountMax * tarBlockBytes + extensionFileBytesMax * 4 });
  const files: ArchivedFile[] = [];
  for (let offset = 0; offset + tarBlockBytes <= tar.length; ) {
    const block = tar.subarray(offset, offset + tarBlockBytes);
    if (block.every((byte) => byte === 0)) break;
    const header = readTarHeader(block, archive);
    const content = tar.subarray(offset + tarBlockBytes, offset + tarBlockBytes + header.bytes);
    offset += tarBlockBytes + Math.ceil(header.bytes / tarBlockBytes) * tarBlockBytes;
    const name = tarFileName(header, archive);
    if (name === undefined) continue;
    if (files.length >= archiveFileCountMax) throw new ArchiveError(`${archive} holds more than ${archiveFileCountMax} files`);
    files.push({ name, bytes: content });
  }
  return files;
}
