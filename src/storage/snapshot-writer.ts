/**
 * Writes one snapshot into a `tmp-*` directory of the store: `data` fed with `write` (or
 * written by the producer at `dataPath`), side files written by the producer at
 * `pathOf(name)`; `commit` syncs them and hands the directory to the store, which checks
 * and publishes it whole (snapshot-store.ts).
 */
import * as fs from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import type { SnapshotMetadata } from '../raft/types.js';
import { assert } from '../common/assert.js';
import { StorageError, storageErrorFromSystem } from './errors.js';
import { closeFile, fullSync, openFile, writeFully } from './file-io.js';
import { snapshotDataFileName, validateSideFileName, type SnapshotFormat, type SnapshotInfo, type SnapshotParent } from './snapshot-meta.js';

export const temporaryPrefix = 'tmp-';

/** How a snapshot is laid out: its format, a delta's parent, the producer's proof and side files. */
export interface SnapshotLayout {
  readonly format: SnapshotFormat;
  readonly parent?: SnapshotParent;
  readonly proof?: string;
  /** Names of the files beside `data` the producer writes (at `pathOf(name)`). */
  readonly files?: readonly string[];
}

/** What the writer needs of its store. */
export interface SnapshotPublisher {
  readonly snapshotBytesMax: number;
  publish(writer: SnapshotWriter): Promise<SnapshotInfo>;
}

export class SnapshotWriter {
  #dataBytesWritten = 0;
  #finished = false;
  readonly #publisher: SnapshotPublisher;
  readonly #fd: number;

  private constructor(
    publisher: SnapshotPublisher,
    readonly metadata: SnapshotMetadata,
    readonly context: unknown,
    readonly layout: SnapshotLayout,
    readonly temporaryDirectory: string,
    fd: number,
  ) {
    this.#publisher = publisher;
    this.#fd = fd;
  }

  /** The data file being written; a producer may write it itself instead of calling `write`. */
  get dataPath(): string {
    return join(this.temporaryDirectory, snapshotDataFileName);
  }

  /** Where the producer writes side file `name` (one the layout names). */
  pathOf(name: string): string {
    assert(this.layout.files?.includes(name) === true, `side file ${name} is in the layout`);
    return join(this.temporaryDirectory, name);
  }

  static async create(
    publisher: SnapshotPublisher,
    metadata: SnapshotMetadata,
    context: unknown,
    layout: SnapshotLayout,
    directory: string,
  ): Promise<SnapshotWriter> {
    for (const name of layout.files ?? []) validateSideFileName(name);
    const temporaryDirectory = join(directory, `${temporaryPrefix}${randomBytes(8).toString('hex')}`);
    try {
      await fs.promises.mkdir(temporaryDirectory);
      const fd = await openFile(join(temporaryDirectory, snapshotDataFileName), 'wx');
      return new SnapshotWriter(publisher, metadata, context, layout, temporaryDirectory, fd);
    } catch (error) {
      await fs.promises.rm(temporaryDirectory, { recursive: true, force: true }).catch(() => undefined);
      throw storageErrorFromSystem(error, `creating snapshot directory ${temporaryDirectory}`);
    }
  }

  async write(chunk: Uint8Array): Promise<void> {
    assert(!this.#finished, 'snapshot writer is still open');
    if (this.#dataBytesWritten + chunk.length > this.#publisher.snapshotBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot data exceeds snapshotBytesMax ${this.#publisher.snapshotBytesMax}`);
    }
    try {
      await writeFully(this.#fd, chunk, this.#dataBytesWritten);
    } catch (error) {
      throw storageErrorFromSystem(error, `writing snapshot data ${this.dataPath}`);
    }
    this.#dataBytesWritten += chunk.length;
  }

  /** Makes the snapshot durable and visible; removes snapshots the store no longer keeps. */
  async commit(): Promise<SnapshotInfo> {
    assert(!this.#finished, 'snapshot writer is still open');
    this.#finished = true;
    try {
      await fullSync(this.#fd);
      await closeFile(this.#fd);
      for (const name of this.layout.files ?? []) await syncFile(this.pathOf(name));
      return await this.#publisher.publish(this);
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

async function syncFile(path: string): Promise<void> {
  const fd = await openFile(path, 'r+');
  try {
    await fullSync(fd);
  } finally {
    await closeFile(fd);
  }
}
