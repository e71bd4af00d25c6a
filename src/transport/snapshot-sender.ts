/**
 * Streams one snapshot file to a peer over a connection of its own, so a large
 * transfer never delays Raft heartbeats on the peer's message link. Chunks are at
 * most `snapshotChunkBytes`; the sender waits for 'drain' whenever the connection
 * reports backpressure, so memory stays bounded whatever the file size. The last
 * frame carries the SHA-256 of the whole file; the promise resolves only when the
 * receiver has verified it, fsynced it and its handler has taken it.
 *
 * With a `resumeKey`, to a peer that announced 'snapshot-resume': the receiver offers
 * what an earlier attempt left it (a length and its SHA-256); when this file starts with
 * the same bytes, only the rest is sent (a seek frame says from where), else all of it.
 */
import assert from 'node:assert/strict';
import { createHash, type Hash } from 'node:crypto';
import { open, stat } from 'node:fs/promises';
import { encodeFrame, encodeValueFrame, FrameKind, type Frame } from './codec.js';
import type { ConnectionEvents, FramedConnection } from './connection.js';
import { TransportError } from './errors.js';
import type { TransportLimits } from './limits.js';
import type { MetricsRegistry } from './metrics.js';
import { decodeSnapshotOffer, decodeSnapshotResult, type SnapshotOffer, type SnapshotResult } from './protocol.js';

export interface SnapshotSendContext {
  readonly limits: TransportLimits;
  readonly metrics: MetricsRegistry;
  openConnection(address: string, expectedId: string | undefined, events: ConnectionEvents): Promise<FramedConnection>;
}

export interface SnapshotSendRequest {
  readonly to: string;
  readonly address: string;
  readonly metadata: unknown;
  readonly filePath: string;
  readonly signal: AbortSignal | undefined;
  /** Names the file across attempts: a later attempt with the same key may continue where this one stopped. */
  readonly resumeKey: string | undefined;
}

/** Waits for the connection's next drain, result frame or failure, with an idle timeout. */
class SendSession {
  readonly #idleTimeoutMs: number;
  readonly #to: string;
  #failure: Error | undefined;
  #result: SnapshotResult | undefined;
  #offer: SnapshotOffer | undefined;
  #wake: (() => void) | undefined;
  #connection: FramedConnection | undefined;
  #idleTimer: NodeJS.Timeout | undefined;
  readonly events: ConnectionEvents;

  constructor(idleTimeoutMs: number, to: string) {
    this.#idleTimeoutMs = idleTimeoutMs;
    this.#to = to;
    this.events = {
      onFrame: (_connection, frame) => this.#receive(frame),
      onDrain: () => this.#notify(),
      onClose: (_connection, error) => {
        this.#failure ??= error ?? new TransportError('UNREACHABLE', `${to} closed the snapshot connection`, { peer: to });
        this.#notify();
      },
      onFaultDrop: () => undefined,
    };
  }

  attach(connection: FramedConnection): void {
    this.#connection = connection;
    this.touch();
  }

  fail(error: Error): void {
    this.#failure ??= error;
    this.#connection?.close(error);
    this.#notify();
  }

  /** Restarts the idle timer: called on every unit of progress. */
  touch(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = setTimeout(
      () => this.fail(new TransportError('TIMEOUT', `snapshot transfer made no progress for ${this.#idleTimeoutMs} ms`)),
      this.#idleTimeoutMs,
    );
  }

  stop(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
  }

  throwIfFailed(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  async waitUntil(ready: () => boolean): Promise<void> {
    // Each wake-up is a drain, a frame or a failure; failures end the wait.
    while (!ready()) {
      this.throwIfFailed();
      await new Promise<void>((resolve) => (this.#wake = resolve));
      this.touch();
    }
    this.throwIfFailed();
  }

  get resultFrame(): SnapshotResult | undefined {
    return this.#result;
  }

  get offerFrame(): SnapshotOffer | undefined {
    return this.#offer;
  }

  #receive(frame: Frame): void {
    if (frame.kind === FrameKind.snapshotOffer && this.#offer === undefined) {
      this.#offer = decodeSnapshotOffer(frame.payload);
      this.#notify();
      return;
    }
    if (frame.kind !== FrameKind.snapshotResult) {
      throw new TransportError('MALFORMED_FRAME', `unexpected frame kind ${frame.kind} on a snapshot connection`);
    }
    const result = decodeSnapshotResult(frame.payload);
    this.#result = result;
    // A refusal can arrive mid-stream (no slot, too large): it is the reason, whatever follows.
    if (!result.ok) {
      this.#failure ??= new TransportError('SNAPSHOT_FAILED', `${this.#to} refused the snapshot: ${result.code}: ${result.message}`, {
        peer: this.#to,
        remoteCode: result.code,
        remoteMessage: result.message,
      });
    }
    this.#notify();
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = undefined;
    wake?.();
  }
}

export async function sendSnapshotFile(context: SnapshotSendContext, request: SnapshotSendRequest): Promise<void> {
  const { limits } = context;
  const totalBytes = await fileBytes(request.filePath);
  if (totalBytes > limits.snapshotBytesMax) {
    throw new TransportError('INVALID_ARGUMENT', `snapshot file of ${totalBytes} bytes exceeds snapshotBytesMax ${limits.snapshotBytesMax}`);
  }
  const session = new SendSession(limits.snapshotIdleTimeoutMs, request.to);
  const onAbort = (): void => session.fail(new TransportError('ABORTED', `snapshot transfer to ${request.to} was aborted`, { peer: request.to }));
  if (request.signal?.aborted === true) onAbort();
  session.throwIfFailed();
  request.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const connection = await context.openConnection(request.address, request.to, session.events);
    session.attach(connection);
    session.throwIfFailed();
    const resumeKey = connection.remoteFeatures.includes('snapshot-resume') ? request.resumeKey : undefined;
    connection.write(
      encodeValueFrame(
        FrameKind.snapshotBegin,
        { metadata: request.metadata, totalBytes, ...(resumeKey === undefined ? {} : { resumeKey }) },
        limits.frameBytesMax,
      ),
    );
    const start =
      resumeKey === undefined ? { offset: 0, hash: createHash('sha256') } : await agreeOnStart(connection, session, request.filePath, totalBytes, limits);
    if (start.offset > 0) context.metrics.peer(request.to).snapshotBytesResumed += start.offset;
    const sha256 = await streamChunks(connection, session, request.filePath, totalBytes, limits, start);
    connection.write(encodeValueFrame(FrameKind.snapshotEnd, { totalBytes, sha256 }, limits.frameBytesMax));
    await session.waitUntil(() => session.resultFrame !== undefined);
    assert((session.resultFrame as SnapshotResult).ok, 'a refusal fails the session before this point');
    connection.end();
    context.metrics.peer(request.to).snapshotsSent++;
  } catch (error) {
    session.fail(error instanceof Error ? error : new Error(String(error)));
    throw asSnapshotError(error, request.to);
  } finally {
    session.stop();
    request.signal?.removeEventListener('abort', onAbort);
  }
}

async function fileBytes(filePath: string): Promise<number> {
  try {
    return (await stat(filePath)).size;
  } catch (error) {
    throw new TransportError('INVALID_ARGUMENT', `cannot read snapshot file ${filePath}: ${(error as Error).message}`, { cause: error });
  }
}

/** Hashes the first `length` bytes of the file in chunk-sized reads. */
async function hashPrefix(filePath: string, length: number, chunkBytes: number): Promise<Hash> {
  const hash = createHash('sha256');
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.allocUnsafe(chunkBytes);
    // Every pass reads at least one byte or throws, so it ends within length passes.
    for (let position = 0; position < length; ) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, length - position), position);
      if (bytesRead === 0) throw new TransportError('SNAPSHOT_FAILED', `snapshot file ${filePath} shrank while being sent`);
      hash.update(buffer.subarray(0, bytesRead));
      position += bytesRead;
    }
    return hash;
  } finally {
    await handle.close();
  }
}

/** Waits for the receiver's offer; continues from it when this file starts with the same bytes, else from 0. Tells the receiver. */
async function agreeOnStart(
  connection: FramedConnection,
  session: SendSession,
  filePath: string,
  totalBytes: number,
  limits: TransportLimits,
): Promise<{ offset: number; hash: Hash }> {
  await session.waitUntil(() => session.offerFrame !== undefined);
  const offer = session.offerFrame as SnapshotOffer;
  let start = { offset: 0, hash: createHash('sha256') };
  if (offer.offset > 0 && offer.offset <= totalBytes) {
    const prefix = await hashPrefix(filePath, offer.offset, limits.snapshotChunkBytes);
    if (prefix.copy().digest('hex') === offer.sha256) start = { offset: offer.offset, hash: prefix };
  }
  connection.write(encodeValueFrame(FrameKind.snapshotSeek, { offset: start.offset }, limits.frameBytesMax));
  return start;
}

async function streamChunks(
  connection: FramedConnection,
  session: SendSession,
  filePath: string,
  totalBytes: number,
  limits: TransportLimits,
  start: { readonly offset: number; readonly hash: Hash },
): Promise<string> {
  const hash = start.hash;
  const handle = await open(filePath, 'r');
  try {
    const buffer = Buffer.allocUnsafe(limits.snapshotChunkBytes);
    let position = start.offset;
    // Every pass reads at least one byte or throws, so it ends within totalBytes passes.
    while (position < totalBytes) {
      session.throwIfFailed();
      const length = Math.min(buffer.byteLength, totalBytes - position);
      const { bytesRead } = await handle.read(buffer, 0, length, position);
      if (bytesRead === 0) throw new TransportError('SNAPSHOT_FAILED', `snapshot file ${filePath} shrank while being sent`);
      const chunk = buffer.subarray(0, bytesRead);
      hash.update(chunk);
      position += bytesRead;
      // encodeFrame copies the chunk, so the read buffer can be reused at once.
      if (!connection.write(encodeFrame(FrameKind.snapshotChunk, [chunk], limits.frameBytesMax))) {
        await session.waitUntil(() => connection.isWritable || connection.isClosed);
      }
      session.touch();
    }
  } finally {
    await handle.close();
  }
  return hash.digest('hex');
}

function asSnapshotError(error: unknown, to: string): TransportError {
  if (error instanceof TransportError) {
    if (error.code === 'SNAPSHOT_FAILED' || error.code === 'ABORTED' || error.code === 'INVALID_ARGUMENT' || error.code === 'CLOSED') {
      return error;
    }
    return new TransportError('SNAPSHOT_FAILED', `snapshot transfer to ${to} failed: ${error.message}`, { cause: error, peer: to });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TransportError('SNAPSHOT_FAILED', `snapshot transfer to ${to} failed: ${message}`, { cause: error, peer: to });
}
