/**
 * The server side of one accepted connection: checks the peer's handshake, then
 * delivers Raft messages, runs call handlers (at most `inboundCallsInFlightMax` at
 * once) and writes their replies, and receives snapshots. A bad frame closes only
 * this connection; the transport keeps serving every other peer.
 */
import type { Duplex } from 'node:stream';
import { decodeValues, encodeValueFrame, FrameKind, protocolFeatures, protocolVersion, type Frame } from './codec.js';
import { FramedConnection } from './connection.js';
import { errorCodeOf, errorMessageOf, TransportError } from './errors.js';
import type { FaultState } from './faults.js';
import type { TransportLimits } from './limits.js';
import type { MetricsRegistry } from './metrics.js';
import { decodeCallRequest, decodeHello, decodeSnapshotBegin, decodeSnapshotEnd, decodeSnapshotSeek, type Hello } from './protocol.js';
import { SnapshotReceiver } from './snapshot-receiver.js';
import type { CallHandler, MessageSender, RaftMessageLike, SnapshotHandler } from './types.js';

export interface InboundContext {
  readonly nodeId: string;
  readonly clusterId: string;
  readonly address: string;
  readonly limits: TransportLimits;
  readonly faults: FaultState;
  readonly metrics: MetricsRegistry;
  readonly snapshotDirectory: string;
  readonly callHandlers: ReadonlyMap<string, CallHandler>;
  readonly snapshotHandler: SnapshotHandler | undefined;
  /** A message with its sender as the handshake named it (the peer's id and announced address). */
  deliverMessage(message: RaftMessageLike, sender: MessageSender): void;
  /** False when snapshotsInFlightMax inbound snapshots are running. */
  hasSnapshotSlot(): boolean;
  /** Tracks a running snapshot (it holds a slot until `done` settles). */
  trackSnapshot(receiver: SnapshotReceiver): void;
  /** Settles once no running snapshot writes `path`. */
  receivesOf(path: string): Promise<void>;
  reportError(error: Error): void;
  /** A handshaken peer's connection closed. */
  reportDisconnected(id: string): void;
  forget(connection: InboundConnection): void;
}

export class InboundConnection {
  readonly #context: InboundContext;
  readonly #connection: FramedConnection;
  #hello: Hello | undefined;
  /** Who the handshake says is at the other end: handed up with every message. */
  #sender: MessageSender | undefined;
  #callsInFlight = 0;
  #snapshot: SnapshotReceiver | undefined;
  /** After refusing a snapshot, its remaining frames (already in flight) are ignored until the sender hangs up. */
  #snapshotRefused = false;
  readonly #closedController = new AbortController();
  #handshakeTimer: NodeJS.Timeout | undefined;

  constructor(context: InboundContext, stream: Duplex) {
    this.#context = context;
    const { limits } = context;
    this.#connection = new FramedConnection(stream, limits.frameBytesMax, context.faults, limits.heldFrameBytesMax, {
      onFrame: (_connection, frame) => this.#receive(frame),
      onDrain: () => undefined,
      onClose: (_connection, error) => this.#closed(error),
      onFaultDrop: (connection) => context.metrics.peer(connection.remoteId ?? 'unknown').faultDrops++,
    });
    this.#handshakeTimer = setTimeout(() => {
      this.#connection.close(new TransportError('TIMEOUT', `no handshake within ${limits.handshakeTimeoutMs} ms`));
    }, limits.handshakeTimeoutMs);
  }

  close(): void {
    this.#connection.close(undefined);
  }

  #closed(error: Error | undefined): void {
    if (this.#handshakeTimer !== undefined) clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#closedController.abort();
    this.#snapshot?.abort(error ?? new TransportError('UNREACHABLE', 'the sender closed the connection mid-transfer'));
    if (error !== undefined) {
      if (error instanceof TransportError) this.#context.metrics.connectionsRejected++;
      this.#context.reportError(error);
    }
    if (this.#hello !== undefined) this.#context.reportDisconnected(this.#hello.nodeId);
    this.#context.forget(this);
  }

  #receive(frame: Frame): void {
    if (this.#hello === undefined) {
      this.#receiveHello(frame);
      return;
    }
    switch (frame.kind) {
      case FrameKind.messages:
        this.#receiveMessages(frame.payload);
        return;
      case FrameKind.call:
        this.#receiveCall(frame.payload);
        return;
      case FrameKind.snapshotBegin:
        this.#beginSnapshot(frame.payload);
        return;
      case FrameKind.snapshotSeek:
        if (!this.#snapshotRefused) this.#requireSnapshot().seek(decodeSnapshotSeek(frame.payload));
        return;
      case FrameKind.snapshotChunk:
        if (!this.#snapshotRefused) this.#requireSnapshot().chunk(frame.payload);
        return;
      case FrameKind.snapshotEnd:
        if (!this.#snapshotRefused) this.#requireSnapshot().end(decodeSnapshotEnd(frame.payload));
        return;
      default:
        throw new TransportError('MALFORMED_FRAME', `unexpected frame kind ${frame.kind} on an inbound connection`);
    }
  }

  #receiveHello(frame: Frame): void {
    if (frame.kind !== FrameKind.hello) {
      throw new TransportError('MALFORMED_FRAME', `the first frame must be a handshake, got kind ${frame.kind}`);
    }
    const hello = decodeHello(frame.payload);
    const refusal = handshakeRefusal(hello, this.#context);
    if (refusal !== undefined) {
      this.#connection.write(encodeValueFrame(FrameKind.helloRejected, { code: 'HANDSHAKE_REJECTED', message: refusal }, this.#context.limits.frameBytesMax));
      this.#connection.end();
      this.#context.metrics.connectionsRejected++;
      this.#context.reportError(new TransportError('HANDSHAKE_REJECTED', `refused ${hello.nodeId} at ${hello.address}: ${refusal}`, { peer: hello.nodeId }));
      return;
    }
    clearTimeout(this.#handshakeTimer);
    this.#handshakeTimer = undefined;
    this.#hello = hello;
    this.#sender = { fromId: hello.nodeId, fromAddress: hello.address };
    this.#connection.remoteId = hello.nodeId;
    this.#connection.remoteAddress = hello.address;
    const { nodeId, clusterId, address } = this.#context;
    const accepted = { protocolVersion, clusterId, nodeId, address, features: protocolFeatures };
    this.#connection.write(encodeValueFrame(FrameKind.helloAccepted, accepted, this.#context.limits.frameBytesMax));
  }

  #receiveMessages(payload: Uint8Array): void {
    const messages = decodeValues(payload);
    const sender = this.#sender as MessageSender;
    const fromId = sender.fromId;
    const metrics = this.#context.metrics.peer(fromId);
    metrics.messagesReceived += messages.length;
    metrics.bytesReceived += payload.byteLength;
    for (const message of messages) {
      if (!isRaftMessage(message)) {
        throw new TransportError('MALFORMED_FRAME', `a message from ${fromId} lacks string from/to fields`);
      }
      if (message.to !== this.#context.nodeId || message.from !== fromId) {
        metrics.messagesDropped++;
        this.#context.reportError(
          new TransportError('INVALID_ARGUMENT', `dropped a message ${message.from} -> ${message.to} that arrived from ${fromId} at ${this.#context.nodeId}`),
        );
        continue;
      }
      this.#context.deliverMessage(message, sender);
    }
  }

  #receiveCall(payload: Uint8Array): void {
    const request = decodeCallRequest(payload);
    const handler = this.#context.callHandlers.get(request.method);
    if (handler === undefined) {
      this.#reply(request.requestId, { ok: false, code: 'NO_HANDLER', message: `no handler for method ${request.method}` });
      return;
    }
    if (this.#callsInFlight >= this.#context.limits.inboundCallsInFlightMax) {
      this.#reply(request.requestId, {
        ok: false,
        code: 'OVERLOADED',
        message: `${this.#callsInFlight} calls from this peer are running (inboundCallsInFlightMax)`,
      });
      return;
    }
    this.#callsInFlight++;
    const hello = this.#hello as Hello;
    const context = { fromId: hello.nodeId, fromAddress: hello.address, signal: this.#closedController.signal };
    Promise.resolve()
      .then(() => handler(request.payload, context))
      .then(
        (result) => this.#reply(request.requestId, { ok: true, result }),
        (error: unknown) => this.#reply(request.requestId, { ok: false, code: errorCodeOf(error), message: errorMessageOf(error) }),
      )
      .finally(() => this.#callsInFlight--);
  }

  /**
   * Writes a reply; one that cannot be sent (too large for a frame, unencodable) becomes
   * an error reply, so the caller does not wait for its timeout. If even a short error
   * does not fit (a tiny frameBytesMax), the connection is closed: the caller then sees
   * UNREACHABLE at once.
   */
  #reply(requestId: number, body: { ok: true; result: unknown } | { ok: false; code: string; message: string }): void {
    if (this.#connection.isClosed) return;
    const frameBytesMax = this.#context.limits.frameBytesMax;
    let frame: Buffer;
    try {
      frame = encodeValueFrame(FrameKind.reply, { requestId, ...body }, frameBytesMax);
    } catch (error) {
      const code = body.ok ? errorCodeOf(error) : body.code;
      try {
        frame = encodeValueFrame(FrameKind.reply, { requestId, ok: false, code, message: `cannot send the reply: ${errorMessageOf(error)}` }, frameBytesMax);
      } catch (secondError) {
        this.#connection.close(secondError instanceof Error ? secondError : new Error(String(secondError)));
        return;
      }
    }
    this.#connection.write(frame);
  }

  #beginSnapshot(payload: Uint8Array): void {
    if (this.#snapshot !== undefined || this.#snapshotRefused) throw new TransportError('MALFORMED_FRAME', 'a second snapshot on one connection');
    const begin = decodeSnapshotBegin(payload);
    const refusal = this.#snapshotRefusal(begin.totalBytes);
    if (refusal !== undefined) {
      this.#snapshotRefused = true;
      this.#connection.write(encodeValueFrame(FrameKind.snapshotResult, { ok: false, ...refusal }, this.#context.limits.frameBytesMax));
      return;
    }
    const hello = this.#hello as Hello;
    const receiver = new SnapshotReceiver(
      {
        limits: this.#context.limits,
        snapshotDirectory: this.#context.snapshotDirectory,
        nodeId: this.#context.nodeId,
        handler: this.#context.snapshotHandler as SnapshotHandler,
        sender: { fromId: hello.nodeId, fromAddress: hello.address },
        connection: this.#connection,
        receivesOf: (path) => this.#context.receivesOf(path),
      },
      begin,
    );
    this.#snapshot = receiver;
    this.#context.trackSnapshot(receiver);
    void receiver.done.then((received) => {
      if (received) this.#context.metrics.peer(hello.nodeId).snapshotsReceived++;
    });
  }

  #snapshotRefusal(totalBytes: number): { code: string; message: string } | undefined {
    const { limits } = this.#context;
    if (this.#context.snapshotHandler === undefined) return { code: 'NO_HANDLER', message: 'this node accepts no snapshots (no onSnapshot handler)' };
    if (totalBytes > limits.snapshotBytesMax) {
      return { code: 'SNAPSHOT_TOO_LARGE', message: `snapshot of ${totalBytes} bytes exceeds snapshotBytesMax ${limits.snapshotBytesMax}` };
    }
    if (!this.#context.hasSnapshotSlot()) {
      return { code: 'OVERLOADED', message: `${limits.snapshotsInFlightMax} snapshots are already being received (snapshotsInFlightMax)` };
    }
    return undefined;
  }

  #requireSnapshot(): SnapshotReceiver {
    if (this.#snapshot === undefined) throw new TransportError('MALFORMED_FRAME', 'snapshot data without a snapshot-begin frame');
    return this.#snapshot;
  }
}

function handshakeRefusal(hello: Hello, context: InboundContext): string | undefined {
  if (hello.protocolVersion !== protocolVersion) {
    return `protocol version mismatch: this node speaks ${protocolVersion}, the peer ${hello.protocolVersion}`;
  }
  if (hello.clusterId !== context.clusterId) {
    return `cluster id mismatch: this node is in cluster ${JSON.stringify(context.clusterId)}, the peer in ${JSON.stringify(hello.clusterId)}`;
  }
  return undefined;
}

function isRaftMessage(value: unknown): value is RaftMessageLike {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record['from'] === 'string' && typeof record['to'] === 'string';
}
