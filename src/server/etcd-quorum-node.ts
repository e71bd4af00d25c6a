/**
 * One quorumlite node on the etcd log (`serve --consensus etcd`): the SQLite state
 * machine driven by `EtcdLog` instead of the embedded Raft, with the same cluster
 * service, transfers, interactive transactions and HTTP API, and the same access control,
 * TLS (node-security.ts) and change data capture (node-cdc.ts). The peer transport stays
 * for what nodes ask each other (forwarding to the leader, catch-up snapshots); the
 * address book is the registrations in etcd. The embedded replicas' feed (/db/stream)
 * reads the Raft log's files and is refused here. -auto-backup and -auto-restore are
 * node-backups.ts's (the etcd leader uploads; auto-restore loads only into an empty log);
 * the point-in-time archive reads the Raft log's files and is refused.
 *
 * Data directory layout: db.sqlite and db.sqlite.internal (the default database and its
 * applied index: a restarted node resumes from it), databases/ (the others: several
 * databases, as with the embedded Raft), incoming/ (snapshots being received),
 * backup-staging/ (with -auto-backup or -auto-restore).
 */
import { readFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Etcd3 } from 'etcd3';
import { createHttpServer, type HttpApiServer } from '../http/server.js';
import type { Message } from '../raft/types.js';
import { MultiDatabaseMachine } from '../state-machine/multi-database-machine.js';
import { encodeCommand } from '../state-machine/command-codec.js';
import type { TcpTransport } from '../transport/tcp-transport.js';
import { assert } from '../common/assert.js';
import { NodeClusterService } from '../node/cluster-service.js';
import { NodeDatabaseTransfers } from '../node/database-transfers.js';
import { NodeInteractiveTransactions } from '../node/interactive-transactions.js';
import { defaultTransactionLimits } from '../node/transaction-registry.js';
import { gatedLog, LoadGate } from '../node/load-gate.js';
import { resolveNodeConfig, type NodeConfig } from '../node/config.js';
import { EtcdLog } from '../node/etcd-log.js';
import { EtcdCatchUp } from '../node/etcd-catch-up.js';
import type { ReplicatedLog } from '../node/replicated-log.js';
import { systemScheduler, type Scheduler } from '../node/scheduler.js';
import { ServiceError } from '../service/service.js';
import { apiService, refusedLogStreams } from './api-service.js';
import { checkSettingsFile } from './settings-file.js';
import { createPeerTransport, type QuorumNodeOptions } from './quorum-node.js';
import { NodeSecurity } from './node-security.js';
import { NodeCdc } from './node-cdc.js';
import { etcdLogView, NodeBackups } from './node-backups.js';
import { createEtcdClient, type Etcd3Credentials } from './etcd-client.js';

export interface EtcdConsensusOptions {
  /** etcd's client URLs. */
  readonly endpoints: readonly string[];
  /** The key prefix this cluster's log lives under. */
  readonly prefix: string;
  /** The session lease's TTL (a stopped leader is replaced this long after its last keep-alive). */
  readonly leaseTtlSeconds: number;
  /** Compaction passes a live member more than this many entries behind the leader (default compactionLagEntryCountMaxDefault). */
  readonly compactionLagEntryCountMax?: number;
  /** With https:// endpoints: the CA etcd's certificate is checked against, and this node's client certificate. */
  readonly tls?: EtcdTlsFiles;
}

export interface EtcdTlsFiles {
  readonly caPath: string;
  /** Both or neither: the certificate this node presents (etcd's --client-cert-auth). */
  readonly certPath?: string;
  readonly keyPath?: string;
}

const backupBusyTimeoutMs = 5_000;
/**
 * How far a live member may fall behind before compaction stops waiting for it. The log in
 * etcd counts against etcd's backend quota (2 GiB by default): 100,000 entries of a few
 * hundred bytes are tens of MiB, and a member that far behind is better served by a
 * snapshot than by replaying them.
 */
const compactionLagEntryCountMaxDefault = 100_000;

function randomSeed(random: () => number): bigint {
  return (BigInt(Math.floor(random() * 2 ** 32)) << 32n) | BigInt(Math.floor(random() * 2 ** 32));
}

export class EtcdQuorumNode {
  readonly config: NodeConfig;
  readonly log: EtcdLog;
  readonly service: NodeClusterService;
  readonly transfers: NodeDatabaseTransfers;
  readonly transactions: NodeInteractiveTransactions;
  readonly http: HttpApiServer;
  readonly #client: Etcd3;
  readonly #stateMachine: MultiDatabaseMachine;
  readonly #transport: TcpTransport<Message>;
  readonly #options: QuorumNodeOptions;
  readonly #security: NodeSecurity;
  readonly #cdc: NodeCdc | undefined;
  readonly #scheduler: Scheduler;
  #backups: NodeBackups | undefined;
  #httpAddress: { host: string; port: number } | undefined;
  #stopping: Promise<void> | undefined;

  private constructor(
    options: QuorumNodeOptions,
    etcd: EtcdConsensusOptions,
    config: NodeConfig,
    parts: { stateMachine: MultiDatabaseMachine; security: NodeSecurity; cdc: NodeCdc | undefined; etcdCredentials: Etcd3Credentials },
  ) {
    const { stateMachine, security, cdc } = parts;
    const access = security.access;
    this.#options = options;
    this.config = config;
    this.#stateMachine = stateMachine;
    this.#security = security;
    this.#cdc = cdc;
    const scheduler: Scheduler = options.scheduler ?? systemScheduler;
    this.#scheduler = scheduler;
    const random = options.random ?? Math.random;
    this.#client = createEtcdClient(etcd.endpoints, parts.etcdCredentials, { logger: options.logger });
    // Forwarding to the leader and catch-up copies: no Raft messages travel on it here.
    this.#transport = createPeerTransport(options, config, security.tls);
    const catchUp = new EtcdCatchUp({ config, transport: this.#transport, stateMachine, logger: options.logger, leaderId: () => this.log.leaderId });
    this.log = new EtcdLog({
      config,
      client: this.#client,
      prefix: etcd.prefix,
      stateMachine,
      scheduler,
      logger: options.logger,
      leaseTtlSeconds: etcd.leaseTtlSeconds,
      compactionLagEntryCountMax: etcd.compactionLagEntryCountMax ?? compactionLagEntryCountMaxDefault,
      pollIntervalMs: Math.max(100, Math.min(1000, config.heartbeatMs)),
      catchUp: (firstIndex) => catchUp.fetch(firstIndex),
    });
    this.log.members.subscribe(() => this.#followMembers());
    const gate = new LoadGate();
    const writes = gatedLog(this.log, gate, scheduler);
    const services = { config, database: stateMachine, peers: this.#transport, scheduler };
    this.service = createService({ ...services, log: writes, random, transport: this.#transport, access, cdc }, options.version);
    this.transfers = new NodeDatabaseTransfers({
      ...services,
      log: this.log,
      settings: { extensionPaths: [], readerBusyTimeoutMs: backupBusyTimeoutMs },
      gate,
      logger: options.logger,
    });
    const limits = { ...defaultTransactionLimits, ...options.transactionLimits };
    this.transactions = new NodeInteractiveTransactions({ ...services, log: writes, access, random, limits });
    catchUp.registerPeerHandler();
    this.http = createHttpServer(apiService(this.service, this.transfers, this.transactions, refusedLogStreams('the etcd log (--consensus etcd)')), {
      quorumliteVersion: options.version,
      ...options.http,
      ...security.httpOptions(),
    });
  }

  static async start(options: QuorumNodeOptions, etcd: EtcdConsensusOptions): Promise<EtcdQuorumNode> {
    // A bad certificate or -auth file refuses the start before anything is opened.
    const security = NodeSecurity.load(options);
    const etcdCredentials = readEtcdCredentials(etcd.tls);
    const config = resolveNodeConfig({ ...options, apiScheme: security.tls.httpsEnabled ? 'https' : 'http' });
    await mkdir(join(config.dataDirectory, 'incoming'), { recursive: true });
    const cdc = NodeCdc.open(options.cdc, config.dataDirectory);
    const stateMachine = new MultiDatabaseMachine({
      path: join(config.dataDirectory, 'db.sqlite'),
      foreignKeys: config.foreignKeys,
      extensionPaths: [],
      ...(cdc === undefined ? {} : { changeCapture: cdc.capture }),
      databaseCountMax: config.databaseCountMax,
      pageSize: config.sqlitePageSize,
    });
    try {
      // A node restarted with another -fk than its data was written with is refused (settings-file.ts); the nodes of an
      // etcd cluster do not join one another, so their settings are not compared between them.
      const settings = { sqliteVersion: stateMachine.sqliteVersion, foreignKeys: config.foreignKeys, extensions: [] };
      await checkSettingsFile(config.dataDirectory, settings, { hasState: stateMachine.appliedIndex > 0, logger: options.logger });
    } catch (error) {
      stateMachine.close();
      throw error;
    }
    const node = new EtcdQuorumNode(options, etcd, config, { stateMachine, security, cdc, etcdCredentials });
    try {
      if (options.backups?.autoBackup?.pointInTime !== undefined)
        throw new Error('-auto-backup: point_in_time is not available with --consensus etcd (the log archive reads the embedded Raft\u2019s log files)');
      // A node without data: nothing applied yet (its database is new).
      node.#backups = await NodeBackups.prepare(options.backups, config.dataDirectory, stateMachine.appliedIndex === 0, options.logger);
      await node.#start(options.httpListen);
    } catch (error) {
      await node.stop({ transferLeadership: false });
      throw error;
    }
    return node;
  }

  async #start(httpListen: { host: string; port: number }): Promise<void> {
    this.service.registerPeerHandlers();
    this.transactions.registerPeerHandlers();
    const logger = this.#options.logger;
    this.#cdc?.start({ log: this.log, peers: this.#transport, nodeId: this.config.nodeId, logger });
    this.transfers.start();
    await this.#transport.start();
    this.#httpAddress = await this.http.listen(httpListen.host, httpListen.port);
    this.#security.watch({ scheduler: this.#scheduler, logger, http: this.http, transport: this.#transport });
    const http = `${this.#httpAddress.host}:${this.#httpAddress.port}`;
    logger.info({ event: 'listening', http, raft: this.#transport.address, consensus: 'etcd', ...this.#security.tls.summary() }, 'node listening');
    await this.log.start();
    this.#backups?.start({
      nodeId: this.config.nodeId,
      foreignKeys: this.config.foreignKeys,
      leadership: this.log,
      log: etcdLogView(this.log),
      archivable: false,
      // Ready to lead means it applied the log's end as of its election: anything applied is a previous leader's data.
      logHeldData: () => this.log.appliedIndex > 0,
      stateMachine: this.#stateMachine,
      service: this.service,
    });
  }

  /** The transport's peers follow the registrations in etcd (forwarding to the leader dials them). */
  #followMembers(): void {
    const self = this.config.nodeId;
    for (const [id, addresses] of this.log.members.entries()) {
      if (id !== self && addresses.raftAddress !== '') this.#transport.setPeer(id, addresses.raftAddress);
    }
  }

  get httpAddress(): { host: string; port: number } {
    assert(this.#httpAddress !== undefined, 'HTTP not listening yet');
    return this.#httpAddress;
  }

  /** A graceful stop (SIGTERM): the write queue drains, then the node stops; always true (nothing to leave: the registration goes with the lease). */
  async shutdown(): Promise<boolean> {
    await this.service.stopWriteQueue(this.config.shutdownTransferTimeoutMs);
    await this.stop({ transferLeadership: this.config.stepDownOnShutdown });
    return true;
  }

  stop(options: { transferLeadership: boolean } = { transferLeadership: true }): Promise<void> {
    this.#stopping ??= this.#stop(options);
    return this.#stopping;
  }

  async #stop(options: { transferLeadership: boolean }): Promise<void> {
    const warn = (what: string) => (error: unknown) => this.#options.logger.warn({ error: String(error) }, `${what} failed`);
    this.#security.stop();
    await this.transfers.stop();
    await this.#backups?.stop().catch(warn('stopping backups'));
    this.transactions.stop();
    await this.service.stopWriteQueue(this.config.shutdownTransferTimeoutMs);
    await this.log.stop(options).catch(warn('stopping the etcd log'));
    await this.http.close().catch(warn('closing HTTP'));
    await this.#transport.close().catch(warn('closing transport'));
    this.#client.close();
    await this.#cdc?.stop();
    this.#stateMachine.close();
  }
}

/** Reads etcd's TLS files (a missing one refuses the start); undefined: etcd's client decides by the URLs' scheme. */
function readEtcdCredentials(tls: EtcdTlsFiles | undefined): Etcd3Credentials {
  if (tls === undefined) return undefined;
  const read = (path: string, what: string): Buffer => {
    try {
      return readFileSync(path);
    } catch (error) {
      throw new Error(`etcd's TLS ${what} ${path}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
  };
  return {
    rootCertificate: read(tls.caPath, 'CA'),
    ...(tls.certPath === undefined ? {} : { certChain: read(tls.certPath, 'certificate') }),
    ...(tls.keyPath === undefined ? {} : { privateKey: read(tls.keyPath, 'key') }),
  };
}

/** The cluster service on the etcd log: commands carry the leader's clock and a fresh seed, as the runtime's do. */
function createService(
  parts: {
    config: NodeConfig;
    log: ReplicatedLog;
    database: MultiDatabaseMachine;
    peers: TcpTransport<Message>;
    transport: TcpTransport<Message>;
    scheduler: Scheduler;
    random: () => number;
    access: NodeSecurity['access'];
    cdc: NodeCdc | undefined;
  },
  version: string,
): NodeClusterService {
  const { config, log, database, peers, transport, scheduler, random, access, cdc } = parts;
  const refuseRemoval = (): Promise<never> =>
    Promise.reject(new ServiceError('BAD_REQUEST', 'with --consensus etcd, membership is the nodes registered in etcd: stop the node to remove it'));
  return new NodeClusterService(
    {
      config,
      log,
      database,
      peers,
      membership: { removeMember: refuseRemoval },
      encodeCommand: (statements, transaction, requestId, qualifyColumns) =>
        encodeCommand({
          statements,
          transaction,
          timestampMs: scheduler.nowMs(),
          seed: randomSeed(random),
          ...(requestId === null ? {} : { requestId }),
          ...(qualifyColumns ? { qualifyColumns } : {}),
        }),
      encodeQueuedBatch: (requests, transaction, batchId) =>
        encodeCommand({ statements: [], queued: requests, transaction, timestampMs: scheduler.nowMs(), seed: randomSeed(random), requestId: batchId }),
      scheduler,
      peerConnectionsAccepted: () => transport.metrics().connectionsAccepted,
      extraMetrics: () => cdc?.metrics() ?? [],
      access,
      databases: database.catalog,
    },
    { version, isReadOnly: (statement, name) => database.isReadOnly(statement, name) },
  );
}
