/**
 * Every bound the transport enforces, with its unit last. Defaults suit a 3–5 node
 * cluster on a LAN; tests shrink them to reach the bounds quickly.
 */
import { frameHeaderBytes } from './codec.js';

export interface TransportLimits {
  /** Largest frame accepted or sent (kind byte + payload). */
  readonly frameBytesMax: number;
  /** Raft messages waiting for one peer's connection, by count… */
  readonly peerQueueMessageCountMax: number;
  /** …and by encoded size. */
  readonly peerQueueBytesMax: number;
  /** Calls to one peer waiting for a reply. */
  readonly callsInFlightMax: number;
  /** Calls from one inbound connection whose handlers are running. */
  readonly inboundCallsInFlightMax: number;
  /** Default call timeout. */
  readonly callTimeoutMs: number;
  /** Dial plus handshake. */
  readonly connectTimeoutMs: number;
  /** How long an accepted connection may take to send its handshake. */
  readonly handshakeTimeoutMs: number;
  readonly backoffBaseMs: number;
  readonly backoffMsMax: number;
  /** Frames to one peer delayed by a fault hook or held back by a pause before the link reports backpressure. */
  readonly heldFrameBytesMax: number;
  readonly snapshotChunkBytes: number;
  readonly snapshotBytesMax: number;
  /** Concurrent inbound snapshot transfers. */
  readonly snapshotsInFlightMax: number;
  /** Concurrent outbound snapshot transfers. */
  readonly snapshotsSendingMax: number;
  /** A snapshot transfer that makes no progress for this long fails. */
  readonly snapshotIdleTimeoutMs: number;
  readonly inboundConnectionsMax: number;
}

const defaultTransportLimits: TransportLimits = {
  frameBytesMax: 16 * 1024 * 1024,
  peerQueueMessageCountMax: 4096,
  peerQueueBytesMax: 64 * 1024 * 1024,
  callsInFlightMax: 256,
  inboundCallsInFlightMax: 256,
  callTimeoutMs: 5000,
  connectTimeoutMs: 3000,
  handshakeTimeoutMs: 3000,
  backoffBaseMs: 50,
  backoffMsMax: 2000,
  heldFrameBytesMax: 16 * 1024 * 1024,
  snapshotChunkBytes: 256 * 1024,
  snapshotBytesMax: 2 ** 40,
  snapshotsInFlightMax: 4,
  snapshotsSendingMax: 4,
  snapshotIdleTimeoutMs: 30_000,
  inboundConnectionsMax: 256,
};

export function resolveLimits(overrides: Partial<TransportLimits> = {}): TransportLimits {
  const limits: TransportLimits = { ...defaultTransportLimits, ...overrides };
  for (const [name, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
      throw new RangeError(`transport limit ${name} must be a positive integer, got ${String(value)}`);
    }
  }
  if (limits.frameBytesMax > 0xffffffff) {
    throw new RangeError(`frameBytesMax must fit the 32-bit length prefix, got ${limits.frameBytesMax}`);
  }
  if (limits.snapshotChunkBytes + frameHeaderBytes > limits.frameBytesMax) {
    throw new RangeError(`snapshotChunkBytes ${limits.snapshotChunkBytes} must fit a frame (frameBytesMax ${limits.frameBytesMax})`);
  }
  if (limits.backoffMsMax < limits.backoffBaseMs) {
    throw new RangeError(`backoffMsMax ${limits.backoffMsMax} is below backoffBaseMs ${limits.backoffBaseMs}`);
  }
  return limits;
}
