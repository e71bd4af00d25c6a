/**
 * Receives one snapshot on an inbound connection into a temporary file: writes
 * chunks in order (pausing the socket while more than a few chunks wait for the
 * disk), hashes them, and at the end checks the byte count and SHA-256, fsyncs, and
 * hands the file to the runtime's handler. Any failure (bad checksum, too many bytes,
 * lost connection, idle timeout, handler error) deletes the temporary file and, if
 * the connection is still up, tells the sender why.
 *
 * A resumable transfer (the begin frame names a `resumeKey`) is written to a file named
 * by the sender and that key (snapshot-partials.ts), kept when the connection is lost or
 * goes idle: the next attempt is offered what it holds (its length and SHA-256), and the
 * sender continues from there if its own file starts with the same bytes (a seek frame
 * says where the chunks start). One such file is kept per sender.
 */
import { createHash, randomUUID, type Hash } from 'node:crypto';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { encodeValueFrame, FrameKind } from './codec.js';
import type { FramedConnection } from './connection.js';
import { errorCodeOf, errorMessageOf, TransportError } from './errors.js';
import type { TransportLimits } from './limits.js';
import type { SnapshotBegin, SnapshotEnd } from './protocol.js';
import { openPartial, partialPath, type OpenedPartial } from './snapshot-partials.js';
import type { SnapshotHandler, SnapshotSender } from './types.js';

interface SnapshotReceiveContext {
  readonly limits: TransportLimits;
  readonly snapshotDirectory: string;
  readonly nodeId: string;
  readonly handler: SnapshotHandler;
  readonly sender: SnapshotSender;
  readonly connection: FramedConnection;
  /** Settles once no other running transfer writes `path` (the attempt a resumed one continues). */
  receivesOf(path: string): Promise<void>;
}

export class SnapshotReceiver {
  readonly tempFilePath: string;
  /** Settles (never rejects) once the transfer is over, its file gone (or kept to resume): true if the handler took it. */
  readonly done: Promise<boolean>;
  readonly #context: SnapshotReceiveContext;
  readonly #begin: SnapshotBegin;
  #hash: Hash = createHash('sha256');
  #receivedBytes = 0;
  /** Where the next chunk goes in the file. */
  #position = 0;
  #pendingWriteBytes = 0;
  #readingPaused = false;
  readonly #file: Promise<FileHandle>;
  /** What a resumable transfer's file held when it was opened: offered to the sender, which answers with a seek. */
  #offered: OpenedPartial | undefined;
  #awaitingSeek: boolean;
  #writes: Promise<void>;
  #fileClosed = false;
  #failure: Error | undefined;
  #finished = false;
  #idleTimer: NodeJS.Timeout | undefined;
  #resolveDone!: (received: boolean) => void;

  constructor(context: SnapshotReceiveContext, begin: SnapshotBegin) {
    this.#context = context;
    this.#begin = begin;
    const resumeKey = begin.resumeKey;
    this.#awaitingSeek = resumeKey !== undefined;
    this.done = new Promise<boolean>((resolve) => (this.#resolveDone = resolve));
    if (resumeKey === undefined) {
      this.tempFilePath = join(context.snapshotDirectory, `incoming-${context.nodeId}-${randomUUID()}.snapshot.tmp`);
      this.#file = open(this.tempFilePath, 'wx', 0o600);
    } else {
      this.tempFilePath = partialPath(context.snapshotDirectory, context.sender.fromId, resumeKey);
      const { snapshotDirectory, sender } = context;
      const earlier = context.receivesOf(this.tempFilePath);
      this.#file = earlier
        .then(() => openPartial(snapshotDirectory, sender.fromId, resumeKey, begin.totalBytes))
        .then((partial) => {
          this.#offered = partial;
          this.#send(FrameKind.snapshotOffer, { offset: partial.offset, sha256: partial.prefixHash.copy().digest('hex') });
          return partial.handle;
        });
    }
    this.#file.catch((error: unknown) => this.#fail(error));
    this.#writes = this.#file.then(() => undefined);
    this.#writes.catch(() => undefined);
    this.#touch();
  }

  /** The sender's answer to an offer: the chunks that follow start at `offset` (0, or all that was offered). */
  seek(offset: number): void {
    if (this.#failure !== undefined || this.#finished) return;
    const offered = this.#offered;
    if (!this.#awaitingSeek || offered === undefined || (offset !== 0 && offset !== offered.offset)) {
      throw new TransportError('MALFORMED_FRAME', `a seek to ${offset} that answers no offer`);
    }
    this.#awaitingSeek = false;
    this.#hash = offset === 0 ? createHash('sha256') : offered.prefixHash;
    this.#receivedBytes = offset;
    this.#position = offset;
    this.#writes = this.#writes.then(async () => (await this.#file).truncate(offset));
    this.#writes.catch((error: unknown) => this.#fail(error));
    this.#touch();
  }

  chunk(bytes: Uint8Array): void {
    if (this.#failure !== undefined || this.#finished) return;
    if (this.#awaitingSeek) throw new TransportError('MALFORMED_FRAME', 'snapshot data before the seek that answers the offer');
    this.#receivedBytes += bytes.byteLength;
    if (this.#receivedBytes > this.#begin.totalBytes) {
      this.#fail(new TransportError('SNAPSHOT_FAILED', `received more than the announced ${this.#begin.totalBytes} bytes`));
      return;
    }
    this.#hash.update(bytes);
    this.#pendingWriteBytes += bytes.byteLength;
    const position = this.#position;
    this.#position += bytes.byteLength;
    this.#writes = this.#writes.then(async () => {
      await writeFully(await this.#file, bytes, position);
      this.#pendingWriteBytes -= bytes.byteLength;
      this.#applyBackpressure();
    });
    this.#writes.catch((error: unknown) => this.#fail(error));
    this.#applyBackpressure();
    this.#touch();
  }

  end(endFrame: SnapshotEnd): void {
    if (this.#failure !== undefined || this.#finished) return;
    if (this.#awaitingSeek) throw new TransportError('MALFORMED_FRAME', 'the end of a snapshot before the seek that answers the offer');
    this.#finished = true;
    const expectedHash = this.#hash.digest('hex');
    void this.#complete(endFrame, expectedHash);
  }

  /** The connection closed or the transport is closing: a resumable transfer keeps what it received. */
  abort(error: Error): void {
    this.#fail(error, true);
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

  /** `resumable`: a failure of the connection, not of the data: a resumable transfer keeps its file for the next attempt. */
  #fail(error: unknown, resumable = false): void {
    if (this.#failure !== undefined) return;
    this.#failure = error instanceof Error ? error : new Error(String(error));
    this.#finished = true;
    this.#stopTimer();
    this.#reply({ ok: false, code: errorCodeOf(error), message: errorMessageOf(error) });
    void this.#cleanUp(resumable && this.#begin.resumeKey !== undefined);
  }

  async #cleanUp(keep: boolean): Promise<void> {
    try {
      await this.#closeFile();
    } catch {
      // The file is deleted next, or kept for a resume that checks it; a failed close changes neither.
    }
    if (!keep) await rm(this.tempFilePath, { force: true }).catch(() => undefined);
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
    if (this.#send(FrameKind.snapshotResult, result) && !result.ok) this.#context.connection.end();
  }

  /** Writes one frame to the sender; false when the connection is gone (or the frame could not be made). */
  #send(kind: FrameKind, value: unknown): boolean {
    const connection = this.#context.connection;
    if (connection.isClosed) return false;
    let frame: Buffer;
    try {
      frame = encodeValueFrame(kind, value, this.#context.limits.frameBytesMax);
    } catch (error) {
      // Only a frameBytesMax too small for an error message gets here: hang up instead.
      connection.close(error instanceof Error ? error : new Error(String(error)));
      return false;
    }
    connection.write(frame);
    return true;
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
    const timeout = (): void => this.#fail(new TransportError('TIMEOUT', `snapshot transfer made no progress for ${idleTimeoutMs} ms`), true);
    this.#idleTimer = setTimeout(timeout, idleTimeoutMs);
  }

  #stopTimer(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }
}

async function writeFully(handle: FileHandle, bytes: Uint8Array, position: number): Promise<void> {
  let offset = 0;
  // Each pass writes at least one byte (a zero-byte write would be an fs bug and throws).
  while (offset < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, offset, bytes.byteLength - offset, position + offset);
    if (bytesWritten <= 0) throw new Error('the file system accepted no bytes');
    offset += bytesWritten;
  }
}
