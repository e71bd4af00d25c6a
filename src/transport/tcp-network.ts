/**
 * TCP, and TLS when `tls` is given. The dialling side verifies the server's certificate
 * against `tls.ca` (Node's bundled roots without it) and the address it dialled (or
 * `serverName`); the listening side asks for a client certificate when `verifyClient`
 * holds (by default: whenever a CA is given, so both sides verify each other).
 * `updateTls` swaps the certificates for new connections; open ones keep theirs.
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
  /** The listener requires a client certificate signed by `ca` (mutual TLS). Default: `ca` is given. */
  readonly verifyClient?: boolean;
  /** Check no certificate: the dialler accepts any server's, the listener any client's (one is still required with verifyClient). */
  readonly noVerify?: boolean;
  /** The name the server's certificate must carry, instead of the host dialled. */
  readonly serverName?: string;
  /** The Common Name an accepted client's certificate must have (with verifyClient). */
  readonly clientCommonName?: string;
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
  #tlsOptions: TlsOptions | undefined;
  readonly #tlsServers = new Set<tls.Server>();
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

  /**
   * New certificates (and CA) for connections made or accepted from now on. The verify
   * settings stay as the listener was created with: only the material changes.
   */
  updateTls(options: TlsOptions): void {
    if (this.#tlsOptions === undefined) throw new TransportError('INVALID_ARGUMENT', 'this network was created without TLS');
    this.#tlsOptions = { ...this.#tlsOptions, cert: options.cert, key: options.key, ...(options.ca === undefined ? {} : { ca: options.ca }) };
    for (const server of this.#tlsServers) server.setSecureContext(secureContextOf(this.#tlsOptions));
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
          if (server instanceof tls.Server) this.#tlsServers.delete(server);
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
    const verifyClient = options.verifyClient ?? options.ca !== undefined;
    const server = tls.createServer(
      {
        ...secureContextOf(options),
        handshakeTimeout: this.#limits.handshakeTimeoutMs,
        ...(verifyClient ? { requestCert: true, rejectUnauthorized: options.noVerify !== true } : {}),
      },
      (socket) => {
        const refusal = verifyClient ? clientCertificateRefusal(socket, options) : undefined;
        if (refusal !== undefined) {
          socket.destroy();
          return;
        }
        socket.setNoDelay(true);
        onStream(socket);
      },
    );
    this.#tlsServers.add(server);
    return server;
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
          : tls.connect({ host, port, ...secureContextOf(options), ...localAddress, ...serverCheckOf(options) });
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

function secureContextOf(options: TlsOptions): tls.SecureContextOptions {
  return { cert: options.cert, key: options.key, ...(options.ca === undefined ? {} : { ca: options.ca }) };
}

/** How a dialler checks the server: not at all (noVerify), or against `serverName` rather than the host dialled. */
function serverCheckOf(options: TlsOptions): tls.ConnectionOptions {
  if (options.noVerify === true) return { rejectUnauthorized: false };
  const serverName = options.serverName;
  if (serverName === undefined) return {};
  return {
    // SNI carries host names only, never an address.
    ...(net.isIP(serverName) === 0 ? { servername: serverName } : {}),
    checkServerIdentity: (_host, certificate) => tls.checkServerIdentity(serverName, certificate),
  };
}

/**
 * Why an accepted connection is refused after its handshake: with noVerify the chain was
 * not checked, but a certificate must still be there; and its Common Name must be the
 * one required. Undefined: accepted.
 */
function clientCertificateRefusal(socket: tls.TLSSocket, options: TlsOptions): string | undefined {
  const certificate = socket.getPeerCertificate();
  if (certificate === null || Object.keys(certificate).length === 0) return 'no client certificate';
  const expected = options.clientCommonName;
  if (expected !== undefined && certificate.subject?.CN !== expected) return `client certificate Common Name is not ${expected}`;
  return undefined;
}
