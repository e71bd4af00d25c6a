/**
 * Snapshot files. Each snapshot is a directory `snapshot-<index>-<term>` holding
 * `data` (the state machine's bytes, a SQLite database file, streamed, never required
 * in memory) and `meta.json` (index, term, confState, the runtime's opaque context,
 * dataBytes and the data's CRC32C). A snapshot is written in a `tmp-*` directory,
 * fsynced, renamed into place and the parent directory fsynced, so it appears whole or
 * not at all. The newest `retainCount` snapshots are kept, and beside them the newest one
 * the durable log vouches for (see `guardRetention`).
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { ConfState, SnapshotMetadata } from '../raft/types.js';
import { crc32cUpdate } from './crc32c.js';
import { StorageError, storageErrorFromSystem } from './errors.js';
import { assert } from '../common/assert.js';
import { closeFile, fullSync, openFile, syncDirectory, writeFully } from './file-io.js';

const snapshotDataFileName = 'data';
const snapshotMetaFileName = 'meta.json';
const snapshotDirectoryPattern = /^snapshot-(\d{20})-(\d{20})$/;
const temporaryPrefix = 'tmp-';
const checksumReadBytes = 1 << 20;

export interface SnapshotStoreOptions {
  /** How many snapshots to keep (the newest ones). At least 1. */
  readonly retainCount: number;
  /** Largest snapshot data accepted. */
  readonly snapshotBytesMax: number;
  /** Largest JSON-encoded context accepted. */
  readonly contextBytesMax: number;
}

interface SnapshotInfo {
  readonly metadata: SnapshotMetadata;
  /** The runtime's opaque, JSON-serialisable context (e.g. member addresses). */
  readonly context: unknown;
  readonly dataBytes: number;
  readonly dataCrc32c: number;
  /** The data file: stream it with `openSnapshotData` (safe against deletion while streaming). */
  readonly dataPath: string;
}

interface MetaFile {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
  readonly context: unknown;
  readonly dataBytes: number;
  readonly dataCrc32c: number;
}

function snapshotDirectoryName(index: number, term: number): string {
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

function parseMeta(text: string, path: string): MetaFile {
  let parsed: Partial<MetaFile>;
  try {
    parsed = JSON.parse(text) as Partial<MetaFile>;
  } catch (error) {
    throw new StorageError('CORRUPT', `snapshot metadata ${path} is not valid JSON`, { cause: error });
  }
  const numbersValid = [parsed.index, parsed.term, parsed.dataBytes, parsed.dataCrc32c].every(
    (value) => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0,
  );
  if (!numbersValid) throw new StorageError('CORRUPT', `snapshot metadata ${path} lacks index, term, dataBytes or dataCrc32c`);
  const metadata = validateSnapshotMetadata(parsed as SnapshotMetadata, `snapshot metadata ${path}`);
  return { ...(parsed as MetaFile), ...metadata };
}

/** Writes one snapshot. Feed it with `write`, or write `dataPath` directly (e.g. a SQLite backup), then `commit`. */
class SnapshotWriter {
  #dataBytesWritten = 0;
  #finished = false;
  readonly #store: SnapshotStore;
  readonly #fd: number;

  private constructor(
    store: SnapshotStore,
    readonly metadata: SnapshotMetadata,
    readonly context: unknown,
    readonly temporaryDirectory: string,
    fd: number,
  ) {
    this.#store = store;
    this.#fd = fd;
  }

  /** The data file being written; a producer may write it itself instead of calling `write`. */
  get dataPath(): string {
    return join(this.temporaryDirectory, snapshotDataFileName);
  }

  static async create(store: SnapshotStore, metadata: SnapshotMetadata, context: unknown, directory: string): Promise<SnapshotWriter> {
    const temporaryDirectory = join(directory, `${temporaryPrefix}${randomBytes(8).toString('hex')}`);
    try {
      await fs.promises.mkdir(temporaryDirectory);
      const fd = await openFile(join(temporaryDirectory, snapshotDataFileName), 'wx');
      return new SnapshotWriter(store, metadata, context, temporaryDirectory, fd);
    } catch (error) {
      await fs.promises.rm(temporaryDirectory, { recursive: true, force: true }).catch(() => undefined);
      throw storageErrorFromSystem(error, `creating snapshot directory ${temporaryDirectory}`);
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    assert(!this.#finished, 'snapshot writer is still open');
    if (this.#dataBytesWritten + chunk.length > this.#store.options.snapshotBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot data exceeds snapshotBytesMax ${this.#store.options.snapshotBytesMax}`);
    }
    try {
      await writeFully(this.#fd, chunk, this.#dataBytesWritten);
    } catch (error) {
      throw storageErrorFromSystem(error, `writing snapshot data ${this.dataPath}`);
    }
    this.#dataBytesWritten += chunk.length;
  }

  /** Makes the snapshot durable and visible; removes snapshots beyond the retain count. */
  async commit(): Promise<SnapshotInfo> {
    assert(!this.#finished, 'snapshot writer is still open');
    this.#finished = true;
    try {
      await fullSync(this.#fd);
      await closeFile(this.#fd);
      return await this.#store.publish(this);
    } catch (error) {
      await fs.promises.rm(this.temporaryDirectory, { recursive: true, force: true }).catch(() => undefined);
      throw storageErrorFromSystem(error, `committing snapshot ${this.metadata.index}/${this.metadata.term}`);
    }
  }

  async abort(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    await closeFile(this.#fd).catch(() => undefined);
    await fs.promises.rm(this.temporaryDirectory, { recursive: true, force: true });
  }
}

export class SnapshotStore {
  #snapshots: SnapshotInfo[] = [];
  #vouchedFor: (metadata: SnapshotMetadata) => boolean = () => false;

  private constructor(
    readonly directory: string,
    readonly options: SnapshotStoreOptions,
  ) {
    assert(Number.isSafeInteger(options.retainCount) && options.retainCount >= 1, 'retainCount is at least 1');
  }

  /** Opens the directory: removes unfinished `tmp-*` writes, reads every snapshot's metadata. */
  static async open(directory: string, options: SnapshotStoreOptions): Promise<SnapshotStore> {
    const store = new SnapshotStore(directory, options);
    await fs.promises.mkdir(directory, { recursive: true });
    for (const name of (await fs.promises.readdir(directory)).sort()) {
      if (name.startsWith(temporaryPrefix)) {
        await fs.promises.rm(join(directory, name), { recursive: true, force: true });
        continue;
      }
      if (snapshotDirectoryPattern.test(name)) store.#snapshots.push(await readSnapshotInfo(join(directory, name)));
    }
    store.#sortNewestFirst();
    return store;
  }

  /** Snapshots, newest first. */
  list(): readonly SnapshotInfo[] {
    return this.#snapshots;
  }

  latest(): SnapshotInfo | undefined {
    return this.#snapshots[0];
  }

  find(index: number, term: number): SnapshotInfo | undefined {
    return this.#snapshots.find((info) => info.metadata.index === index && info.metadata.term === term);
  }

  async begin(metadata: SnapshotMetadata, context: unknown = null): Promise<SnapshotWriter> {
    const validMetadata = validateSnapshotMetadata(metadata, 'snapshot');
    const contextJson = JSON.stringify(context ?? null);
    if (contextJson === undefined || Buffer.byteLength(contextJson) > this.options.contextBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot context must be JSON of at most contextBytesMax ${this.options.contextBytesMax} bytes`);
    }
    return SnapshotWriter.create(this, validMetadata, JSON.parse(contextJson), this.directory);
  }

  /** Writes a whole snapshot from bytes already in memory. */
  async writeBytes(metadata: SnapshotMetadata, data: Uint8Array, context: unknown = null): Promise<SnapshotInfo> {
    const writer = await this.begin(metadata, context);
    try {
      await writer.write(data);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    return writer.commit();
  }

  /** Called by SnapshotWriter.commit once the data file is synced and closed. */
  async publish(writer: SnapshotWriter): Promise<SnapshotInfo> {
    const { dataBytes, dataCrc32c } = await checksumFile(writer.dataPath, this.options.snapshotBytesMax);
    if (dataBytes > this.options.snapshotBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot data ${dataBytes} bytes exceeds snapshotBytesMax ${this.options.snapshotBytesMax}`);
    }
    const meta: MetaFile = { ...writer.metadata, context: writer.context, dataBytes, dataCrc32c };
    await writeSyncedFile(join(writer.temporaryDirectory, snapshotMetaFileName), JSON.stringify(meta));
    await syncDirectory(writer.temporaryDirectory);
    const existing = this.find(meta.index, meta.term);
    if (existing !== undefined) {
      // Same index and term is the same state (apply is deterministic): keep the durable one.
      await removeDirectoryAtomically(writer.temporaryDirectory, this.directory);
      return existing;
    }
    const finalDirectory = join(this.directory, snapshotDirectoryName(meta.index, meta.term));
    await fs.promises.rename(writer.temporaryDirectory, finalDirectory);
    await syncDirectory(this.directory);
    const info = infoFromMeta(meta, finalDirectory);
    this.#snapshots = this.#snapshots.filter((other) => other.metadata.index !== meta.index || other.metadata.term !== meta.term);
    this.#snapshots.push(info);
    this.#sortNewestFirst();
    await this.#removeBeyondRetainCount();
    return info;
  }

  /**
   * Lost-quorum recovery: gives the stored snapshot (index, term) a new membership and
   * context, keeping its data (the state at that index does not change). meta.json is
   * replaced by an atomic rename, then the directory synced: after a crash the snapshot
   * has the old metadata or the new, never neither.
   */
  async rewriteMembership(index: number, term: number, confState: ConfState, context: unknown): Promise<SnapshotInfo> {
    const existing = this.find(index, term);
    if (existing === undefined) throw new StorageError('NOT_FOUND', `no snapshot ${index}/${term} to rewrite`);
    const contextJson = JSON.stringify(context ?? null);
    if (contextJson === undefined || Buffer.byteLength(contextJson) > this.options.contextBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot context must be JSON of at most contextBytesMax ${this.options.contextBytesMax} bytes`);
    }
    const metadata = validateSnapshotMetadata({ index, term, confState }, 'rewrite snapshot membership');
    const meta: MetaFile = { ...metadata, context: JSON.parse(contextJson), dataBytes: existing.dataBytes, dataCrc32c: existing.dataCrc32c };
    const directory = join(existing.dataPath, '..');
    const temporaryPath = join(directory, `${snapshotMetaFileName}.rewrite`);
    try {
      await fs.promises.rm(temporaryPath, { force: true });
      await writeSyncedFile(temporaryPath, JSON.stringify(meta));
      await fs.promises.rename(temporaryPath, join(directory, snapshotMetaFileName));
      await syncDirectory(directory);
    } catch (error) {
      throw storageErrorFromSystem(error, `rewriting the metadata of snapshot ${index}/${term}`);
    }
    const info = infoFromMeta(meta, directory);
    this.#snapshots = this.#snapshots.map((other) => (other === existing ? info : other));
    return info;
  }

  /** Removes every snapshot whose metadata `unusable` picks; returns what it removed. */
  async discardWhere(unusable: (metadata: SnapshotMetadata) => boolean): Promise<SnapshotInfo[]> {
    const discarded = this.#snapshots.filter((info) => unusable(info.metadata));
    this.#snapshots = this.#snapshots.filter((info) => !unusable(info.metadata));
    for (const info of discarded) await removeDirectoryAtomically(join(info.dataPath, '..'), this.directory);
    return discarded;
  }

  /** Opens a snapshot's data for reading; the open handle keeps working even if the snapshot is removed meanwhile. */
  async openData(info: SnapshotInfo): Promise<fs.promises.FileHandle> {
    try {
      return await fs.promises.open(info.dataPath, 'r');
    } catch (error) {
      if ((error as { code?: string }).code === 'ENOENT') {
        throw new StorageError('NOT_FOUND', `snapshot ${info.metadata.index}/${info.metadata.term} no longer exists`, { cause: error });
      }
      throw storageErrorFromSystem(error, `opening snapshot ${info.dataPath}`);
    }
  }

  /** Re-reads a snapshot's data and checks its size and CRC32C; throws CORRUPT on mismatch. */
  async verify(info: SnapshotInfo): Promise<void> {
    const { dataBytes, dataCrc32c } = await checksumFile(info.dataPath, Math.max(info.dataBytes, this.options.snapshotBytesMax));
    if (dataBytes !== info.dataBytes || dataCrc32c !== info.dataCrc32c) {
      throw new StorageError(
        'CORRUPT',
        `snapshot data ${info.dataPath} does not match its metadata (bytes ${dataBytes}/${info.dataBytes}, crc ${dataCrc32c}/${info.dataCrc32c})`,
      );
    }
  }

  #sortNewestFirst(): void {
    this.#snapshots.sort((a, b) => b.metadata.index - a.metadata.index || b.metadata.term - a.metadata.term);
  }

  /**
   * Retention never removes the newest snapshot that `vouchedFor` accepts (the durable
   * log agrees with it), even when newer ones fill `retainCount`. Received snapshots are
   * stored before their install record is durable: without this, two transfers could
   * evict the snapshot covering the compacted log, and after a crash (which discards the
   * uninstalled ones) the node would have no snapshot for its compacted prefix.
   */
  guardRetention(vouchedFor: (metadata: SnapshotMetadata) => boolean): void {
    this.#vouchedFor = vouchedFor;
  }

  async #removeBeyondRetainCount(): Promise<void> {
    const guarded = this.#snapshots.find((info) => this.#vouchedFor(info.metadata));
    const kept = this.#snapshots.filter((info, position) => position < this.options.retainCount || info === guarded);
    const removed = this.#snapshots.filter((info) => !kept.includes(info));
    this.#snapshots = kept;
    for (const info of removed) await removeDirectoryAtomically(join(info.dataPath, '..'), this.directory);
  }
}

/**
 * Renames a snapshot directory to a `tmp-` name (atomic, synced) before deleting its
 * files, so a crash mid-delete never leaves a half-deleted snapshot that looks whole;
 * open() removes leftover `tmp-` directories.
 */
async function removeDirectoryAtomically(path: string, parent: string): Promise<void> {
  const doomed = join(parent, `${temporaryPrefix}deleting-${randomBytes(8).toString('hex')}`);
  await fs.promises.rename(path, doomed);
  await syncDirectory(parent);
  await fs.promises.rm(doomed, { recursive: true, force: true });
}

function infoFromMeta(meta: MetaFile, directory: string): SnapshotInfo {
  return {
    metadata: { index: meta.index, term: meta.term, confState: meta.confState },
    context: meta.context,
    dataBytes: meta.dataBytes,
    dataCrc32c: meta.dataCrc32c,
    dataPath: join(directory, snapshotDataFileName),
  };
}

async function readSnapshotInfo(directory: string): Promise<SnapshotInfo> {
  const metaPath = join(directory, snapshotMetaFileName);
  let text: string;
  try {
    text = await fs.promises.readFile(metaPath, 'utf8');
  } catch (error) {
    throw new StorageError('CORRUPT', `snapshot ${directory} has no readable ${snapshotMetaFileName}`, { cause: error });
  }
  const meta = parseMeta(text, metaPath);
  const info = infoFromMeta(meta, directory);
  const size = await fs.promises.stat(info.dataPath).then(
    (stat) => stat.size,
    () => -1,
  );
  if (size !== meta.dataBytes) {
    throw new StorageError('CORRUPT', `snapshot data ${info.dataPath} is ${size} bytes, its metadata says ${meta.dataBytes}`);
  }
  return info;
}

/** Size and CRC32C of a file, read in checksumReadBytes chunks; stops with TOO_LARGE past `bytesMax`. */
async function checksumFile(path: string, bytesMax: number): Promise<{ dataBytes: number; dataCrc32c: number }> {
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

async function writeSyncedFile(path: string, text: string): Promise<void> {
  const fd = await openFile(path, 'wx');
  try {
    await writeFully(fd, Buffer.from(text, 'utf8'), 0);
    await fullSync(fd);
  } finally {
    await closeFile(fd);
  }
}
