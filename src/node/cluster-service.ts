/**
 * `ClusterService` on the runtime: what the HTTP API calls. Routes each request to
 * where it must run — writes and weak/linearizable reads to the leader (forwarded over
 * the peer transport, or refused with NOT_LEADER under `?redirect`), `none` reads
 * locally, queued writes to this node's write queue (queued-writes.ts) — and answers
 * cluster questions (/status, /nodes, /leader, /readyz).
 */
import {
  ServiceError,
  type CallContext,
  type ClusterService,
  type CounterSections,
  type DataResponse,
  type DatabaseChangeRequest,
  type DatabaseList,
  type ExecuteRequest,
  type LeaderRequest,
  type MetricFamily,
  type MixedRequest,
  type NodeInfo,
  type NodesRequest,
  type QueryRequest,
  type ReadLevel,
  type ReadinessCheck,
  type ReadinessRequest,
  type RemoveRequest,
  type StatusDocument,
  type StatusRequest,
  type StepDownRequest,
} from '../service/service.js';
import type { AccessControl, Permission } from '../service/access-control.js';
import type { NodeId } from '../raft/types.js';
import { StateMachineError } from '../state-machine/errors.js';
import { defaultDatabaseName, unknownDatabaseMessage } from '../state-machine/database-entries.js';
import type { DatabaseChoice } from '../state-machine/multi-database-machine.js';
import { checkedDatabase, NodeDatabaseCatalog, type DatabaseNames } from './database-catalog-service.js';
import { isRqliteDisallowedPragma, rqliteDisallowedPragma } from '../state-machine/rqlite-refusal.js';
import { validateForWrite } from '../state-machine/sql-policy.js';
import type { TimedReadOptions } from '../state-machine/timed-reads.js';
import type { QueuedRequest, Statement, StatementResult } from '../state-machine/types.js';
import type { NodeConfig } from './config.js';
import { NodeCounters, type CounterName } from './counters.js';
import { LeaderRouting } from './leader-routing.js';
import { leaderOtherThan, waitForLeader } from './leader-wait.js';
import type { Membership } from './membership.js';
import { authorizeForwarded } from './peer-access.js';
import { callPeer, handleEnvelope, peerMethods, type PeerTransport } from './peer-calls.js';
import { QueuedWrites } from './queued-writes.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { Scheduler } from './scheduler.js';
import { leaderContactWithin } from './leader-contact.js';
import { buildStatus, type StatusDatabase } from './status.js';
import type { ObservedNode } from './node-metrics.js';
import { observedMetricFamilies } from './observed-metrics.js';

/** A read of a database that does not exist (StateMachineError NO_DATABASE) is NOT_FOUND (HTTP 404). */
function withDatabaseRefusal<Answer>(work: () => Answer): Answer {
  try {
    return work();
  } catch (error) {
    if (error instanceof StateMachineError && error.code === 'NO_DATABASE') throw new ServiceError('NOT_FOUND', error.message, { cause: error });
    throw error;
  }
}

interface ServiceOptions {
  readonly version: string;
  /** Whether a statement only reads (SQLite's judgement, from the state machine's side), in `database` (absent: the default one). */
  readonly isReadOnly: (statement: Statement, database?: string) => boolean;
}

/** This node's database as the service reads it (the state machine's read side). */
interface LocalDatabase extends StatusDatabase {
  readonly healthy: boolean;
  query(statements: readonly Statement[], options?: Omit<TimedReadOptions, 'timeoutMs' | 'signal'> & DatabaseChoice): readonly StatementResult[];
  /** A read with `db_timeout`: interrupted when `timeoutMs` passes; each unfinished statement answers "query timeout". */
  queryWithDeadline(statements: readonly Statement[], options: TimedReadOptions & DatabaseChoice): Promise<readonly StatementResult[]>;
}

/** Everything the service works with, each through the narrowest interface that serves. */
interface ServiceDependencies {
  readonly config: NodeConfig;
  /** Consensus: proposals, read barriers, leadership and membership facts. */
  readonly log: ReplicatedLog;
  readonly database: LocalDatabase;
  /** Forwarding to the leader and answering forwarded requests. */
  readonly peers: PeerTransport;
  readonly membership: Pick<Membership, 'removeMember'>;
  /** More /metrics families (change data capture's queue, node-cdc.ts). */
  readonly extraMetrics?: () => readonly MetricFamily[];
  /** A write's entry data: the statements with the leader's clock and a fresh seed (NodeRuntime.encodeCommandFor). */
  readonly encodeCommand: (statements: readonly Statement[], transaction: boolean, requestId: string | null, qualifyColumns: boolean) => Uint8Array;
  /** A queued batch's entry data, the same way (NodeRuntime.encodeQueuedBatchFor). */
  readonly encodeQueuedBatch: (requests: readonly QueuedRequest[], transaction: boolean, batchId: string) => Uint8Array;
  readonly scheduler: Scheduler;
  /** The runtime's counters (snapshots, joins); this service adds the calls it serves for peers. Default: its own. */
  readonly counters?: NodeCounters;
  /** Peer connections the transport accepted (rqlite's mux.num_connections_handled), when known. */
  readonly peerConnectionsAccepted?: () => number;
  /** Checks the callers of forwarded requests (the -auth file); default null: none checked. */
  readonly access?: AccessControl | null;
  /** The runtime's latencies, recent events and followers' progress, for /metrics and /status. */
  readonly observed?: ObservedNode;
  /** The databases of a node that holds several (database-catalog-service.ts); absent: the default one only. */
  readonly databases?: DatabaseNames;
}

export class NodeClusterService implements ClusterService {
  readonly #config: NodeConfig;
  readonly #log: ReplicatedLog;
  readonly #database: LocalDatabase;
  readonly #peers: PeerTransport;
  readonly #membership: Pick<Membership, 'removeMember'>;
  readonly #encodeCommand: ServiceDependencies['encodeCommand'];
  readonly #scheduler: Scheduler;
  readonly #options: ServiceOptions;
  readonly #startedAtMs: number;
  readonly #counters: NodeCounters;
  readonly #peerConnectionsAccepted: (() => number) | undefined;
  readonly #extraMetrics: (() => readonly MetricFamily[]) | undefined;
  readonly #queuedWrites: QueuedWrites;
  readonly #access: AccessControl | null;
  readonly #routing: LeaderRouting;
  readonly #observed: ObservedNode | undefined;
  readonly #catalog: NodeDatabaseCatalog | undefined;

  constructor(dependencies: ServiceDependencies, options: ServiceOptions) {
    this.#config = dependencies.config;
    this.#log = dependencies.log;
    this.#database = dependencies.database;
    this.#peers = dependencies.peers;
    this.#membership = dependencies.membership;
    this.#encodeCommand = dependencies.encodeCommand;
    this.#scheduler = dependencies.scheduler;
    this.#options = options;
    this.#startedAtMs = this.#scheduler.nowMs();
    this.#counters = dependencies.counters ?? new NodeCounters();
    this.#peerConnectionsAccepted = dependencies.peerConnectionsAccepted;
    this.#extraMetrics = dependencies.extraMetrics;
    // Its bounds are the node's writeQueue* settings (rqlited's -write-queue-* flags).
    this.#queuedWrites = new QueuedWrites({
      config: this.#config,
      log: this.#log,
      peers: this.#peers,
      scheduler: this.#scheduler,
      encodeBatch: dependencies.encodeQueuedBatch,
      assertDatabaseExists: (database) => {
        if (database !== undefined && this.#catalog === undefined) throw new ServiceError('NOT_FOUND', unknownDatabaseMessage(database));
        this.#catalog?.assertExists(database);
      },
    });
    this.#access = dependencies.access ?? null;
    this.#routing = new LeaderRouting(dependencies);
    this.#observed = dependencies.observed;
    const { log, peers, databases: catalog } = dependencies;
    const applyTimeoutMs = this.#config.applyTimeoutMs;
    this.#catalog = catalog === undefined ? undefined : new NodeDatabaseCatalog({ log, peers, routing: this.#routing, catalog, applyTimeoutMs });
  }

  /**
   * Registers the peer handlers through which followers forward to this node. Each checks
   * the caller the follower authenticated (peer-access.ts) before it serves the request.
   */
  registerPeerHandlers(): void {
    const serve = (
      method: string,
      needed: readonly Permission[],
      call: (payload: unknown, context: CallContext) => Promise<unknown>,
      counter?: CounterName<'cluster'>,
    ): void =>
      handleEnvelope(this.#peers, method, (payload, signal) => {
        if (counter !== undefined) this.#counters.add('cluster', counter);
        return call(payload, { signal, caller: authorizeForwarded(this.#access, payload, needed) });
      });
    serve(peerMethods.execute, ['execute'], (payload, context) => this.execute({ ...(payload as ExecuteRequest), forward: false }, context), 'num_execute_req');
    serve(peerMethods.query, ['query'], (payload, context) => this.query({ ...(payload as QueryRequest), forward: false }, context), 'num_query_req');
    const mixed = (payload: unknown, context: CallContext): Promise<DataResponse> => this.request({ ...(payload as MixedRequest), forward: false }, context);
    serve(peerMethods.request, ['execute', 'query'], mixed, 'num_request_req');
    serve(peerMethods.remove, ['remove'], (payload, context) => this.remove({ ...(payload as RemoveRequest), forward: false }, context), 'num_remove_node_req');
    serve(peerMethods.stepDown, ['leader-ops'], (payload, context) => this.stepDown({ ...(payload as StepDownRequest), forward: false }, context));
    handleEnvelope(this.#peers, peerMethods.ping, () => {
      this.#counters.add('cluster', 'num_get_node_api_req');
      return Promise.resolve({ id: this.#config.nodeId });
    });
    this.#queuedWrites.registerPeerHandler();
    if (this.#catalog !== undefined) {
      serve(peerMethods.database, ['all'], (payload, context) => this.changeDatabase({ ...(payload as DatabaseChangeRequest), forward: false }, context));
    }
  }

  /**
   * Before the node stops: sends what the write queue holds and waits for it to apply (at
   * most `timeoutMs`), then fails whatever is left: a graceful stop loses no queued write
   * that can still be written.
   */
  async stopWriteQueue(timeoutMs: number): Promise<void> {
    await this.#queuedWrites.drain(timeoutMs);
    this.#queuedWrites.close();
  }

  get #servedBy(): string {
    return this.#config.raftAdvertisedAddress;
  }

  /** A refused statement is REFUSED_SQL, in rqlite's words where rqlite refuses it too. */
  #validateWrite(statements: readonly Statement[]): void {
    try {
      validateForWrite(statements);
    } catch (error) {
      if (error instanceof StateMachineError && error.code === 'REFUSED_SQL') {
        const rqliteRefuses = statements.some((statement) => isRqliteDisallowedPragma(statement.sql));
        throw new ServiceError('REFUSED_SQL', rqliteRefuses ? rqliteDisallowedPragma : error.message, { cause: error });
      }
      throw new ServiceError('BAD_REQUEST', error instanceof Error ? error.message : String(error), { cause: error });
    }
  }

  async #executeOnLeader(request: ExecuteRequest | MixedRequest): Promise<DataResponse> {
    const database = checkedDatabase(request.database);
    if (database !== undefined && this.#catalog === undefined) throw new ServiceError('NOT_FOUND', unknownDatabaseMessage(database));
    this.#catalog?.assertExists(database);
    const data = NodeDatabaseCatalog.wrap(database, this.#encode(request));
    // rqlited's -raft-apply-timeout bounds the wait for the entry, within the request's own timeout.
    const outcome = await this.#log.propose(data, Math.min(request.timeoutMs, this.#config.applyTimeoutMs));
    return { results: outcome.results, raftIndex: outcome.index, sequenceNumber: null, servedBy: this.#servedBy };
  }

  #encode(request: ExecuteRequest | MixedRequest): Uint8Array {
    try {
      // Only /db/request carries reads (and so `qualify`) into the log.
      const qualifyColumns = 'qualifyColumns' in request && request.qualifyColumns === true;
      return this.#encodeCommand(request.statements, request.transaction, request.idempotencyKey, qualifyColumns);
    } catch (error) {
      throw new ServiceError('BAD_REQUEST', error instanceof Error ? error.message : String(error), { cause: error });
    }
  }

  async execute(request: ExecuteRequest, context: CallContext): Promise<DataResponse> {
    this.#validateWrite(request.statements);
    // Queued on this node whatever `?redirect` says, as rqlite does; the queue forwards its batches.
    if (request.queue) return this.#queuedWrites.enqueue(request, context, this.#servedBy);
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return this.#routing.forward(leaderId, peerMethods.execute, request, context, request.forwardRetryCountMax);
    return this.#executeOnLeader(request);
  }

  query(request: QueryRequest, context: CallContext): Promise<DataResponse> {
    // As in rqlite, a forwarded query is never retried (`retries` is for writes and /db/request).
    return this.#query(request, context, 0);
  }

  async #query(request: QueryRequest | MixedRequest, context: CallContext, retryCountMax: number, leadershipLost = false): Promise<DataResponse> {
    if (request.appliedIndexMin !== null) await this.#log.waitForApplied(request.appliedIndexMin, request.timeoutMs);
    const level = this.#effectiveLevel(request.level);
    if (level === 'none') return this.#readLocally(request, context);
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    // A linearizable read on a follower or learner is served here: only its read index is
    // asked of the leader (readBarrier). `strong` keeps rqlite's meaning: read by the leader.
    if (leaderId !== undefined && level !== 'linearizable') return this.#routing.forward(leaderId, peerMethods.query, request, context, retryCountMax);
    if (level === 'weak') return this.#runQuery(request, context, null);
    let readIndex: number;
    try {
      readIndex = await this.#log.readBarrier(request.linearizableTimeoutMs);
    } catch (error) {
      // This node stopped leading while the read waited and knows who leads now: as rqlite does
      // with a read that meets ErrNotLeader, it goes the follower's way (once), unless `redirect`.
      const newLeader = error instanceof ServiceError && error.code === 'NOT_LEADER' && leaderId === undefined;
      if (!newLeader || !request.forward || leadershipLost) throw error;
      return this.#query(request, context, retryCountMax, true);
    }
    // rqlite reports `raft_index` for the reads that went through consensus: level strong.
    return this.#runQuery(request, context, level === 'strong' ? readIndex : null);
  }

  #effectiveLevel(level: ReadLevel): ReadLevel {
    if (level !== 'auto') return level;
    return this.#log.isVoter() ? 'weak' : 'none';
  }

  #readLocally(request: QueryRequest | MixedRequest, context: CallContext): Promise<DataResponse> {
    const freshnessMs = request.freshnessMs;
    if (freshnessMs === null || freshnessMs <= 0) return this.#runQuery(request, context, null);
    // Contact recent enough reads at once: no turn of the event loop on the common path.
    if (this.#log.leaderContactAgeMs() <= freshnessMs) return this.#readIfApplied(request, context);
    return leaderContactWithin(this.#log, this.#scheduler, freshnessMs).then((fresh) => {
      if (!fresh) throw new ServiceError('STALE_READ', 'stale read');
      return this.#readIfApplied(request, context);
    });
  }

  /** A local read whose leader contact passed `freshness`: `freshness_strict` also wants every known commit applied. */
  #readIfApplied(request: QueryRequest | MixedRequest, context: CallContext): Promise<DataResponse> {
    if (request.freshnessStrict && this.#database.appliedIndex < this.#log.position().commitIndex) throw new ServiceError('STALE_READ', 'stale read');
    return this.#runQuery(request, context, null);
  }

  /** Runs the reads here; with `db_timeout` in a process that is killed at the deadline. `raftIndex`: the read index of a strong read. */
  async #runQuery(request: QueryRequest | MixedRequest, context: CallContext, raftIndex: number | null): Promise<DataResponse> {
    const database = checkedDatabase(request.database);
    const options = { transaction: request.transaction, timings: request.timings, qualifyColumns: request.qualifyColumns === true, database };
    // rqlite: a db_timeout of 0 means no timeout.
    const dbTimeoutMs = request.dbTimeoutMs ?? 0;
    const results =
      dbTimeoutMs > 0
        ? await this.#readWithDeadline(request.statements, Object.assign({ timeoutMs: dbTimeoutMs, signal: context.signal }, options))
        : withDatabaseRefusal(() => this.#database.query(request.statements, options));
    return { results, raftIndex, sequenceNumber: null, servedBy: this.#servedBy };
  }

  async #readWithDeadline(statements: readonly Statement[], options: TimedReadOptions & DatabaseChoice): Promise<readonly StatementResult[]> {
    try {
      return await this.#database.queryWithDeadline(statements, options);
    } catch (error) {
      if (error instanceof StateMachineError && error.code === 'NO_DATABASE') throw new ServiceError('NOT_FOUND', error.message, { cause: error });
      if (error instanceof StateMachineError) throw new ServiceError('UNAVAILABLE', error.message, { cause: error });
      if (options.signal.aborted) throw new ServiceError('TIMEOUT', 'read abandoned: the request timed out or its client left', { cause: error });
      throw error;
    }
  }

  async request(request: MixedRequest, context: CallContext): Promise<DataResponse> {
    const database = checkedDatabase(request.database);
    const hasWrite = withDatabaseRefusal(() => request.statements.some((statement) => !this.#options.isReadOnly(statement, database)));
    if (!hasWrite) return this.#query(request, context, request.forwardRetryCountMax);
    this.#validateWrite(request.statements);
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return this.#routing.forward(leaderId, peerMethods.request, request, context, request.forwardRetryCountMax);
    return this.#executeOnLeader(request);
  }

  changeDatabase(request: DatabaseChangeRequest, context: CallContext): Promise<{ readonly raftIndex: number }> {
    if (this.#catalog === undefined) throw new ServiceError('NOT_FOUND', 'this node holds one database only');
    return this.#catalog.changeDatabase(request, context);
  }

  listDatabases(): Promise<DatabaseList> {
    if (this.#catalog === undefined) return Promise.resolve({ databases: [defaultDatabaseName], countMax: 1 });
    return this.#catalog.listDatabases();
  }

  /** `context` ends a `leader_not` wait early when the caller goes away; without one, only `waitMs` does. */
  async status(request: StatusRequest, context?: CallContext): Promise<StatusDocument> {
    const { leaderNot } = request;
    // Answered whether or not another leader came: the document says who leads then.
    if (leaderNot !== undefined) await waitForLeader(this.#log, this.#scheduler, leaderOtherThan(leaderNot.id), leaderNot.waitMs, context?.signal);
    return buildStatus(
      {
        key: request.key,
        config: this.#config,
        log: this.#log,
        database: this.#database,
        startedAtMs: this.#startedAtMs,
        nowMs: this.#scheduler.nowMs(),
        writeQueue: this.#queuedWrites.status(),
        ...(this.#observed === undefined ? {} : { observed: this.#observed }),
        databases:
          this.#catalog === undefined ? undefined : await this.#catalog.listDatabases().then((list) => ({ names: list.databases, countMax: list.countMax })),
      },
      this.#options.version,
    );
  }

  async nodes(request: NodesRequest): Promise<readonly NodeInfo[]> {
    const confState = this.#log.confState();
    const ids = request.nonVoters ? [...confState.voters, ...confState.learners] : [...confState.voters];
    return Promise.all(ids.map((id) => this.#nodeInfo(id, request.timeoutMs)));
  }

  async #nodeInfo(id: NodeId, timeoutMs: number): Promise<NodeInfo> {
    const addresses = this.#log.members.get(id);
    const base = {
      id,
      apiAddress: addresses === undefined ? '' : `${this.#config.apiScheme}://${addresses.apiAddress}`,
      raftAddress: addresses?.raftAddress ?? '',
      version: this.#options.version,
      voter: this.#log.confState().voters.includes(id),
      leader: id === this.#log.leaderId,
    };
    if (id === this.#config.nodeId) return { ...base, reachable: true, timeSeconds: 0, error: '' };
    const startedMs = this.#scheduler.monotonicMs();
    try {
      await callPeer(this.#peers, { id }, peerMethods.ping, {}, { timeoutMs: Math.min(timeoutMs, 5000) });
      return { ...base, reachable: true, timeSeconds: (this.#scheduler.monotonicMs() - startedMs) / 1000, error: '' };
    } catch (error) {
      return { ...base, reachable: false, timeSeconds: null, error: error instanceof Error ? error.message : String(error) };
    }
  }

  async leader(request: LeaderRequest): Promise<NodeInfo | null> {
    const leaderId = this.#log.leaderId;
    if (leaderId === '') return null;
    return this.#nodeInfo(leaderId, request.timeoutMs);
  }

  async stepDown(request: StepDownRequest, context: CallContext): Promise<void> {
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) {
      await this.#routing.forwardControl(leaderId, peerMethods.stepDown, request, context);
      return;
    }
    const self = this.#config.nodeId;
    const target = request.id ?? this.#log.mostCaughtUpVoter();
    if (target === undefined) throw new ServiceError('UNAVAILABLE', 'no other voter to hand leadership to');
    if (target === self) return;
    if (!this.#log.confState().voters.includes(target)) throw new ServiceError('NOT_FOUND', `no voter with id ${target}`);
    this.#log.transferLeadership(target);
    if (request.wait) await this.#log.waitForLeaderChange(request.timeoutMs, (id) => id !== '' && id !== self);
  }

  async remove(request: RemoveRequest, context: CallContext): Promise<void> {
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) {
      await this.#routing.forwardControl(leaderId, peerMethods.remove, request, context);
      return;
    }
    if (!this.#log.isMember(request.id)) throw new ServiceError('NOT_FOUND', `no member with id ${request.id}`);
    await this.#membership.removeMember(request.id);
  }

  async readiness(request: ReadinessRequest): Promise<readonly ReadinessCheck[]> {
    const checks: ReadinessCheck[] = [];
    const leaderOk = this.#log.leaderId !== '' && (await leaderContactWithin(this.#log, this.#scheduler, this.#config.electionTimeoutMs * 2));
    checks.push({ name: 'leader', ok: leaderOk, message: leaderOk ? '' : 'leader not found' });
    if (!leaderOk) return checks;
    const storeProblem = this.#storeProblem();
    checks.push({ name: 'store', ok: storeProblem === '', message: storeProblem });
    if (storeProblem !== '') return checks;
    if (request.sync) {
      const commit = this.#log.position().commitIndex;
      try {
        await this.#log.waitForApplied(commit, request.timeoutMs);
        checks.push({ name: 'sync', ok: true, message: '' });
      } catch (error) {
        checks.push({ name: 'sync', ok: false, message: error instanceof Error ? error.message : String(error) });
        return checks;
      }
    }
    checks.push(this.#databaseCheck());
    return checks;
  }

  #storeProblem(): string {
    if (!this.#log.started) return 'store not started';
    if (this.#log.haltError !== undefined) return `store halted: ${this.#log.haltError.message}`;
    if (!this.#log.logStoreHealthy) return 'raft log store unhealthy';
    if (!this.#database.healthy) return 'state machine unhealthy';
    return '';
  }

  #databaseCheck(): ReadinessCheck {
    try {
      const [result] = this.#database.query([{ sql: 'SELECT 1', positional: [], named: {} }]);
      if (result?.kind === 'error') return { name: 'db', ok: false, message: result.error };
      return { name: 'db', ok: true, message: '' };
    } catch (error) {
      return { name: 'db', ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  }

  async counters(): Promise<CounterSections> {
    const sections = this.#counters.sections();
    if (this.#peerConnectionsAccepted === undefined) return sections;
    return { ...sections, mux: { num_connections_handled: this.#peerConnectionsAccepted() } };
  }

  async metrics(): Promise<readonly MetricFamily[]> {
    const position = this.#log.position();
    const reads = this.#log.readBarrierCounts();
    const family = (type: 'gauge' | 'counter', name: string, help: string, value: number): MetricFamily => ({
      name,
      help,
      type,
      samples: [{ labels: {}, value }],
    });
    const gauge = family.bind(undefined, 'gauge');
    const counter = family.bind(undefined, 'counter');
    return [
      gauge('quorumlite_raft_term', 'Current Raft term.', position.term),
      gauge('quorumlite_raft_commit_index', 'Highest log index known committed.', position.commitIndex),
      gauge('quorumlite_raft_applied_index', 'Highest log index applied to SQLite.', this.#database.appliedIndex),
      gauge('quorumlite_raft_last_log_index', 'Highest index in the local log.', position.lastIndex),
      gauge('quorumlite_raft_is_leader', '1 when this node is the leader.', this.#log.isLeader ? 1 : 0),
      gauge('quorumlite_raft_last_snapshot_index', 'Index of the newest snapshot.', position.lastSnapshotIndex),
      counter('quorumlite_linearizable_reads_total', 'Linearizable read barriers this node took.', reads.readCount),
      counter('quorumlite_read_index_rounds_total', 'ReadIndex rounds this node started for them (one serves many reads).', reads.roundCount),
      ...observedMetricFamilies(this.#observed, this.#counters),
      ...(this.#extraMetrics?.() ?? []),
      gauge('quorumlite_databases', 'Databases this node holds, the default one included.', (await this.listDatabases()).databases.length),
    ];
  }
}
