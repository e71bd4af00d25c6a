/**
 * The connection this node dials to one peer, and everything waiting to go over it:
 * a bounded queue of encoded Raft messages and the calls awaiting replies. Dials
 * lazily (only when something is waiting), pipelines (never waits for a reply before
 * writing more), and after a failure waits an exponential, jittered, bounded backoff
 * before the next dial. A failure drops the queued messages (Raft resends) and
 * reports the peer unreachable; calls written on the lost connection reject with
 * UNREACHABLE (they may or may not have run on the peer).
 */
import { backoffDelayMs } from './backoff.js';
import { encodeFrame, encodeValueFrame, FrameKind, type Frame } from './codec.js';
import type { ConnectionEvents, FramedConnection } from './connection.js';
import { TransportError } from './errors.js';
import type { FaultState } from './faults.js';
import type { TransportLimits } from './limits.js';
import type { MetricsRegistry } from './metrics.js';
import { decodeCallReply } from './protocol.js';
import type { CallOptions } from './types.js';

export interface LinkContext {
  readonly limits: TransportLimits;
  readonly faults: FaultState;
  readonly metrics: MetricsRegistry;
  readonly random: () => number;
  /** Dials and completes the handshake; the connection then uses `events`. */
  openConnection(address: string, expectedId: string | undefined, events: ConnectionEvents): Promise<FramedConnection>;
  reportUnreachable(ids: ReadonlySet<string>): void;
  /** Nothing is pending on the link any more (links to a bare address are closed then). */
  linkIdle(link: OutboundLink): void;
}

interface QueuedMessage {
  readonly to: string;
  readonly bytes: Uint8Array;
}

interface PendingCall {
  /** The encoded request until it is written (then released: only the reply is awaited). */
  frame: Buffer | undefined;
  readonly method: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: TransportError) => void;
}

type LinkState = 'idle' | 'connecting' | 'open' | 'backoff' | 'closed';

export class OutboundLink {
  readonly address: string;
  readonly expectedId: string | undefined;
  readonly #context: LinkContext;
  #state: LinkState = 'idle';
  #connection: FramedConnection | undefined;
  #queue: QueuedMessage[] = [];
  #queuedBytes = 0;
  readonly #calls = new Map<number, PendingCall>();
  #nextRequestId = 1;
  #failedAttemptCount = 0;
  #hasConnected = false;
  #retryAtMs = 0;
  #retryTimer: NodeJS.Timeout | undefined;
  readonly #events: ConnectionEvents;

  constructor(context: LinkContext, address: string, expectedId: string | undefined) {
    this.#context = context;
    this.address = address;
    this.expectedId = expectedId;
    this.#events = {
      onFrame: (_connection, frame) => this.#receive(frame),
      onDrain: () => this.flush(),
      onClose: (connection, error) => this.#lose(connection, error),
      onFaultDrop: () => this.#context.metrics.peer(this.metricsKey).faultDrops++,
    };
  }

  get metricsKey(): string {
    return this.expectedId ?? this.address;
  }

  get isClosed(): boolean {
    return this.#state === 'closed';
  }

  /** Queues one encoded message; false (and nothing queued) when the queue is at its bound. */
  enqueue(to: string, bytes: Uint8Array): boolean {
    const { peerQueueMessageCountMax, peerQueueBytesMax } = this.#context.limits;
    if (this.#queue.length + 1 > peerQueueMessageCountMax || this.#queuedBytes + bytes.byteLength > peerQueueBytesMax) {
      return false;
    }
    this.#queue.push({ to, bytes });
    this.#queuedBytes += bytes.byteLength;
    return true;
  }

  /** Writes queued messages while the connection takes them; dials if there is none. */
  flush(): void {
    if (this.#state !== 'open') {
      if (this.#queue.length > 0) this.#connect();
      return;
    }
    const connection = this.#connection as FramedConnection;
    const payloadBytesMax = this.#context.limits.frameBytesMax - 1;
    // Each pass writes at least one message, so the loop ends within queue.length passes.
    while (this.#queue.length > 0 && connection.isWritable) {
      let count = 0;
      let bytes = 0;
      for (const message of this.#queue) {
        if (count > 0 && bytes + message.bytes.byteLength > payloadBytesMax) break;
        count++;
        bytes += message.bytes.byteLength;
      }
      const batch = this.#queue.splice(0, count);
      this.#queuedBytes -= bytes;
      connection.write(
        encodeFrame(
          FrameKind.messages,
          batch.map((message) => message.bytes),
          this.#context.limits.frameBytesMax,
        ),
      );
      const metrics = this.#context.metrics.peer(this.metricsKey);
      metrics.messagesSent += count;
      metrics.bytesSent += bytes;
      metrics.framesSent++;
    }
  }

  call(method: string, payload: unknown, options: CallOptions, timeoutMs: number): Promise<unknown> {
    if (this.#state === 'closed') return Promise.reject(this.#closedError());
    if (this.#calls.size >= this.#context.limits.callsInFlightMax) {
      return Promise.reject(
        new TransportError('TOO_MANY_CALLS', `${this.#calls.size} calls to ${this.metricsKey} already await replies (callsInFlightMax)`, {
          peer: this.metricsKey,
        }),
      );
    }
    const requestId = this.#nextRequestId++;
    let frame: Buffer;
    try {
      frame = encodeValueFrame(FrameKind.call, { requestId, method, payload }, this.#context.limits.frameBytesMax);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#context.metrics.peer(this.metricsKey).callsSent++;
    return new Promise<unknown>((resolve, reject) => {
      const settle = (): void => {
        clearTimeout(timer);
        options.signal?.removeEventListener('abort', onAbort);
        this.#calls.delete(requestId);
        if (this.#calls.size === 0 && this.#queue.length === 0) this.#context.linkIdle(this);
      };
      const onAbort = (): void => {
        settle();
        reject(new TransportError('ABORTED', `call ${method} to ${this.metricsKey} was aborted`, { peer: this.metricsKey }));
      };
      const timer = setTimeout(() => {
        settle();
        this.#context.metrics.peer(this.metricsKey).callsFailed++;
        reject(new TransportError('TIMEOUT', `call ${method} to ${this.metricsKey} got no reply within ${timeoutMs} ms`, { peer: this.metricsKey }));
      }, timeoutMs);
      options.signal?.addEventListener('abort', onAbort, { once: true });
      this.#calls.set(requestId, {
        frame,
        method,
        resolve: (value) => {
          settle();
          resolve(value);
        },
        reject: (error) => {
          settle();
          this.#context.metrics.peer(this.metricsKey).callsFailed++;
          reject(error);
        },
      });
      if (this.#state === 'open') this.#writeCalls();
      else this.#connect();
    });
  }

  /** Rejects everything pending with `error` and closes the connection for good. */
  close(error: TransportError): void {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#retryTimer !== undefined) clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    this.#dropQueue();
    this.#rejectCalls(error);
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.close(undefined);
  }

  #closedError(): TransportError {
    return new TransportError('CLOSED', `the link to ${this.metricsKey} is closed`, { peer: this.metricsKey });
  }

  #connect(): void {
    if (this.#state === 'connecting' || this.#state === 'open' || this.#state === 'closed') return;
    const waitMs = this.#retryAtMs - Date.now();
    if (waitMs > 0) {
      this.#state = 'backoff';
      this.#retryTimer ??= setTimeout(() => {
        this.#retryTimer = undefined;
        this.#state = 'idle';
        if (this.#queue.length > 0 || this.#calls.size > 0) this.#connect();
      }, waitMs);
      return;
    }
    this.#state = 'connecting';
    this.#context.openConnection(this.address, this.expectedId, this.#events).then(
      (connection) => this.#opened(connection),
      (error: unknown) => this.#failed(error),
    );
  }

  #opened(connection: FramedConnection): void {
    if (this.#state === 'closed') {
      connection.close(undefined);
      return;
    }
    this.#state = 'open';
    this.#connection = connection;
    this.#failedAttemptCount = 0;
    if (this.#hasConnected) this.#context.metrics.peer(this.metricsKey).reconnects++;
    this.#hasConnected = true;
    this.#writeCalls();
    this.flush();
  }

  #failed(error: unknown): void {
    if (this.#state === 'closed') return;
    this.#context.metrics.peer(this.metricsKey).connectFailures++;
    this.#enterBackoff(error);
  }

  #lose(connection: FramedConnection, error: Error | undefined): void {
    if (this.#connection !== connection || this.#state !== 'open') return;
    this.#connection = undefined;
    this.#enterBackoff(error ?? new Error('the peer closed the connection'));
  }

  #enterBackoff(error: unknown): void {
    this.#failedAttemptCount++;
    this.#retryAtMs = Date.now() + backoffDelayMs(this.#failedAttemptCount, this.#context.limits, this.#context.random);
    // 'idle' with retryAtMs in the future: the next dial waits out the backoff. Callbacks
    // below may send, call or even close this link, so the state is settled first.
    this.#state = 'idle';
    this.#dropQueue();
    this.#rejectCalls(this.#callError(error));
  }

  #callError(error: unknown): TransportError {
    if (error instanceof TransportError && (error.code === 'HANDSHAKE_REJECTED' || error.code === 'PEER_ID_MISMATCH' || error.code === 'CLOSED')) {
      return error;
    }
    const reason = error instanceof Error ? error.message : String(error);
    return new TransportError('UNREACHABLE', `peer ${this.metricsKey} at ${this.address} is unreachable: ${reason}`, {
      cause: error,
      peer: this.metricsKey,
    });
  }

  #dropQueue(): void {
    if (this.#queue.length === 0) return;
    const ids = new Set(this.#queue.map((message) => message.to));
    this.#context.metrics.peer(this.metricsKey).messagesDropped += this.#queue.length;
    this.#queue = [];
    this.#queuedBytes = 0;
    this.#context.reportUnreachable(ids);
  }

  #rejectCalls(error: TransportError): void {
    for (const call of [...this.#calls.values()]) call.reject(error);
  }

  #writeCalls(): void {
    const connection = this.#connection as FramedConnection;
    for (const call of this.#calls.values()) {
      if (call.frame === undefined) continue;
      connection.write(call.frame);
      call.frame = undefined;
    }
  }

  #receive(frame: Frame): void {
    if (frame.kind !== FrameKind.reply) {
      throw new TransportError('MALFORMED_FRAME', `unexpected frame kind ${frame.kind} on an outbound connection`);
    }
    const reply = decodeCallReply(frame.payload);
    const call = this.#calls.get(reply.requestId);
    if (call === undefined) return; // Timed out or aborted already.
    if (reply.ok) {
      call.resolve(reply.result);
      return;
    }
    call.reject(
      new TransportError('REMOTE_ERROR', `call ${call.method} on ${this.metricsKey} failed: ${reply.code}: ${reply.message}`, {
        peer: this.metricsKey,
        remoteCode: reply.code,
        remoteMessage: reply.message,
      }),
    );
  }
}
