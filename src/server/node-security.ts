/**
 * A node's access control and TLS as one part, which both nodes (the embedded-Raft node
 * and the etcd-log node) assemble the same way: the -auth file (reloaded when it changes,
 * auth-reload.ts) and the TLS files (-http-* and -node-*, polled for rotation,
 * node-tls.ts). Loaded before anything is opened, so a bad file refuses the start; watched
 * once the HTTP server and the transport exist; stopped with the node.
 */
import type { HttpApiServer } from '../http/server.js';
import type { NodeLogger } from '../node/logger.js';
import type { Scheduler } from '../node/scheduler.js';
import type { TlsOptions } from '../transport/tcp-network.js';
import { ReloadingAccessControl } from './auth-reload.js';
import { NodeTls, type NodeTlsSettings } from './node-tls.js';

interface NodeSecuritySettings {
  /** The -auth file; absent: nothing is checked. */
  readonly authFile?: string;
  /** How often the -auth file is looked at; default 1 s. */
  readonly authReloadIntervalMs?: number;
  readonly tls?: NodeTlsSettings;
}

export class NodeSecurity {
  readonly tls: NodeTls;
  readonly access: ReloadingAccessControl | null;
  readonly #settings: NodeSecuritySettings;

  private constructor(settings: NodeSecuritySettings, tls: NodeTls, access: ReloadingAccessControl | null) {
    this.#settings = settings;
    this.tls = tls;
    this.access = access;
  }

  /** Reads the certificates first, then the -auth file; throws TlsFileError or AuthFileError naming the file. */
  static load(settings: NodeSecuritySettings): NodeSecurity {
    const tls = NodeTls.load(settings.tls);
    const access = settings.authFile === undefined ? null : ReloadingAccessControl.open(settings.authFile);
    return new NodeSecurity(settings, tls, access);
  }

  /** What the HTTP server checks and serves with: the access control and HTTPS (null: plain HTTP). */
  httpOptions(): { accessControl: ReloadingAccessControl | null; https: ReturnType<NodeTls['httpsOptions']> } {
    return { accessControl: this.access, https: this.tls.httpsOptions() };
  }

  /** Watches the -auth file and the TLS files; rotated certificates go to `http` and `transport` for new connections. */
  watch(parts: {
    readonly scheduler: Scheduler;
    readonly logger: NodeLogger;
    readonly http: Pick<HttpApiServer, 'updateTls'>;
    readonly transport: { updateTls(options: TlsOptions): void };
  }): void {
    this.access?.watch(parts.logger, this.#settings.authReloadIntervalMs);
    this.tls.watch({
      scheduler: parts.scheduler,
      logger: parts.logger,
      onHttpChange: (material) => parts.http.updateTls(material),
      onPeerChange: (peerTls) => parts.transport.updateTls(peerTls),
    });
  }

  stop(): void {
    this.tls.stop();
    this.access?.stop();
  }
}
