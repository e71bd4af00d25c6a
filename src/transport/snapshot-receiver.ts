/**
 * Receives one snapshot on an inbound connection into a temporary file: writes
 * chunks in order (pausing the socket while more than a few chunks wait for the
 * disk), hashes them, and at the end checks the byte count and SHA-256, fsyncs, and
 * hands the file to the runtime's handler. Any failure (bad checksum, too many bytes,
 * lost connection, idle timeout, handler error) deletes the temporary file and, if
 * the connection is still up, tells the sender why.
 */
import { createHash, randomUUID } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeValueFrame, FrameKind } from './codec.js';
import type { FramedConnection } from './connection.js';
import { errorCodeOf, errorMessageOf, TransportError } from './errors.js';
import type { TransportLimits } from './limits.js';
import type { SnapshotBegin, SnapshotEnd } from './protocol.js';
import type { SnapshotHandler, SnapshotSender } from './types.js';

interface SnapshotReceiveContext {
  readonly limits: TransportLimits;
  readonly snapshotDirectory: string;
  readonly nodeId: string;
  readonly handler: SnapshotHandler;
  readonly sender: SnapshotSender;
  readonly connection: FramedConnection;
}

export class SnapshotReceiver {
  readonly tempFilePath: string;
  /** Settles (never rejects) once the transfer is over and the temporary file is gone: true if the handler took it. */
  readonly done: Promise<boolean>;
  readonly #context: SnapshotReceiveContext;
  readonly #begin: SnapshotBegin;
  readonly #hash = createHash('sha256');
  #receivedBytes = 0;
  #pendingWriteBytes = 0;
  #readingPaused = false;
  readonly #file: Promise<FileHandle>;
  #writes: Promise<void>;
  #fileClosed = false;
  #failure: Error | undefined;
  #finished = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #resolveDone!: (received: boolean) => void;

  constructor(context: SnapshotReceiveContext, begin: SnapshotBegin) {
    this.#context = context;
    this.#begin = begin;
    this.tempFilePath = join(context.snapshotDirectory, `incoming-${context.nodeId}-${randomUUID()}.snapshot.tmp`);
    this.done = new Promise<boolean>((resolve) => (this.#resolveDone = resolve));
    this.#file = open(this.tempFilePath, 'wx', 0o600);
    this.#file.catch((error: unknown) => this.#fail(error));
    this.#writes = this.#file.then(() => undefined);
    this.#writes.catch(() => undefined);
    this.#touch();
  }

  chunk(bytes: Uint8Array): void {
    if (this.#failure !== undefined || this.#finished) return;
    this.#receivedBytes += bytes.byteLength;
    if (this.#receivedBytes > this.#begin.totalBytes) {
      this.#fail(new TransportError('SNAPSHOT_FAILED', `received more than the announced ${this.#begin.totalBytes} bytes`));
      return;
    }
    this.#hash.update(bytes);
    this.#pendingWriteBytes += bytes.byteLength;
    this.#writes = this.#writes.then(async () => {
      await writeFully(await this.#file, bytes);
      this.#pendingWriteBytes -= bytes.byteLength;
      this.#applyBackpressure();
    });
    this.#writes.catch((error: unknown) => this.#fail(error));
    this.#applyBackpressure();
    this.#touch();
  }

  end(endFrame: SnapshotEnd): void {
    if (this.#failure !== undefined || this.#finished) return;
    this.#finished = true;
    const expectedHash = this.#hash.digest('hex');
    void this.#complete(endFrame, expectedHash);
  }

  /** The connection closed or the transport is closing. */
  abort(error: Error): void {
    this.#fail(error);
  }

  async #complete(endFrame: SnapshotEnd, actualSha256: string): Promise<void> {
    try {
      await this.#writes;
      const handle = await this.#file;
      if (endFrame.totalBytes !== this.#begin.totalBytes || this.#receivedBytes !== this.#begin.totalBytes) {
        throw new TransportError('SNAPSHOT_FAILED', `snapshot has ${this.#receivedBytes} bytes, ${this.#begin.totalBytes} were announced`);
      }
      if (endFrame.sha256 !== actualSha256) {
        throw new TransportError('SNAPSHOT_FAILED', `snapshot checksum mismatch: sender says ${endFrame.sha256}, received ${actualSha256}`);
      }
      await handle.sync();
      await this.#closeFile();
      this.#stopTimer();
      await this.#context.handler(this.#begin.metadata, this.tempFilePath, this.#context.sender);
      // Whatever the handler left behind goes before the sender hears "done".
      await rm(this.tempFilePath, { force: true });
      this.#reply({ ok: true });
      this.#resolveDone(true);
    } catch (error) {
      this.#fail(error);
    }
  }

  #fail(error: unknown): void {
    if (this.#failure !== undefined) return;
    this.#failure = error instanceof Error ? error : new Error(String(error));
    this.#finished = true;
    this.#stopTimer();
    this.#reply({ ok: false, code: errorCodeOf(error), message: errorMessageOf(error) });
    void this.#cleanUp();
  }

  async #cleanUp(): Promise<void> {
    try {
      await this.#closeFile();
    } catch {
      // The file is deleted next; a failed close changes nothing about that.
    }
    await rm(this.tempFilePath, { force: true }).catch(() => undefined);
    this.#resolveDone(false);
  }

  async #closeFile(): Promise<void> {
    await this.#writes.catch(() => undefined);
    const handle = await this.#file.catch(() => undefined);
    if (handle === undefined || this.#fileClosed) return;
    this.#fileClosed = true;
    await handle.close();
  }

  #reply(result: { ok: true } | { ok: false; code: string; message: string }): void {
    const connection = this.#context.connection;
    if (connection.isClosed) return;
    let frame: Buffer;
    try {
      frame = encodeValueFrame(FrameKind.snapshotResult, result, this.#context.limits.frameBytesMax);
    } catch (error) {
      // Only a frameBytesMax too small for an error message gets here: hang up instead.
      connection.close(error instanceof Error ? error : new Error(String(error)));
      return;
    }
    connection.write(frame);
    if (!result.ok) connection.end();
  }

  #applyBackpressure(): void {
    const highWaterBytes = 4 * this.#context.limits.snapshotChunkBytes;
    if (!this.#readingPaused && this.#pendingWriteBytes > highWaterBytes) {
      this.#readingPaused = true;
      this.#context.connection.pauseReading();
    } else if (this.#readingPaused && this.#pendingWriteBytes <= highWaterBytes / 2) {
      this.#readingPaused = false;
      this.#context.connection.resumeReading();
    }
  }

  #touch(): void {
    this.#stopTimer();
    const idleTimeoutMs = this.#context.limits.snapshotIdleTimeoutMs;
    this.#idleTimer = setTimeout(() => this.#fail(new TransportError('TIMEOUT', `snapshot transfer made no progress for ${idleTimeoutMs} ms`)), idleTimeoutMs);
  }

  #stopTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

async function writeFully(handle: FileHandle, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  // Each pass writes at least one byte (a zero-byte write would be an fs bug and throws).
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset);
    if (bytesWritten <= 0) throw new Error('the file system accepted no bytes');
    offset += bytesWritten;
  }
}
