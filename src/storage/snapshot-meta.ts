/**
 * A stored snapshot's description (`meta.json` in its directory) and the file work around
 * it: validation, reading and checking a snapshot directory, durable small files, and
 * checksums read in bounded chunks.
 *
 * A snapshot has a format (absent in snapshots written before formats existed: 'full'):
 * - 'full': `data` is the whole state, self-contained (the state machine's one-file format);
 * - 'base': `data` is the whole state without the producer's side files, which sit beside
 *   it (`files`); a fold may change `data` in place (snapshot-fold.ts), so its size and
 *   CRC are not recorded once it has;
 * - 'delta': `data` holds only what changed since `parent` (another stored snapshot).
 * `proof` is the producer's, opaque here (the state machine names the WAL generation a
 * next delta may continue from).
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ConfState, SnapshotMetadata } from '../raft/types.js';
import { crc32cUpdate } from './crc32c.js';
import { StorageError } from './errors.js';
import { closeFile, fullSync, openFile, syncDirectory, writeFully } from './file-io.js';

export const snapshotDataFileName = 'data';
export const snapshotMetaFileName = 'meta.json';
const checksumReadBytes = 1 << 20;
/** Names a producer may give the files beside `data`. */
const sideFileNamePattern = /^[a-z]{1,32}$/;

export type SnapshotFormat = 'full' | 'base' | 'delta';

export interface SnapshotParent {
  readonly index: number;
  readonly term: number;
}

interface FileSummary {
  readonly bytes: number;
  readonly crc32c: number;
}

export interface MetaFile {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
  readonly context: unknown;
  readonly dataBytes: number;
  /** Absent once a fold changed a base's data in place. */
  readonly dataCrc32c?: number;
  readonly format?: SnapshotFormat;
  readonly parent?: SnapshotParent;
  readonly proof?: string;
  readonly files?: Readonly<Record<string, FileSummary>>;
}

export interface SnapshotInfo {
  readonly metadata: SnapshotMetadata;
  /** The runtime's opaque, JSON-serialisable context (e.g. member addresses). */
  readonly context: unknown;
  readonly dataBytes: number;
  /** Undefined for a base a fold has changed in place. */
  readonly dataCrc32c: number | undefined;
  /** The data file: stream it with `openData` (safe against deletion while streaming). */
  readonly dataPath: string;
  readonly format: SnapshotFormat;
  /** A delta's base: the stored snapshot it applies to. */
  readonly parent: SnapshotParent | undefined;
  readonly proof: string | undefined;
  /** The files beside `data`, by name. */
  readonly files: Readonly<Record<string, string>>;
}

export function snapshotDirectoryName(index: number, term: number): string {
  return `snapshot-${String(index).padStart(20, '0')}-${String(term).padStart(20, '0')}`;
}

export function validateConfState(confState: unknown, what: string): ConfState {
  const candidate = confState as Partial<ConfState> | null;
  const isIdList = (value: unknown): value is string[] => Array.isArray(value) && value.every((id) => typeof id === 'string' && id.length > 0);
  if (typeof candidate !== 'object' || candidate === null || !isIdList(candidate.voters) || !isIdList(candidate.learners)) {
    throw new StorageError('INVALID_ARGUMENT', `${what}: confState must be { voters: string[], learners: string[] } of non-empty ids`);
  }
  return { voters: [...candidate.voters], learners: [...candidate.learners] };
}

export function validateSnapshotMetadata(metadata: SnapshotMetadata, what: string): SnapshotMetadata {
  if (!Number.isSafeInteger(metadata.index) || metadata.index < 1) {
    throw new StorageError('INVALID_ARGUMENT', `${what}: snapshot index ${metadata.index} must be a positive integer`);
  }
  if (!Number.isSafeInteger(metadata.term) || metadata.term < 1) {
    throw new StorageError('INVALID_ARGUMENT', `${what}: snapshot term ${metadata.term} must be a positive integer`);
  }
  return { index: metadata.index, term: metadata.term, confState: validateConfState(metadata.confState, what) };
}

export function validateSideFileName(name: string): string {
  if (!sideFileNamePattern.test(name) || name === snapshotDataFileName) {
    throw new StorageError('INVALID_ARGUMENT', `a snapshot side file is named by 1-32 lowercase letters, not ${JSON.stringify(name)} (nor "data")`);
  }
  return name;
}

const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;

function checkLayout(parsed: Partial<MetaFile>, path: string): void {
  const format = parsed.format ?? 'full';
  if (!['full', 'base', 'delta'].includes(format)) throw new StorageError('CORRUPT', `snapshot metadata ${path} has an unknown format ${String(format)}`);
  const parent = parsed.parent;
  if ((format === 'delta') !== (parent !== undefined))
    throw new StorageError('CORRUPT', `snapshot metadata ${path}: a delta, and only a delta, names a parent`);
  if (parent !== undefined && !(isCount(parent.index) && isCount(parent.term))) throw new StorageError('CORRUPT', `snapshot metadata ${path} has a bad parent`);
  if (parsed.proof !== undefined && typeof parsed.proof !== 'string') throw new StorageError('CORRUPT', `snapshot metadata ${path} has a bad proof`);
  for (const [name, summary] of Object.entries(parsed.files ?? {})) {
    if (!sideFileNamePattern.test(name) || !isCount(summary?.bytes) || !isCount(summary?.crc32c)) {
      throw new StorageError('CORRUPT', `snapshot metadata ${path} describes side file ${JSON.stringify(name)} badly`);
    }
  }
}

function parseMeta(text: string, path: string): MetaFile {
  let parsed: Partial<MetaFile>;
  try {
    parsed = JSON.parse(text) as Partial<MetaFile>;
  } catch (error) {
    throw new StorageError('CORRUPT', `snapshot metadata ${path} is not valid JSON`, { cause: error });
  }
  const checksummed = parsed.format !== 'base' || parsed.dataCrc32c !== undefined;
  const numbersValid = [parsed.index, parsed.term, parsed.dataBytes, ...(checksummed ? [parsed.dataCrc32c] : [])].every(isCount);
  if (!numbersValid) throw new StorageError('CORRUPT', `snapshot metadata ${path} lacks index, term, dataBytes or dataCrc32c`);
  checkLayout(parsed, path);
  const metadata = validateSnapshotMetadata(parsed as SnapshotMetadata, `snapshot metadata ${path}`);
  return { ...(parsed as MetaFile), ...metadata };
}

export function infoFromMeta(meta: MetaFile, directory: string): SnapshotInfo {
  return {
    metadata: { index: meta.index, term: meta.term, confState: meta.confState },
    context: meta.context,
    dataBytes: meta.dataBytes,
    dataCrc32c: meta.dataCrc32c,
    dataPath: join(directory, snapshotDataFileName),
    format: meta.format ?? 'full',
    parent: meta.parent,
    proof: meta.proof,
    files: Object.fromEntries(Object.keys(meta.files ?? {}).map((name) => [name, join(directory, name)])),
  };
}

async function sizeOf(path: string): Promise<number> {
  return fs.promises.stat(path).then(
    (stat) => stat.size,
    () => -1,
  );
}

export async function readMeta(directory: string): Promise<MetaFile> {
  const metaPath = join(directory, snapshotMetaFileName);
  let text: string;
  try {
    text = await fs.promises.readFile(metaPath, 'utf8');
  } catch (error) {
    throw new StorageError('CORRUPT', `snapshot ${directory} has no readable ${snapshotMetaFileName}`, { cause: error });
  }
  return parseMeta(text, metaPath);
}

/** Reads a snapshot directory and checks its files' sizes (a base's data may have changed size in a fold: not checked). */
export async function readSnapshotInfo(directory: string): Promise<SnapshotInfo> {
  const meta = await readMeta(directory);
  const info = infoFromMeta(meta, directory);
  const size = await sizeOf(info.dataPath);
  if (size < 0 || (info.format !== 'base' && size !== meta.dataBytes)) {
    throw new StorageError('CORRUPT', `snapshot data ${info.dataPath} is ${size} bytes, its metadata says ${meta.dataBytes}`);
  }
  for (const [name, summary] of Object.entries(meta.files ?? {})) {
    const sideSize = await sizeOf(join(directory, name));
    if (sideSize !== summary.bytes)
      throw new StorageError('CORRUPT', `snapshot file ${join(directory, name)} is ${sideSize} bytes, its metadata says ${summary.bytes}`);
  }
  return info;
}

/** Size and CRC32C of a file, read in checksumReadBytes chunks; stops with TOO_LARGE past `bytesMax`. */
export async function checksumFile(path: string, bytesMax: number): Promise<{ dataBytes: number; dataCrc32c: number }> {
  const handle = await fs.promises.open(path, 'r');
  try {
    const buffer = Buffer.allocUnsafe(checksumReadBytes);
    let dataBytes = 0;
    let dataCrc32c = 0;
    const readsMax = Math.ceil(bytesMax / checksumReadBytes) + 1;
    for (let read = 0; read <= readsMax; read++) {
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, dataBytes);
      if (bytesRead === 0) return { dataBytes, dataCrc32c };
      dataCrc32c = crc32cUpdate(dataCrc32c, buffer, 0, bytesRead);
      dataBytes += bytesRead;
    }
    throw new StorageError('TOO_LARGE', `snapshot data ${path} exceeds snapshotBytesMax ${bytesMax}`);
  } finally {
    await handle.close();
  }
}

export async function writeSyncedFile(path: string, text: string): Promise<void> {
  const fd = await openFile(path, 'wx');
  try {
    await writeFully(fd, Buffer.from(text, 'utf8'), 0);
    await fullSync(fd);
  } finally {
    await closeFile(fd);
  }
}

/** Replaces `<directory>/meta.json` atomically and durably (a temporary file renamed over it, the directory synced). */
export async function replaceMeta(directory: string, meta: MetaFile): Promise<void> {
  const temporaryPath = join(directory, `${snapshotMetaFileName}.rewrite`);
  await fs.promises.rm(temporaryPath, { force: true });
  await writeSyncedFile(temporaryPath, JSON.stringify(meta));
  await fs.promises.rename(temporaryPath, join(directory, snapshotMetaFileName));
  await syncDirectory(directory);
}

/** Copies `fromPath` to `toPath` through a temporary name: fsynced, renamed, the directory synced. */
export async function copyFileDurably(fromPath: string, toPath: string, directory: string): Promise<void> {
  const temporaryPath = `${toPath}.copy`;
  await fs.promises.rm(temporaryPath, { force: true });
  await fs.promises.copyFile(fromPath, temporaryPath);
  const fd = await openFile(temporaryPath, 'r+');
  try {
    await fullSync(fd);
  } finally {
    await closeFile(fd);
  }
  await fs.promises.rename(temporaryPath, toPath);
  await syncDirectory(directory);
}
