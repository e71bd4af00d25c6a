/**
 * A node's TLS, as rqlited's flags describe it: HTTPS for the HTTP API (-http-cert,
 * -http-key, -http-ca-cert, -http-verify-client, -http-verify-common-name) and TLS
 * between nodes (-node-cert, -node-key, -node-ca-cert, -node-no-verify,
 * -node-verify-client, -node-verify-server-name, -node-verify-common-name). The files are
 * read when the node starts (a missing or mismatched file stops the start) and polled
 * afterwards: a rotated certificate, key or CA is used by connections made from then on.
 */
import type { HttpsOptions } from '../http/options.js';
import type { NodeLogger } from '../node/logger.js';
import type { Scheduler } from '../node/scheduler.js';
import type { TlsOptions } from '../transport/tcp-network.js';
import type { JoinTlsMaterial } from './join-address.js';
import { TlsFiles, tlsReloadIntervalMsDefault, type TlsMaterial } from './tls-files.js';

interface HttpTlsSettings {
  /** -http-cert and -http-key (both or neither): serve HTTPS. */
  readonly certPath?: string;
  readonly keyPath?: string;
  /** -http-ca-cert: verifies client certificates, and the members an https:// join talks to. */
  readonly caPath?: string;
  /** -http-verify-client: mutual TLS. */
  readonly verifyClient: boolean;
  /** -http-verify-common-name: the Common Name a client certificate must have. */
  readonly clientCommonName?: string;
}

interface PeerTlsSettings {
  /** -node-cert, -node-key: this node's certificate, presented to the nodes it dials and to those that dial it. */
  readonly certPath: string;
  readonly keyPath: string;
  /** -node-ca-cert: verifies the other nodes' certificates; Node's bundled roots without it. */
  readonly caPath?: string;
  /** -node-verify-client: mutual TLS, a node that dials in must present a certificate the CA signed. */
  readonly verifyClient: boolean;
  /** -node-no-verify: check no certificate at all. */
  readonly noVerify: boolean;
  /** -node-verify-server-name: the name other nodes' certificates carry, instead of their addresses. */
  readonly serverName?: string;
  /** -node-verify-common-name: the Common Name a dialling node's certificate must have. */
  readonly clientCommonName?: string;
}

export interface NodeTlsSettings {
  readonly http?: HttpTlsSettings;
  readonly peers?: PeerTlsSettings;
  /** How often the files are checked for a change; default once a second. */
  readonly reloadIntervalMs?: number;
}

/** The files behind a node's TLS, loaded and checked. */
export class NodeTls {
  readonly settings: NodeTlsSettings;
  readonly #http: TlsFiles | undefined;
  readonly #peers: TlsFiles | undefined;

  private constructor(settings: NodeTlsSettings, http: TlsFiles | undefined, peers: TlsFiles | undefined) {
    this.settings = settings;
    this.#http = http;
    this.#peers = peers;
  }

  /** Reads every file now; throws TlsFileError when one is missing, unreadable or does not fit its key. */
  static load(settings: NodeTlsSettings = {}): NodeTls {
    const http = settings.http;
    const hasHttpFiles = http !== undefined && (http.certPath !== undefined || http.caPath !== undefined);
    const httpFiles = hasHttpFiles ? TlsFiles.load({ certPath: http.certPath, keyPath: http.keyPath, caPath: http.caPath }, 'HTTPS') : undefined;
    const peers = settings.peers;
    const peerFiles = peers === undefined ? undefined : TlsFiles.load(peers, 'node-to-node TLS');
    return new NodeTls(settings, httpFiles, peerFiles);
  }

  /** Whether the HTTP API serves HTTPS. */
  get httpsEnabled(): boolean {
    return this.settings.http?.certPath !== undefined;
  }

  /** What is on, for the start-up log: off, on, mutual (both sides verified) or unverified (-node-no-verify). */
  summary(): { readonly https: string; readonly nodeTls: string } {
    const http = this.settings.http;
    const peers = this.settings.peers;
    return {
      https: http?.certPath === undefined ? 'off' : http.verifyClient ? 'mutual' : 'on',
      nodeTls: peers === undefined ? 'off' : peers.noVerify ? 'unverified' : peers.verifyClient ? 'mutual' : 'on',
    };
  }

  /** The HTTP server's HTTPS options; null for plain HTTP. */
  httpsOptions(): HttpsOptions | null {
    const http = this.settings.http;
    const material = this.#http?.material;
    if (http === undefined || material?.cert === undefined || material.key === undefined) return null;
    return {
      cert: material.cert,
      key: material.key,
      ca: material.ca,
      verifyClient: http.verifyClient,
      clientCommonName: http.clientCommonName,
      certFile: http.certPath ?? '',
      keyFile: http.keyPath ?? '',
      caFile: http.caPath ?? '',
    };
  }

  /** The peer transport's TLS; undefined for plain TCP. */
  transportTls(material: TlsMaterial | undefined = this.#peers?.material): TlsOptions | undefined {
    const peers = this.settings.peers;
    if (peers === undefined || material?.cert === undefined || material.key === undefined) return undefined;
    return {
      cert: material.cert,
      key: material.key,
      ...(material.ca === undefined ? {} : { ca: material.ca }),
      verifyClient: peers.verifyClient,
      noVerify: peers.noVerify,
      ...(peers.serverName === undefined ? {} : { serverName: peers.serverName }),
      ...(peers.clientCommonName === undefined ? {} : { clientCommonName: peers.clientCommonName }),
    };
  }

  /** What an https:// join trusts and presents, as the files are now. */
  joinMaterial(): JoinTlsMaterial {
    const material = this.#http?.material;
    return { ca: material?.ca, cert: material?.cert, key: material?.key };
  }

  /** Polls the files; a reloaded set goes to the HTTP server or the transport, for new connections. */
  watch(options: {
    readonly scheduler: Scheduler;
    readonly logger: NodeLogger;
    readonly onHttpChange: (material: { readonly cert: Buffer; readonly key: Buffer; readonly ca: Buffer | undefined }) => void;
    readonly onPeerChange: (options: TlsOptions) => void;
  }): void {
    const intervalMs = this.settings.reloadIntervalMs ?? tlsReloadIntervalMsDefault;
    const common = { scheduler: options.scheduler, intervalMs, logger: options.logger };
    this.#http?.watch({
      ...common,
      onChange: (material) => {
        if (this.httpsEnabled && material.cert !== undefined && material.key !== undefined) {
          options.onHttpChange({ cert: material.cert, key: material.key, ca: material.ca });
        }
      },
    });
    this.#peers?.watch({
      ...common,
      onChange: (material) => {
        const tls = this.transportTls(material);
        if (tls !== undefined) options.onPeerChange(tls);
      },
    });
  }

  stop(): void {
    this.#http?.stop();
    this.#peers?.stop();
  }
}
