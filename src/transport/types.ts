/**
 * The seam between the node runtime and the network. Two implementations behave the
 * same: TcpTransport (TCP, optional TLS) and MemoryTransport (in-memory streams joined
 * by a MemoryNetwork, for tests of the runtime). Both run the same protocol code over
 * a different byte stream, so bounds, errors and fault hooks are identical.
 *
 * Raft messages are opaque plain data with string `from` and `to` fields: strings,
 * numbers, booleans, null, undefined, bigint, Uint8Array, arrays and plain objects.
 * They arrive byte-exact (binary as Uint8Array, bigint as bigint), in the order sent
 * to each peer. Delivery is best effort: Raft tolerates loss, so a slow or dead peer
 * gets its messages dropped (and `onUnreachable` called), never buffered without bound.
 */
import type { FaultControl } from './faults.js';

export interface RaftMessageLike {
  readonly from: string;
  readonly to: string;
}

/** Whom a call goes to: a known peer id (resolved through the address book) or an address. */
export interface CallTarget {
  readonly id?: string;
  readonly address?: string;
}

export interface CallOptions {
  /** Reject with TIMEOUT if no reply arrives in this time. Default: `limits.callTimeoutMs`. */
  readonly timeoutMs?: number;
  readonly signal?: AbortSignal;
}

/** What a call handler learns about its caller (from the caller's handshake). */
export interface CallContext {
  readonly fromId: string;
  readonly fromAddress: string;
  /** Aborted when the connection the call came on closes. */
  readonly signal: AbortSignal;
}

export type CallHandler = (payload: unknown, context: CallContext) => Promise<unknown>;

export interface SnapshotSender {
  readonly fromId: string;
  readonly fromAddress: string;
}

/**
 * Who sent a Raft message, from the handshake of the connection it came on: the peer's id
 * (every message's `from` equals it) and the address it announced it listens on (its
 * advertised address). The address is what the peer says of itself, not checked by
 * dialling it: a hint for a receiver that has no address for the sender, never a reason to
 * replace one it has.
 */
export interface MessageSender {
  readonly fromId: string;
  readonly fromAddress: string;
}

/**
 * Receives a snapshot file whose checksum has been verified and which has been
 * fsynced. Resolve once the snapshot is durable where it belongs (move the file: the
 * transport deletes `tempFilePath` after the handler settles if it still exists).
 * Reject to make the sender's `sendSnapshot` reject.
 */
export type SnapshotHandler = (metadata: unknown, tempFilePath: string, sender: SnapshotSender) => Promise<void>;

export interface SendSnapshotOptions {
  readonly signal?: AbortSignal;
  /**
   * Names the file across attempts (the same bytes under the same key): a peer that can
   * resume keeps what a failed attempt sent, and a later attempt with this key sends only
   * the rest, once the peer's bytes check out against the file (SHA-256 of the prefix).
   */
  readonly resumeKey?: string;
}

export interface PeerMetrics {
  messagesSent: number;
  bytesSent: number;
  framesSent: number;
  messagesReceived: number;
  bytesReceived: number;
  /** Messages dropped: queue full, connection lost, unknown peer. */
  messagesDropped: number;
  /** Frames discarded by a fault hook (drop) in either direction. */
  faultDrops: number;
  /** Successful handshakes after the first one on this link. */
  reconnects: number;
  connectFailures: number;
  callsSent: number;
  callsFailed: number;
  snapshotsSent: number;
  snapshotsReceived: number;
  /** Snapshot bytes not sent again: the peer kept them from an earlier attempt (resumed transfers). */
  snapshotBytesResumed: number;
}

/**
 * When queued messages leave. 'callback' (the default): once the event-loop callback that
 * sent them returns, before its microtasks (process.nextTick). 'next-turn': at the loop's
 * next turn (setImmediate), behind what the callback's microtasks start, such as a log
 * write. Messages queued for the next turn also leave with an earlier 'callback' flush.
 */
export type SendTiming = 'callback' | 'next-turn';

export interface TransportMetrics {
  /** Keyed by peer id (or by address while a peer's id is not yet known). */
  readonly peers: Record<string, PeerMetrics>;
  /** Inbound connections dropped for a bad frame, handshake or limit. */
  readonly connectionsRejected: number;
  readonly connectionsAccepted: number;
}

export interface Transport<Message extends RaftMessageLike = RaftMessageLike> {
  readonly nodeId: string;
  /** The address peers dial to reach this node (valid after `start()`). */
  readonly address: string;
  /** Starts listening. Resolves when inbound connections are accepted. */
  start(): Promise<void>;
  setPeer(id: string, address: string): void;
  removePeer(id: string): void;
  /**
   * Queues messages, one frame per peer for what leaves together (see SendTiming).
   * Throws FRAME_TOO_LARGE for a message that could never fit a frame.
   */
  send(messages: readonly Message[], timing?: SendTiming): void;
  /** Each message with its sender (from the handshake): a receiver can answer a peer it has no address for. */
  onMessage(handler: (message: Message, sender: MessageSender) => void): void;
  /**
   * Called with a peer id whose messages were dropped (queue full, connection lost, no
   * address). Always in a later event-loop turn than the drop, never inside send(); at
   * most once per peer per turn.
   */
  onUnreachable(handler: (id: string) => void): void;
  /**
   * A connection a peer dialled to this node (after its handshake) closed: the peer exited,
   * crashed or dropped the link. A hint only (it may reconnect at once); always in a later
   * event-loop turn, at most once per peer per turn.
   */
  onPeerDisconnected(handler: (id: string) => void): void;
  call(target: CallTarget, method: string, payload: unknown, options?: CallOptions): Promise<unknown>;
  handle(method: string, handler: CallHandler): void;
  sendSnapshot(to: string, metadata: unknown, filePath: string, options?: SendSnapshotOptions): Promise<void>;
  onSnapshot(handler: SnapshotHandler): void;
  /** Diagnostics: bad frames, refused handshakes, handler crashes. Never needed for correctness. */
  onError(handler: (error: Error) => void): void;
  readonly faults: FaultControl;
  metrics(): TransportMetrics;
  /** Stops listening, closes every connection, rejects pending work with CLOSED, clears every timer. */
  close(): Promise<void>;
}
