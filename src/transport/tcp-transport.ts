import { resolveLimits } from './limits.js';
import { StreamTransport, type StreamTransportOptions } from './stream-transport.js';
import { TcpNetwork, type TlsOptions } from './tcp-network.js';
import type { RaftMessageLike } from './types.js';

interface TcpTransportOptions extends StreamTransportOptions {
  /** `host:port` to listen on; port 0 picks a free port (see `address` after `start()`). */
  readonly listenAddress: string;
  /** TLS for every peer connection; see TlsOptions for who verifies whom. */
  readonly tls?: TlsOptions;
}

/** The real transport: length-prefixed frames over TCP, optionally TLS. */
export class TcpTransport<Message extends RaftMessageLike = RaftMessageLike> extends StreamTransport<Message> {
  readonly #network: TcpNetwork;

  constructor(options: TcpTransportOptions) {
    const { inboundConnectionsMax, handshakeTimeoutMs } = resolveLimits(options.limits);
    // The transport enforces inboundConnectionsMax on accepted connections; the socket
    // bound leaves room beside them for TLS handshakes still in progress.
    const network = new TcpNetwork(options.tls, { socketsMax: 2 * inboundConnectionsMax, handshakeTimeoutMs });
    super(network, options);
    this.#network = network;
  }

  /** New certificate, key and CA for the connections dialled or accepted from now on (a certificate rotation). */
  updateTls(options: TlsOptions): void {
    this.#network.updateTls(options);
  }
}
