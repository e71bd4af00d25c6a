import type { MemoryNetwork } from './memory-network.js';
import { StreamTransport, type StreamTransportOptions } from './stream-transport.js';
import type { RaftMessageLike } from './types.js';

interface MemoryTransportOptions extends StreamTransportOptions {
  readonly network: MemoryNetwork;
}

/**
 * The in-memory twin of TcpTransport: the same protocol code, bounds, errors and fault
 * hooks, over in-memory streams of a shared MemoryNetwork (addresses are any string).
 */
export class MemoryTransport<Message extends RaftMessageLike = RaftMessageLike> extends StreamTransport<Message> {
  constructor(options: MemoryTransportOptions) {
    super(options.network, options);
  }
}
