/**
 * One quorumlite node, wired from the real modules: the durable store, the SQLite state
 * machine, the TCP transport, the Raft core and the HTTP API, with the start-up decision
 * (restart / bootstrap one node / --bootstrap-expect / --join) and a graceful stop.
 *
 * Data directory layout: raft/ (log, snapshots, LOCK), db.sqlite (the user's database),
 * db.sqlite.internal (quorumlite's applied index, dedup table and maintenance times),
 * members.json (the address book), incoming/ (snapshots being received), extensions/
 * (the SQLite extensions gathered at start).
 */
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createHttpServer, type HttpApiServer } from '../http/server.js';
import type { HttpServerOptions } from '../http/options.js';
import { RawNode } from '../raft/raw-node.js';
import type { Message, NodeId } from '../raft/types.js';
import { SqliteStateMachine } from '../state-machine/state-machine.js';
import { DurableStorage } from '../storage/durable-storage.js';
import type { RecoveryReport } from '../storage/log-replay.js';
import { TcpTransport } from '../transport/tcp-transport.js';
import type { TransportLimits } from '../transport/limits.js';
import { assert } from '../common/assert.js';
import { NodeClusterService } from '../node/cluster-service.js';
import { resolveNodeConfig, type NodeConfig, type NodeConfigInput } from '../node/config.js';
import type { NodeLogger } from '../node/logger.js';
import { Membership } from '../node/membership.js';
import { recoverCluster } from '../node/cluster-recovery.js';
import { PeersFileError, peersFilePath, readPeersFile, retirePeersFile, type RecoveryPeer } from '../node/peers-file.js';
import { Reaper } from '../node/reaper.js';
import { NodeRuntime } from '../node/runtime.js';
import { systemScheduler, type Scheduler } from '../node/scheduler.js';
import { MaintenanceScheduler } from '../node/maintenance-scheduler.js';
import { installExtensions } from './extensions.js';
import { removeSnapshotLeftovers } from '../node/files.js';
import { ServiceError } from '../service/service.js';
import { createHttpAddressResolver } from './join-address.js';

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
  /** Queued writes (`?queue`) in flight at most; default queuedWriteCountMaxDefault. */
  readonly queuedWriteCountMax?: number;
  /** Called if the Ready loop hits a broken invariant (the node has stopped serving writes). */
  readonly onFatal?: (error: Error) => void;
  /** Randomness for election jitter and command seeds; default Math.random (tests pin it). */
  readonly random?: () => number;
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
}

export const defaultClusterId = 'quorumlite';
/** rqlited's words for a one-node cluster with state asked to join another cluster. */
const singleNodeJoinRefusal = 'node is already a single-node cluster leader, joining a cluster is not permitted';
const queuedWriteCountMaxDefault = 10_000;
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

export class QuorumNode {
  readonly config: NodeConfig;
  readonly runtime: NodeRuntime;
  readonly membership: Membership;
  readonly service: NodeClusterService;
  readonly reaper: Reaper;
  readonly http: HttpApiServer;
  readonly #storage: DurableStorage;
  readonly #stateMachine: SqliteStateMachine;
  readonly #transport: TcpTransport<Message>;
  readonly #logger: NodeLogger;
  readonly #maintenance: MaintenanceScheduler;
  #httpAddress: { host: string; port: number } | undefined;
  #stopping: Promise<void> | undefined;
  /** A restarted node's rejoin runs beside it; stop() cancels it. */
  readonly #rejoinCancel = new AbortController();
  #rejoin: Promise<void> = Promise.resolve();

  private constructor(options: QuorumNodeOptions, config: NodeConfig, storage: DurableStorage, stateMachine: SqliteStateMachine) {
    this.config = config;
    this.#logger = options.logger;
    this.#storage = storage;
    this.#stateMachine = stateMachine;
    this.#transport = new TcpTransport<Message>({
      nodeId: config.nodeId,
      clusterId: options.clusterId ?? defaultClusterId,
      listenAddress: options.raftListen,
      advertisedAddress: config.raftAdvertisedAddress,
      snapshotDirectory: join(config.dataDirectory, 'incoming'),
      ...(options.transportLimits === undefined ? {} : { limits: options.transportLimits }),
    });
    const scheduler = options.scheduler ?? systemScheduler;
    this.runtime = new NodeRuntime({
      config,
      storage,
      stateMachine,
      transport: this.#transport,
      createCore: (coreConfig) => new RawNode(coreConfig),
      logger: options.logger,
      ...(options.raftLogger === undefined ? {} : { raftLogger: options.raftLogger }),
      scheduler,
      ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    const runtime = this.runtime;
    this.membership = new Membership({
      config,
      runtime,
      peers: this.#transport,
      scheduler,
      logger: options.logger,
      resolveHttpAddress: createHttpAddressResolver({ joinAs: config.joinAs }),
    });
    this.service = new NodeClusterService(
      {
        config,
        log: runtime,
        database: stateMachine,
        peers: this.#transport,
        membership: this.membership,
        encodeCommand: (statements, transaction, requestId, qualifyColumns) => runtime.encodeCommandFor(statements, transaction, requestId, qualifyColumns),
        scheduler,
        counters: runtime.counters,
        peerConnectionsAccepted: () => this.#transport.metrics().connectionsAccepted,
      },
      {
        version: options.version,
        isReadOnly: (statement) => stateMachine.isReadOnly(statement),
        queuedWriteCountMax: options.queuedWriteCountMax ?? queuedWriteCountMaxDefault,
      },
    );
    this.reaper = new Reaper({
      config,
      log: runtime,
      removeMember: (id) => this.membership.removeMember(id),
      scheduler,
      logger: options.logger,
    });
    this.http = createHttpServer(this.service, { quorumliteVersion: options.version, ...options.http });
    this.#maintenance = new MaintenanceScheduler({ config, log: runtime, database: stateMachine, scheduler, logger: options.logger });
    const onRemoved = options.onRemoved;
    if (config.exitWhenRemoved && onRemoved !== undefined) runtime.subscribeRemoved(() => onRemoved());
  }

  /** Opens the data directory and starts the node; resolves once it serves HTTP and has joined or formed a cluster. */
  static async start(options: QuorumNodeOptions): Promise<QuorumNode> {
    const config = resolveNodeConfig(options);
    // A bad raft/peers.json refuses the start here, before anything is opened or written.
    const peers = readPeersFile(config.dataDirectory, { id: config.nodeId, raftAddress: config.raftAdvertisedAddress });
    if (peers !== undefined && !existsSync(join(config.dataDirectory, 'raft', 'log'))) {
      throw new PeersFileError(peersFilePath(config.dataDirectory), 'this node has no Raft state to recover (a node without state joins with --join)');
    }
    await mkdir(join(config.dataDirectory, 'incoming'), { recursive: true });
    const storage = await DurableStorage.open(join(config.dataDirectory, 'raft'));
    logRecovery(options.logger, storage.recovery);
    const leftovers = removeSnapshotLeftovers(config.dataDirectory);
    if (leftovers.length > 0) options.logger.info({ event: 'snapshot-leftovers', files: leftovers }, 'removed the files of an interrupted snapshot');
    let stateMachine: SqliteStateMachine;
    try {
      const extensionPaths = installExtensions(options.extensionPaths ?? [], config.dataDirectory);
      if (extensionPaths.length > 0) options.logger.info({ event: 'extensions', files: extensionPaths }, 'loading SQLite extensions');
      stateMachine = new SqliteStateMachine({
        path: join(config.dataDirectory, 'db.sqlite'),
        foreignKeys: config.foreignKeys,
        extensionPaths,
      });
      logOpenEvents(options.logger, stateMachine);
    } catch (error) {
      await storage.close();
      throw error;
    }
    if (peers !== undefined) await QuorumNode.#recover({ config, storage, stateMachine, logger: options.logger }, peers);
    const node = new QuorumNode(options, config, storage, stateMachine);
    try {
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
    await this.#transport.start();
    this.#httpAddress = await this.http.listen(httpListen.host, httpListen.port);
    this.#logger.info({ event: 'listening', http: `${this.#httpAddress.host}:${this.#httpAddress.port}`, raft: this.#transport.address }, 'node listening');
    await this.#formOrJoin();
    this.#maintenance.start();
    this.reaper.start();
  }

  async #formOrJoin(): Promise<void> {
    const config = this.config;
    const self = { raftAddress: config.raftAdvertisedAddress, apiAddress: config.apiAdvertisedAddress };
    if (!this.#storage.isEmpty()) {
      await this.runtime.startCore();
      if (config.joinAddresses.length === 0) return;
      if (config.bootstrapExpect > 1) {
        this.#logger.info({ event: 'join-ignored' }, 'node has state: ignoring --bootstrap-expect and its --join list');
        return;
      }
      this.#refuseJoinFromSingleNodeCluster();
      this.#rejoinInBackground();
      return;
    }
    if (config.bootstrapExpect > 1) {
      const outcome = await this.membership.discover(config.joinAddresses, config.bootstrapExpect);
      if (outcome === 'bootstrapped') {
        const founders = this.runtime.members.entries().map(([id]) => id);
        await this.runtime.startCore({ campaign: Membership.shouldCampaignFirst(config.nodeId, founders) });
        return;
      }
    }
    if (config.joinAddresses.length > 0) {
      await this.runtime.startCore();
      await this.membership.joinCluster(config.joinAddresses, { hasState: false });
      return;
    }
    await this.runtime.bootstrap(new Map<NodeId, typeof self>([[config.nodeId, self]]));
    await this.runtime.startCore();
  }

  /** As rqlited: a node that is a whole cluster by itself must not join another one (its data would be lost). */
  #refuseJoinFromSingleNodeCluster(): void {
    const confState = this.runtime.confState();
    const members = [...confState.voters, ...confState.learners];
    if (members.length === 1 && members[0] === this.config.nodeId) throw new ServiceError('BAD_REQUEST', singleNodeJoinRefusal);
  }

  /**
   * A node with state given --join sends the join anyway, as rqlited does: joins are
   * idempotent, and a member restarted on new addresses gets them re-stated through the
   * log. It runs beside the node, which is a member already and serves meanwhile; if it
   * fails the node keeps running on the addresses the cluster has for it.
   */
  #rejoinInBackground(): void {
    const signal = this.#rejoinCancel.signal;
    this.#rejoin = this.membership.joinCluster(this.config.joinAddresses, { hasState: true, signal }).catch((error: unknown) => {
      if (signal.aborted) return;
      this.#logger.error({ event: 'rejoin-failed', error: String(error) }, 'could not rejoin through --join: running on the addresses the cluster has');
    });
  }

  /**
   * A graceful stop as rqlited does one on SIGTERM: with `removeOnShutdown` the node first
   * asks the leader to remove it (bounded by shutdownRemoveTimeoutMs), then it stops,
   * handing leadership over first if it leads and `stepDownOnShutdown` holds. Resolves
   * false if the removal failed (the node stopped all the same).
   */
  async shutdown(): Promise<boolean> {
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
      await this.service.remove(request, { signal: AbortSignal.timeout(shutdownRemoveTimeoutMs) });
      this.#logger.info({ event: 'left' }, 'removed this node from the cluster before shutdown');
      return true;
    } catch (error) {
      this.#logger.error({ event: 'leave-failed', error: String(error) }, 'failed to remove this node from the cluster before shutdown');
      return false;
    }
  }

  /**
   * Stops the node: a leader first hands leadership to the most caught-up voter (bounded
   * wait) unless told not to, then HTTP, the runtime, the transport, the store and the
   * database close in that order.
   */
  stop(options: { transferLeadership: boolean } = { transferLeadership: true }): Promise<void> {
    this.#stopping ??= this.#stop(options);
    return this.#stopping;
  }

  async #stop(options: { transferLeadership: boolean }): Promise<void> {
    this.#maintenance.stop();
    this.#rejoinCancel.abort();
    await this.#rejoin;
    this.reaper.stop();
    await this.runtime.stop(options);
    await this.http.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing HTTP failed'));
    await this.#transport.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing transport failed'));
    await this.#storage.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing storage failed'));
    this.#stateMachine.close();
  }
}
