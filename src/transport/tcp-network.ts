/**
 * TCP, and TLS when `tls` is given. With `tls.ca`, both sides verify each other
 * against that CA (mutual authentication); without it, the client verifies the server
 * against the system's roots and the server asks for no client certificate.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { TransportError } from './errors.js';
import type { StreamListener, StreamNetwork } from './stream-network.js';

/** An idle connection whose peer vanished without a FIN is probed after this long (the kernel then gives up after its probe count). */
const keepAliveInitialDelayMs = 5000;

export interface TlsOptions {
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  readonly ca?: string | Buffer;
}

interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[ipv6]:port`. */
export function parseAddress(address: string): HostPort {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = match === null ? NaN : Number(match[3]);
  if (match === null || port > 65535) {
    throw new TransportError('INVALID_ARGUMENT', `address must be host:port, got ${JSON.stringify(address)}`);
  }
  return { host: (match[1] ?? match[2]) as string, port };
}

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

interface TcpNetworkLimits {
  /** Sockets open on the listener at once, TLS handshakes in progress included (`net.Server.maxConnections`). */
  readonly socketsMax: number;
  /** A TLS handshake not finished in this time is abandoned. */
  readonly handshakeTimeoutMs: number;
}

export class TcpNetwork implements StreamNetwork {
  readonly #tlsOptions: TlsOptions | undefined;
  readonly #limits: TcpNetworkLimits;
  /**
   * The listen address's host when it names one interface (not a wildcard). Outgoing
   * connections to an address of the same family leave from it too, so a peer sees
   * each node's traffic coming from that node's own address (on loopback, 127.0.0.2
   * rather than 127.0.0.1), and per-address firewall rules can tell nodes apart.
   */
  #sourceHost: string | undefined;

  constructor(tlsOptions?: TlsOptions, limits: TcpNetworkLimits = { socketsMax: 512, handshakeTimeoutMs: 3000 }) {
    this.#tlsOptions = tlsOptions;
    this.#limits = limits;
  }

  async listen(address: string, onStream: (stream: Duplex) => void): Promise<StreamListener> {
    const { host, port } = parseAddress(address);
    if (net.isIP(host) !== 0 && host !== '0.0.0.0' && host !== '::') this.#sourceHost = host;
    const server = this.#createServer(onStream);
    server.maxConnections = this.#limits.socketsMax;
    const sockets = new Set<net.Socket>();
    server.on('connection', (socket: net.Socket) => {
      socket.setKeepAlive(true, keepAliveInitialDelayMs);
      sockets.add(socket);
      socket.once('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    // A failed TLS handshake or a reset before it must not crash the process.
    server.on('error', () => undefined);
    // With a listener attached, Node leaves the socket open: a failed or timed-out TLS handshake must end it here.
    server.on('tlsClientError', (_error: Error, socket: tls.TLSSocket) => socket.destroy());
    const bound = server.address() as net.AddressInfo;
    return {
      address: formatAddress(host, bound.port),
      close: () =>
        new Promise<void>((resolve) => {
          for (const socket of sockets) socket.destroy();
          server.close(() => resolve());
        }),
    };
  }

  #createServer(onStream: (stream: Duplex) => void): net.Server {
    const options = this.#tlsOptions;
    if (options === undefined) {
      return net.createServer({ noDelay: true }, (socket) => onStream(socket));
    }
    return tls.createServer(
      {
        cert: options.cert,
        key: options.key,
        handshakeTimeout: this.#limits.handshakeTimeoutMs,
        ...(options.ca === undefined ? {} : { ca: options.ca, requestCert: true, rejectUnauthorized: true }),
      },
      (socket) => {
        socket.setNoDelay(true);
        onStream(socket);
      },
    );
  }

  dial(address: string, timeoutMs: number): Promise<Duplex> {
    const { host, port } = parseAddress(address);
    const options = this.#tlsOptions;
    const source = this.#sourceHost;
    const localAddress = source !== undefined && net.isIP(source) === net.isIP(host) ? { localAddress: source } : {};
    return new Promise<Duplex>((resolve, reject) => {
      const socket =
        options === undefined
          ? net.connect({ host, port, noDelay: true, ...localAddress })
          : tls.connect({
              host,
              port,
              cert: options.cert,
              key: options.key,
              ...localAddress,
              ...(options.ca === undefined ? {} : { ca: options.ca }),
            });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new TransportError('TIMEOUT', `connecting to ${address} took longer than ${timeoutMs} ms`, { peer: address }));
      }, timeoutMs);
      const fail = (error: Error): void => {
        clearTimeout(timer);
        socket.destroy();
        reject(new TransportError('UNREACHABLE', `cannot connect to ${address}: ${error.message}`, { cause: error, peer: address }));
      };
      socket.once('error', fail);
      socket.once(options === undefined ? 'connect' : 'secureConnect', () => {
        clearTimeout(timer);
        socket.off('error', fail);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, keepAliveInitialDelayMs);
        resolve(socket);
      });
    });
  }
}
