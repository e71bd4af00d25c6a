/**
 * One quorumlite node, wired from the real modules: the durable store, the SQLite state
 * machine, the TCP transport, the Raft core and the HTTP API, with the start-up decision
 * (restart / bootstrap one node / --bootstrap-expect / --join) and a graceful stop.
 *
 * Data directory layout: raft/ (log, snapshots, LOCK), db.sqlite (the user's database),
 * members.json (the address book), incoming/ (snapshots being received).
 */
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
import { writeQueueDefaults } from '../node/queued-writes.js';
import { NodeRuntime } from '../node/runtime.js';
import { systemScheduler, type Scheduler } from '../node/scheduler.js';

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
  /** The write queue behind `?queue` (rqlited's -write-queue-* flags); rqlited's defaults. */
  readonly writeQueueCapacity?: number;
  readonly writeQueueBatchSize?: number;
  readonly writeQueueTimeoutMs?: number;
  readonly writeQueueTransaction?: boolean;
  /** Called if the Ready loop hits a broken invariant (the node has stopped serving writes). */
  readonly onFatal?: (error: Error) => void;
  /** Randomness for election jitter and command seeds; default Math.random (tests pin it). */
  readonly random?: () => number;
  /** Every timer and clock reading of the node; default the real one. */
  readonly scheduler?: Scheduler;
}

export const defaultClusterId = 'quorumlite';

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

export class QuorumNode {
  readonly config: NodeConfig;
  readonly runtime: NodeRuntime;
  readonly membership: Membership;
  readonly service: NodeClusterService;
  readonly http: HttpApiServer;
  readonly #storage: DurableStorage;
  readonly #stateMachine: SqliteStateMachine;
  readonly #transport: TcpTransport<Message>;
  readonly #logger: NodeLogger;
  #httpAddress: { host: string; port: number } | undefined;
  #stopping: Promise<void> | undefined;

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
      scheduler,
      ...(options.onFatal === undefined ? {} : { onFatal: options.onFatal }),
      ...(options.random === undefined ? {} : { random: options.random }),
    });
    const runtime = this.runtime;
    this.membership = new Membership({ config, runtime, peers: this.#transport, scheduler, logger: options.logger });
    this.service = new NodeClusterService(
      {
        config,
        log: runtime,
        database: stateMachine,
        peers: this.#transport,
        membership: this.membership,
        encodeCommand: (statements, transaction, requestId) => runtime.encodeCommandFor(statements, transaction, requestId),
        encodeQueuedBatch: (requests, transaction, batchId) => runtime.encodeQueuedBatchFor(requests, transaction, batchId),
        scheduler,
      },
      {
        version: options.version,
        isReadOnly: (statement) => stateMachine.isReadOnly(statement),
        writeQueue: {
          writeQueueCapacity: options.writeQueueCapacity ?? writeQueueDefaults.writeQueueCapacity,
          writeQueueBatchSize: options.writeQueueBatchSize ?? writeQueueDefaults.writeQueueBatchSize,
          writeQueueTimeoutMs: options.writeQueueTimeoutMs ?? writeQueueDefaults.writeQueueTimeoutMs,
          writeQueueTransaction: options.writeQueueTransaction ?? writeQueueDefaults.writeQueueTransaction,
        },
      },
    );
    this.http = createHttpServer(this.service, { quorumliteVersion: options.version, ...options.http });
  }

  /** Opens the data directory and starts the node; resolves once it serves HTTP and has joined or formed a cluster. */
  static async start(options: QuorumNodeOptions): Promise<QuorumNode> {
    const config = resolveNodeConfig(options);
    await mkdir(join(config.dataDirectory, 'incoming'), { recursive: true });
    const storage = await DurableStorage.open(join(config.dataDirectory, 'raft'));
    logRecovery(options.logger, storage.recovery);
    let stateMachine: SqliteStateMachine;
    try {
      stateMachine = new SqliteStateMachine({ path: join(config.dataDirectory, 'db.sqlite') });
    } catch (error) {
      await storage.close();
      throw error;
    }
    const node = new QuorumNode(options, config, storage, stateMachine);
    try {
      await node.#start(options.httpListen);
    } catch (error) {
      await node.stop({ transferLeadership: false });
      throw error;
    }
    return node;
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
  }

  async #formOrJoin(): Promise<void> {
    const config = this.config;
    const self = { raftAddress: config.raftAdvertisedAddress, apiAddress: config.apiAdvertisedAddress };
    if (!this.#storage.isEmpty()) {
      if (config.joinAddresses.length > 0) this.#logger.info({ event: 'join-ignored' }, 'node has state: ignoring --join, rejoining its cluster');
      await this.runtime.startCore();
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
      await this.membership.joinCluster(config.joinAddresses);
      return;
    }
    await this.runtime.bootstrap(new Map<NodeId, typeof self>([[config.nodeId, self]]));
    await this.runtime.startCore();
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
    await this.service.stopWriteQueue(this.config.shutdownTransferTimeoutMs);
    await this.runtime.stop(options);
    await this.http.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing HTTP failed'));
    await this.#transport.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing transport failed'));
    await this.#storage.close().catch((error: unknown) => this.#logger.warn({ error: String(error) }, 'closing storage failed'));
    this.#stateMachine.close();
  }
}
