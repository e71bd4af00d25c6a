export type {
  CallContext,
  CallHandler,
  CallOptions,
  CallTarget,
  PeerMetrics,
  RaftMessageLike,
  SendSnapshotOptions,
  SnapshotHandler,
  SnapshotSender,
  Transport,
  TransportMetrics,
} from './types.js';
export { TransportError, isTransportError, type TransportErrorCode } from './errors.js';
export type { FaultControl, PeerFault } from './faults.js';
export { defaultTransportLimits, type TransportLimits } from './limits.js';
export { backoffDelayMs, type BackoffLimits } from './backoff.js';
export { StreamTransport, type StreamTransportOptions } from './stream-transport.js';
export { TcpTransport, type TcpTransportOptions } from './tcp-transport.js';
export { MemoryTransport, MemoryNetwork, type MemoryTransportOptions } from './memory-transport.js';
export type { TlsOptions } from './tcp-network.js';
