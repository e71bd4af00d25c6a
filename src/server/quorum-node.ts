/**
 * One quorumlite node, wired from the real modules: the durable store, the SQLite state
 * machine, the TCP transport, the Raft core and the HTTP API, with the start-up decision
 * (restart / bootstrap one node / --bootstrap-expect / --join / discovery: cluster-formation.ts)
 * and a graceful stop.
 *
 * Data directory layout: raft/ (log, snapshots, LOCK), db.sqlite (the user's database),
 * db.sqlite.internal (quorumlite's applied index, dedup table and maintenance times),
 * members.json (the address book), incoming/ (snapshots being received), extensions/
 * (the SQLite extensions gathered at start), backup-staging/ (-auto-backup, -auto-restore).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createHttpServer, type HttpApiServer } from '../http/server.js';
import type { HttpServerOptions } from '../http/options.js';
import { RawNode } from '../raft/raw-node.js';
import type { Message } from '../raft/types.js';
import type { SqliteStateMachine } from '../state-machine/state-machine.js';
import { MultiDatabaseMachine } from '../state-machine/multi-database-machine.js';
import { DurableStorage } from '../storage/durable-storage.js';
import { nodePreallocationBytes } from '../storage/options.js';
import type { RecoveryReport } from '../storage/log-replay.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import type { TransportLimits } from '../transport/limits.js';
import { assert } from '../common/assert.js';
import type { ApplySettings } from '../node/apply-settings.js';
import { NodeClusterService } from '../node/cluster-service.js';
import { NodeDatabaseTransfers } from '../node/database-transfers.js';
import { NodeInteractiveTransactions } from '../node/interactive-transactions.js';
import type { LogStreamSettings, NodeLogStreams } from '../node/log-streams.js';
import type { TransactionLimits } from '../node/transaction-registry.js';
import { transactionDependencies } from './transaction-dependencies.js';
import { gatedLog, LoadGate } from '../node/load-gate.js';
import { resolveNodeConfig, type NodeConfig, type NodeConfigInput } from '../node/config.js';
import type { NodeLogger } from '../node/logger.js';
import { Membership } from '../node/membership.js';
import { recoverCluster } from '../node/cluster-recovery.js';
import { PeersFileError, peersFilePath, readPeersFile, retirePeersFile, type RecoveryPeer } from '../node/peers-file.js';
import { Reaper } from '../node/reaper.js';
import { NodeRuntime } from '../node/runtime.js';
import { systemScheduler, type Scheduler } from '../node/scheduler.js';
import { MaintenanceScheduler } from '../node/maintenance-scheduler.js';
import { extensionDigests, installExtensions } from './extensions.js';
import { checkSettingsFile } from './settings-file.js';
import { removeSnapshotLeftovers } from '../node/files.js';
import { createHttpAddressResolver } from './join-address.js';
import type { Credentials } from '../service/access-control.js';
import type { NodeTls, NodeTlsSettings } from './node-tls.js';
import { NodeSecurity } from './node-security.js';
import { NodeCdc, type CdcConfig } from './node-cdc.js';
import { NodeBackups, raftLogView, type BackupSettings } from './node-backups.js';
import { apiService } from './api-service.js';
import { createLogStreams } from './replica-feed.js';
import { ClusterFormation } from './cluster-formation.js';
import type { DiscoverySettings } from './discovery-config.js';

export interface QuorumNodeOptions extends NodeConfigInput {
  /** Where the HTTP API listens (port 0: any). */
  readonly httpListen: { readonly host: string; readonly port: number };
  /** Where the peer transport listens, `host:port`. */
  readonly raftListen: string;
  readonly logger: NodeLogger;
  readonly version: string;
  /** Peers with another cluster id are refused at the handshake. */
  readonly clusterId?: string;
  readonly transportLimits?: Partial<TransportLimits>;
  readonly http?: Partial<HttpServerOptions>;
  /** Called if the Ready loop hits a broken invariant (the node has stopped serving writes). */
  readonly onFatal?: (error: Error) => void;
  /** Randomness for election jitter and command seeds; default Math.random (tests pin it). */
  readonly random?: () => number;
  /** Bounds on interactive transactions (transaction-registry.ts); defaults for what is not given. */
  readonly transactionLimits?: Partial<TransactionLimits>;
  /** Bounds of the embedded replicas' feed (/db/stream); defaults in src/node/log-streams.ts. */
  readonly logStreams?: Partial<LogStreamSettings>;
  /** Every timer and clock reading of the node; default the real one. */
  readonly scheduler?: Scheduler;
  /** SQLite extensions (files, directories, zip or tar.gz files), gathered into <data>/extensions and loaded into every connection. */
  readonly extensionPaths?: readonly string[];
  /** Where the Raft core's events go (a level of their own); default `logger`. */
  readonly raftLogger?: NodeLogger;
  /**
   * With `exitWhenRemoved` (rqlited -raft-remove-shutdown): called once this node learns
   * it was removed from the cluster; the caller stops the node (`shutdown()`) and exits.
   */
  readonly onRemoved?: () => void;
  /** rqlited -auth: the users and their permissions (rqlite's file format), reloaded when it changes; absent: nothing is checked. */
  readonly authFile?: string;
  /** How often the -auth file is looked at for changes; default 1 s (auth-reload.ts). */
  readonly authReloadIntervalMs?: number;
  /** HTTPS for the API and TLS between nodes (rqlited's -http-* and -node-* TLS flags); plain without. */
  readonly tls?: NodeTlsSettings;
  /** rqlited's -cdc-config: change data capture (node-cdc.ts). */
  readonly cdc?: CdcConfig;
  /** rqlited's -auto-backup and -auto-restore (src/backup; node-backups.ts wires them). */
  readonly backups?: BackupSettings;
  /** rqlited's -disco-mode, -disco-key, -disco-config (cluster-formation.ts); absent: -join and -bootstrap-expect only. */
  readonly discovery?: DiscoverySettings;
}

export const defaultClusterId = 'quorumlite';
/** Backup copies wait this long for the database to be readable (the read connections' own bound). */
const backupBusyTimeoutMs = 5_000;
/** rqlited waits this long for its own removal on shutdown (-raft-cluster-remove-shutdown). */
const shutdownRemoveTimeoutMs = 5_000;

/** Whatever storage repaired or discarded at open is said in the log, with what and why. */
function logRecovery(logger: NodeLogger, report: RecoveryReport): void {
  for (const repair of report.repairs) {
    logger.warn(
      { event: 'storage-repaired', file: repair.file, offset: repair.offset, droppedBytes: repair.droppedBytes, problem: repair.problem },
      'cut a torn tail off the log (a write the crash interrupted)',
    );
  }
  for (const metadata of report.discardedSnapshots) {
    logger.warn(
      { event: 'storage-discarded-snapshot', index: metadata.index, term: metadata.term },
      'discarded a received snapshot whose install never became durable (the log does not reach it)',
    );
  }
}

/** A migrated data directory, or a database rebuilt after a power loss, is said in the log. */
function logOpenEvents(logger: NodeLogger, stateMachine: SqliteStateMachine): void {
  for (const event of stateMachine.openEvents) {
    if (event.kind === 'migrated') {
      logger.info({ event: 'database-migrated', appliedIndex: event.appliedIndex, requests: event.requestCount }, 'moved quorumlite state out of the database');
    } else if (event.kind === 'reset') {
      logger.warn({ event: 'database-reset', reason: event.reason }, 'database and internal state disagreed (power loss?): rebuilding from snapshot and log');
    }
  }
}

/** The peer transport: TCP on -raft-addr, TLS when the node flags ask for it (both the Raft and the etcd-log node). */
export function createPeerTransport(options: QuorumNodeOptions, config: NodeConfig, tls: NodeTls): TcpTransport<Message> {
  return new TcpTransport<Message>({
    nodeId: config.nodeId,
    clusterId: options.clusterId ?? defaultClusterId,
    listenAddress: options.raftListen,
    advertisedAddress: config.raftAdvertisedAddress,
    snapshotDirectory: join(config.dataDirectory, 'incoming'),
    ...(options.transportLimits === undefined ? {} : { limits: options.transportLimits }),
    tls: tls.transportTls(),
  });
}

function createRuntime(
  options: QuorumNodeOptions,
  parts: { config: NodeConfig; storage: DurableStorage; stateMachine: SqliteStateMachine; transport: TcpTransport<Message>; scheduler: Scheduler },
): NodeRuntime {
  const { config, storage, stateMachine, transport, scheduler } = parts;
  return new NodeRuntime({
    config,
    storage,
    stateMachine,
    transport,
    createCore: (coreConfig) => new RawNode(coreConfig),
    logger: options.logger,
    ...(options.raftLogger === undefined ? {} : { raftLogger: options.raftLogger }),
    scheduler,
    ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
}

export class QuorumNode {
  readonly config: NodeConfig;
  readonly runtime: NodeRuntime;
  readonly membership: Membership;
  readonly service: NodeClusterService;
  /** Backups, loads, boot, snapshots and reaping (rqlite's /db/backup, /db/load, /boot, /snapshot, /reap). */
  readonly transfers: NodeDatabaseTransfers;
  /** Interactive transactions (/db/begin, ?tx=, /db/commit, /db/rollback), held while this node leads. */
  readonly transactions: NodeInteractiveTransactions;
  readonly reaper: Reaper;
  /** The embedded replicas' feed (/db/stream, /db/copy). */
  readonly logStreams: NodeLogStreams;
  readonly http: HttpApiServer;
  readonly #storage: DurableStorage;
  readonly #stateMachine: MultiDatabaseMachine;
  readonly #transport: TcpTransport<Message>;
  readonly #logger: NodeLogger;
  readonly #maintenance: MaintenanceScheduler;
  readonly #security: NodeSecurity;
  readonly #scheduler: Scheduler;
  #cdc: NodeCdc | undefined;
  #backups: NodeBackups | undefined;
  #httpAddress: { host: string; port: number } | undefined;
  #stopping: Promise<void> | undefined;
  /** Restart, bootstrap, discovery or join at start (cluster-formation.ts); stop() cancels a rejoin in progress. */
  readonly #formation: ClusterFormation;

  private constructor(
    options: QuorumNodeOptions,
    config: NodeConfig,
    parts: {
      storage: DurableStorage;
      stateMachine: MultiDatabaseMachine;
      security: NodeSecurity;
      extensionPaths: readonly string[];
      /** This node's SQLite version, -fk and extensions (node/apply-settings.ts). */
      applySettings: ApplySettings;
    },
  ) {
    const { storage, stateMachine, security, extensionPaths, applySettings } = parts;
    const { tls, access } = security;
    this.config = config;
    this.#security = security;
    // -join-as: the user this node presents when it joins, notifies, or leaves on shutdown.
    const joinCredentials = (): Credentials | null =>
      config.joinAs === '' ? null : { username: config.joinAs, password: access?.passwordOf(config.joinAs) ?? '' };
    this.#logger = options.logger;
    this.#storage = storage;
    this.#stateMachine = stateMachine;
    this.#transport = createPeerTransport(options, config, tls);
    const scheduler = options.scheduler ?? systemScheduler;
    this.#scheduler = scheduler;
    this.runtime = createRuntime(options, { config, storage, stateMachine, transport: this.#transport, scheduler });
    const runtime = this.runtime;
    // While a load runs on the leader, other writes wait for it (load-gate.ts); its own entries do not.
    const gate = new LoadGate();
    const writes = gatedLog(runtime, gate, scheduler);
    this.membership = new Membership({
      config,
      runtime,
      peers: this.#transport,
      scheduler,
      logger: options.logger,
      resolveHttpAddress: createHttpAddressResolver({ credentials: joinCredentials, tls: () => tls.joinMaterial() }),
      access,
      joinCredentials,
      applySettings,
    });
    this.service = new NodeClusterService(
      {
        config,
        log: writes,
        database: stateMachine,
        peers: this.#transport,
        membership: this.membership,
        encodeCommand: (statements, transaction, requestId, qualifyColumns) => runtime.encodeCommandFor(statements, transaction, requestId, qualifyColumns),
        encodeQueuedBatch: (requests, transaction, batchId) => runtime.encodeQueuedBatchFor(requests, transaction, batchId),
        scheduler,
        counters: runtime.counters,
        peerConnectionsAccepted: () => this.#transport.metrics().connectionsAccepted,
        extraMetrics: () => this.#cdc?.metrics() ?? [],
        access,
        observed: runtime,
        databases: stateMachine.catalog,
      },
      {
        version: options.version,
        isReadOnly: (statement, database) => stateMachine.isReadOnly(statement, database),
      },
    );
    this.reaper = new Reaper({ config, log: runtime, removeMember: (id) => this.membership.removeMember(id), scheduler, logger: options.logger });
    this.transfers = new NodeDatabaseTransfers({
      config,
      log: runtime,
      database: stateMachine,
      settings: { extensionPaths, readerBusyTimeoutMs: backupBusyTimeoutMs },
      peers: this.#transport,
      gate,
      scheduler,
      logger: options.logger,
    });
    const transactionParts = { config, log: writes, database: stateMachine, peers: this.#transport, scheduler, access };
    this.transactions = new NodeInteractiveTransactions(transactionDependencies(options, transactionParts));
    this.logStreams = createLogStreams(options.logStreams, { config, storage, stateMachine, runtime });
    this.http = createHttpServer(apiService(this.service, this.transfers, this.transactions, this.logStreams), {
      quorumliteVersion: options.version,
      ...options.http,
      ...security.httpOptions(),
    });
    this.#maintenance = new MaintenanceScheduler({ config, log: writes, database: stateMachine, scheduler, logger: options.logger });
    this.#formation = new ClusterFormation(options, { config, storage, runtime, membership: this.membership, scheduler });
    const onRemoved = options.onRemoved;
    if (config.exitWhenRemoved && onRemoved !== undefined) runtime.subscribeRemoved(() => onRemoved());
  }

  /** Opens the data directory and starts the node; resolves once it serves HTTP and has joined or formed a cluster. */
  static async start(options: QuorumNodeOptions): Promise<QuorumNode> {
    // Certificates are read first: a missing or mismatched file stops the start before anything is opened.
    // A bad -auth file (AuthFileError) or an unknown -join-as user refuses the start before anything is opened.
    const security = NodeSecurity.load(options);
    const config = resolveNodeConfig({ ...options, apiScheme: security.tls.httpsEnabled ? 'https' : 'http' });
    if (config.joinAs !== '' && security.access?.passwordOf(config.joinAs) === undefined) {
      throw new Error(`-join-as ${config.joinAs}: no such user in the -auth file (the join presents that user's password from it)`);
    }
    // A bad raft/peers.json refuses the start here, before anything is opened or written.
    const peers = readPeersFile(config.dataDirectory, { id: config.nodeId, raftAddress: config.raftAdvertisedAddress });
    if (peers !== undefined && !existsSync(join(config.dataDirectory, 'raft', 'log'))) {
      throw new PeersFileError(peersFilePath(config.dataDirectory), 'this node has no Raft state to recover (a node without state joins with --join)');
    }
    await mkdir(join(config.dataDirectory, 'incoming'), { recursive: true });
    const storage = await DurableStorage.open(join(config.dataDirectory, 'raft'), { preallocationBytes: nodePreallocationBytes });
    logRecovery(options.logger, storage.recovery);
    const leftovers = removeSnapshotLeftovers(config.dataDirectory);
    if (leftovers.length > 0) options.logger.info({ event: 'snapshot-leftovers', files: leftovers }, 'removed the files of an interrupted snapshot');
    let stateMachine: MultiDatabaseMachine | undefined;
    let extensionPaths: readonly string[];
    let applySettings: ApplySettings;
    const cdc = NodeCdc.open(options.cdc, config.dataDirectory);
    try {
      extensionPaths = installExtensions(options.extensionPaths ?? [], config.dataDirectory);
      if (extensionPaths.length > 0) options.logger.info({ event: 'extensions', files: extensionPaths }, 'loading SQLite extensions');
      stateMachine = new MultiDatabaseMachine({
        path: join(config.dataDirectory, 'db.sqlite'),
        foreignKeys: config.foreignKeys,
        extensionPaths,
        ...(cdc === undefined ? {} : { changeCapture: cdc.capture }),
        databaseCountMax: config.databaseCountMax,
        pageSize: config.sqlitePageSize,
      });
      logOpenEvents(options.logger, stateMachine);
      applySettings = { sqliteVersion: stateMachine.sqliteVersion, foreignKeys: config.foreignKeys, extensions: extensionDigests(extensionPaths) };
      // Before the node applies anything: a node restarted with other settings than its data was written with is refused.
      await checkSettingsFile(config.dataDirectory, applySettings, { hasState: !storage.isEmpty(), logger: options.logger });
    } catch (error) {
      stateMachine?.close();
      await storage.close();
      throw error;
    }
    if (peers !== undefined) await QuorumNode.#recover({ config, storage, stateMachine, logger: options.logger }, peers);
    const node = new QuorumNode(options, config, { storage, stateMachine, security, extensionPaths, applySettings });
    node.#cdc = cdc;
    try {
      node.#backups = await NodeBackups.prepare(options.backups, config.dataDirectory, storage.isEmpty(), options.logger);
      await node.#start(options.httpListen);
    } catch (error) {
      await node.stop({ transferLeadership: false });
      throw error;
    }
    return node;
  }

  /** Lost-quorum recovery from raft/peers.json (cluster-recovery.ts), then the file is retired; on failure the store is closed. */
  static async #recover(
    parts: { config: NodeConfig; storage: DurableStorage; stateMachine: SqliteStateMachine; logger: NodeLogger },
    peers: readonly RecoveryPeer[],
  ): Promise<void> {
    try {
      await recoverCluster(parts, peers);
      retirePeersFile(parts.config.dataDirectory);
    } catch (error) {
      parts.stateMachine.close();
      await parts.storage.close();
      throw error;
    }
  }

  get httpAddress(): { host: string; port: number } {
    assert(this.#httpAddress !== undefined, 'HTTP not listening yet');
    return this.#httpAddress;
  }

  /** The transport's fault hooks (test-only partitions). */
  get faults(): TcpTransport<Message>['faults'] {
    return this.#transport.faults;
  }

  async #start(httpListen: { host: string; port: number }): Promise<void> {
    this.runtime.attachTransport();
    this.membership.registerPeerHandlers();
    this.service.registerPeerHandlers();
    this.transactions.registerPeerHandlers();
    this.#cdc?.start({ log: this.runtime, peers: this.#transport, nodeId: this.config.nodeId, logger: this.#logger });
    this.transfers.start();
    await this.#transport.start();
    this.#httpAddress = await this.http.listen(httpListen.host, httpListen.port);
    this.#security.watch({ scheduler: this.#scheduler, logger: this.#logger, http: this.http, transport: this.#transport });
    const http = `${this.#httpAddress.host}:${this.#httpAddress.port}`;
    this.#logger.info({ event: 'listening', http, raft: this.#transport.address, ...this.#security.tls.summary() }, 'node listening');
    await this.#formation.formOrJoin();
    const parts = { nodeId: this.config.nodeId, foreignKeys: this.config.foreignKeys, leadership: this.runtime, archivable: true };
    this.#backups?.start({ ...parts, log: raftLogView(this.runtime, this.#storage), stateMachine: this.#stateMachine, service: this.service });
    this.#maintenance.start();
    this.reaper.start();
  }

  /**
   * A graceful stop as rqlited does one on SIGTERM: with `removeOnShutdown` the node first
   * asks the leader to remove it (bounded by shutdownRemoveTimeoutMs), then it stops,
   * handing leadership over first if it leads and `stepDownOnShutdown` holds. Resolves
   * false if the removal failed (the node stopped all the same). The write queue is sent
   * first, while this node is still a member that knows its leader.
   */
  async shutdown(): Promise<boolean> {
    await this.service.stopWriteQueue(this.config.shutdownTransferTimeoutMs);
    const removed = await this.#leaveCluster();
    await this.stop({ transferLeadership: this.config.stepDownOnShutdown });
    return removed;
  }

  async #leaveCluster(): Promise<boolean> {
    const self = this.config.nodeId;
    if (!this.config.removeOnShutdown || this.runtime.removedFromCluster || !this.runtime.started || !this.runtime.isMember(self)) return true;
    this.#logger.info({ event: 'leave', timeoutMs: shutdownRemoveTimeoutMs }, 'removing this node from the cluster before shutdown');
    try {
      const request = { id: self, timeoutMs: shutdownRemoveTimeoutMs, forward: true };
      // rqlite: the -join-as user needs `remove` on the leader for this.
      const caller = this.config.joinAs === '' ? null : this.config.joinAs;
      await this.service.remove(request, { signal: AbortSignal.timeout(shutdownRemoveTimeoutMs), caller });
      this.#logger.info({ event: 'left' }, 'removed this node from the cluster before shutdown');
      return true;
    } catch (error) {
      this.#logger.error({ event: 'leave-failed', error: String(error) }, 'failed to remove this node from the cluster before shutdown');
      return false;
    }
  }

  /**
   * Stops the node: the write queue sends what it holds (bounded wait), a leader then hands
   * leadership to the most caught-up voter (bounded wait) unless told not to, then HTTP,
   * the runtime, the transport, the store and the database close in that order.
   */
  stop(options: { transferLeadership: boolean } = { transferLeadership: true }): Promise<void> {
    this.#stopping ??= this.#stop(options);
    return this.#stopping;
  }

  async #stop(options: { transferLeadership: boolean }): Promise<void> {
    this.#security.stop();
    this.#maintenance.stop();
    await this.#backups?.stop();
    await this.#formation.stop();
    this.reaper.stop();
    await this.transfers.stop();
    this.transactions.stop();
    this.logStreams.closeAll();
    await this.service.stopWriteQueue(this.config.shutdownTransferTimeoutMs);
    await this.runtime.stop(options);
    await this.http.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing HTTP failed'));
    await this.#transport.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing transport failed'));
    await this.#storage.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing storage failed'));
    await this.#cdc?.stop();
    this.#stateMachine.close();
  }
}
