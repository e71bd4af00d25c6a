/**
 * The deterministic cluster simulator. One seed drives a cluster of real node runtimes
 * (src/node `NodeRuntime`, with the real Raft core) in one process, as TigerBeetle's
 * simulator runs its real replica code: time, disk and network are twins of the
 * runtime's ports (sim-clock.ts, storage-twin.ts, state-machine-twin.ts,
 * transport-twin.ts), and nothing reads the real clock or touches a real file.
 *
 * The event loop: drain the queued setImmediate callbacks (each followed by every promise
 * continuation it caused, through one real event-loop turn), then run the next event — a
 * timer (a node's tick, a timeout, a disk completion, the simulator's own fault injection
 * and clients) or a message delivery — by virtual time, ties broken by the seed.
 *
 * A run has two phases: `chaosTicks` of faults, then the faults heal and the cluster must
 * elect a leader and apply a probe write on every member within `livenessTicksMax`.
 * Safety invariants are checked as the run goes (invariants.ts), the client history at
 * the end: its linearizability (the key-value workload) or its serializability (the
 * transaction workload).
 */
import type { ConfState, Entry, NodeId } from '../../src/raft/types.js';
import type { NodeLogger } from '../../src/node/logger.js';
import { resolveNodeConfig } from '../../src/node/config.js';
import { isEnvironmentalFailure } from '../../src/node/runtime.js';
import type { StoredSnapshot } from '../../src/node/ports.js';
import { SimulatedClients, type PlantedReadFault, type WorkloadClients } from './clients.js';
import type { DiskFaults } from './durable-twin.js';
import { FaultInjector, type Cluster } from './faults.js';
import { HistoryRecorder } from './history.js';
import { describeError, InvariantViolation, SafetyMonitor, type InvariantName } from './invariants.js';
import { kvModel, type KvInput, type KvOutput } from './kv-model.js';
import { encodeKvCommand, type AppliedEntry, type StateMachineFault } from './kv-state-machine.js';
import { checkSerializability, type LoggedCommit } from './serializability.js';
import { checkHistory, type CheckOutcome } from './linearizability.js';
import { Prng } from './prng.js';
import { drawScenario, simulatorTickMs, type Scenario } from './scenario.js';
import { SimulatedClock } from './sim-clock.js';
import { SimHost, type CoreOverrides, type HostWorld, type SimProcess } from './sim-host.js';
import type { ApplyObserver } from './state-machine-twin.js';
import type { StorageObserver } from './storage-twin.js';
import { Trace } from './trace.js';
import { TransactionClients } from './transaction-clients.js';
import { decodeTransactionCommand, type TransactionFault } from './transaction-command.js';
import { apiAddressOf, raftAddressOf, SimulatedTransports, type PlantedNetworkFault } from './transport-twin.js';

/**
 * What the clients do: put/append/get on a few keys, checked for linearizability
 * (clients.ts), or read-modify-write transactions committed as one log entry each,
 * checked for serializability (transaction-clients.ts, serializability.ts).
 */
export type Workload = 'key-value' | 'transactions';

export { addedNodesMax } from './faults.js';

export interface SimulationOptions {
  readonly seed: number;
  readonly clusterSize: number;
  readonly chaosTicks?: number;
  readonly livenessTicksMax?: number;
  readonly clientCount?: number;
  readonly keyCount?: number;
  readonly traceTailLinesMax?: number;
  readonly linearizabilitySearchStepsMax?: number;
  /** Print every trace line here (replaying one seed with --verbose). */
  readonly traceSink?: (line: string) => void;
  /** Planted bugs, for the tests that show the checkers can fail. */
  readonly plantedDiskFaults?: DiskFaults;
  /** A planted network fault (transport-twin.ts `PlantedNetworkFault`). */
  readonly plantedNetworkFault?: PlantedNetworkFault;
  readonly plantedReadFault?: PlantedReadFault;
  /** A state-machine bug on node n1 only. */
  readonly plantedStateMachineFault?: StateMachineFault;
  /** A transaction bug on every node (transaction-command.ts `TransactionFault`). */
  readonly plantedTransactionFault?: TransactionFault;
  /** The clients' workload: 'key-value' unless set. */
  readonly workload?: Workload;
  /** Override parts of the seed's scenario (e.g. to force crashes in a planted-bug test). */
  readonly scenarioOverrides?: Partial<Scenario>;
}

export interface SimulationStats {
  ticks: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  crashes: number;
  gracefulStops: number;
  restarts: number;
  /** Restarts over a log already compacted behind a snapshot. */
  restartsAfterCompaction: number;
  partitions: number;
  leadersElected: number;
  snapshotsTaken: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  compactions: number;
  runtimeHalts: number;
  membershipChangesApplied: number;
  transfersRequested: number;
  operationsOk: number;
  operationsFailed: number;
  operationsUnknown: number;
  linearizability: CheckOutcome | 'not-checked';
  /** The transaction workload: commits applied, rejected as conflicts, retried after a lost reply, and answered as duplicates. */
  transactionsCommitted: number;
  transactionConflicts: number;
  transactionCommitRetries: number;
  transactionDuplicates: number;
  recoveryTicks: number;
  ticksWithoutLeader: number;
  /** Nodes added by membership changes (at most addedNodesMax). */
  nodesAdded: number;
  /** Why operations failed or ended unknown, counted by reason (numbers masked). */
  unsuccessfulOperationReasons: Record<string, number>;
  /** The runtimes' own log events (info, warn, error) by name: which runtime paths the seed took. */
  runtimeEvents: Record<string, number>;
}

export interface SimulationResult {
  readonly seed: number;
  readonly clusterSize: number;
  readonly passed: boolean;
  readonly violation?: { readonly invariant: InvariantName | 'simulator-error'; readonly message: string; readonly tick: number };
  readonly traceHash: string;
  readonly traceTail: readonly string[];
  readonly stats: SimulationStats;
  readonly scenario: Scenario;
}

/** Immediates one drain runs at most: a runaway loop of turns fails the seed instead of hanging it. */
const immediatesPerDrainMax = 100_000;
/** A request unanswered after this many of its timeouts is a runtime bug (each wait has its own timeout). */
const unansweredTimeoutsMax = 5;

/**
 * Resolves once every promise continuation queued so far, and every one those queue, has
 * run: Node runs a nextTick callback only after V8 has drained the whole microtask queue.
 * (Cheaper than a real setImmediate turn, which also polls for I/O; nothing in the
 * simulated world does real I/O or uses real timers, so there is nothing to poll for.)
 */
function settleContinuations(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** A real event-loop turn (between seeds, so the process's own I/O, e.g. the test runner's, gets its turn). */
function realTurn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function runSimulation(options: SimulationOptions): Promise<SimulationResult> {
  return new Simulation(options).run();
}

export class Simulation implements Cluster {
  readonly scenario: Scenario;
  readonly trace: Trace;
  readonly stats: SimulationStats = emptyStats();
  readonly hosts = new Map<NodeId, SimHost>();
  readonly clients: WorkloadClients;
  readonly world: HostWorld;
  readonly clusterSize: number;
  tick = 0;
  private readonly clock = new SimulatedClock();
  private readonly transports: SimulatedTransports;
  private readonly monitor = new SafetyMonitor();
  private readonly history = new HistoryRecorder<KvInput, KvOutput>();
  /** The transaction workload's clients (undefined in the key-value workload). */
  private readonly transactionClients: TransactionClients | undefined;
  /** Every transaction commit in the log, as first applied: the log order the serializability check replays. */
  private readonly loggedCommits: LoggedCommit[] = [];
  private readonly faults: FaultInjector;
  readonly chaosTicks: number;
  private readonly livenessTicksMax: number;
  private readonly nodePrngSource: Prng;
  private readonly tiePrng: Prng;
  private failure: Error | undefined;
  private readonly founders = new Map<NodeId, { raftAddress: string; apiAddress: string }>();
  private readonly checkedLeaderTerms = new Set<string>();
  private readonly lastRoles = new Map<SimProcess, string>();
  private probe: { requestId: string; index: number | undefined; process: SimProcess } | undefined;
  private probeCount = 0;
  private livenessReached = false;

  constructor(private readonly options: SimulationOptions) {
    if (![3, 5, 7].includes(options.clusterSize)) throw new RangeError(`clusterSize must be 3, 5 or 7, got ${options.clusterSize}`);
    this.clusterSize = options.clusterSize;
    this.chaosTicks = options.chaosTicks ?? 500;
    this.livenessTicksMax = options.livenessTicksMax ?? 400;
    const root = new Prng(options.seed);
    this.scenario = { ...drawScenario(root.fork()), ...options.scenarioOverrides };
    const faultPrng = root.fork();
    const clientPrng = root.fork();
    this.nodePrngSource = root.fork();
    this.tiePrng = root.fork();
    const diskPrng = root.fork();
    const criticalPrng = root.fork();
    this.trace = new Trace(options.traceTailLinesMax ?? 80, options.traceSink);
    this.transports = new SimulatedTransports({
      clock: this.clock,
      networkPrng: root.fork(),
      networkConfig: this.scenario.network,
      faultPrng,
      reportUnreachableProbability: this.scenario.reportUnreachableProbability,
      endpointOf: (id) => this.hosts.get(id)?.process,
      onDelivered: (message) =>
        this.trace.record(
          this.nowMs(),
          'deliver',
          message.type,
          message.from,
          message.to,
          message.term,
          message.index,
          message.logTerm,
          message.commit,
          message.entries.length,
          message.reject,
        ),
      onSnapshotTransfer: (from, to, outcome) => {
        if (outcome === 'sent') this.stats.snapshotsSent++;
        this.trace.record(this.nowMs(), `snapshot-${outcome}`, from, to);
      },
      ...(options.plantedNetworkFault === undefined ? {} : { plantedNetworkFault: options.plantedNetworkFault }),
    });
    this.world = this.createWorld(diskPrng);
    this.faults = new FaultInjector(this, faultPrng, criticalPrng);
    const clientContext = {
      hosts: this.hosts,
      trace: this.trace,
      prng: clientPrng,
      scenario: this.scenario,
      clientCount: options.clientCount ?? 4,
      unsuccessfulOperationReasons: this.stats.unsuccessfulOperationReasons,
      nowMs: () => this.nowMs(),
      inChaos: () => this.tick < this.chaosTicks,
    };
    if (options.workload === 'transactions') {
      this.transactionClients = new TransactionClients(clientContext);
      this.clients = this.transactionClients;
    } else {
      const keyCount = options.keyCount ?? 3;
      this.clients = new SimulatedClients({ ...clientContext, history: this.history, keyCount, plantedReadFault: options.plantedReadFault });
    }
  }

  private createWorld(diskPrng: Prng): HostWorld {
    const scenario = this.scenario;
    const inChaos = (): boolean => this.tick < this.chaosTicks;
    const coreOverrides: CoreOverrides = {
      preVote: scenario.preVote,
      checkQuorum: scenario.checkQuorum,
      readOnly: scenario.readOnly,
      leaseDriftTicks: scenario.leaseDriftTicks,
      messageBytesMax: scenario.messageBytesMax,
      inflightMessageCountMax: scenario.inflightMessageCountMax,
      inflightBytesMax: scenario.inflightBytesMax,
      uncommittedEntriesBytesMax: scenario.uncommittedEntriesBytesMax,
      pendingReadCountMax: scenario.pendingReadCountMax,
    };
    const latencyMs = (): number => diskPrng.nextIntBetween(0, scenario.diskLatencyMsMax);
    const inFlightWriteLands = (): boolean => diskPrng.chance(scenario.inFlightWriteLandsProbability);
    return {
      clock: this.clock,
      transports: this.transports,
      coreOverrides,
      diskBehaviour: { latencyMs, inFlightWriteLands, diskFull: () => inChaos() && diskPrng.chance(scenario.diskFullProbability) },
      stateMachineBehaviour: { latencyMs, inFlightWriteLands, applyHalts: () => inChaos() && diskPrng.chance(scenario.applyHaltProbability) },
      observersFor: (nodeId) => this.observersFor(nodeId),
      loggerFor: (nodeId) => this.loggerFor(nodeId),
      onFatal: (nodeId, error) => this.fail(asViolation(error, 'runtime-fatal', `${nodeId}: `)),
      followerReadsSkipApplyWait: this.options.plantedReadFault === 'follower-read-without-apply-wait',
    };
  }

  nowMs(): number {
    return this.clock.nowMs;
  }

  async run(): Promise<SimulationResult> {
    let violation: SimulationResult['violation'];
    const onUnhandled = (reason: unknown): void => this.fail(asViolation(reason, 'runtime-exception', 'unhandled rejection: '));
    process.on('unhandledRejection', onUnhandled);
    try {
      this.bootstrap();
      await this.runEvents();
      this.finalChecks();
    } catch (error) {
      violation =
        error instanceof InvariantViolation
          ? { invariant: error.invariant, message: error.message, tick: this.tick }
          : { invariant: 'simulator-error', message: describeError(error), tick: this.tick };
      this.trace.record(this.nowMs(), 'VIOLATION', violation.invariant);
    } finally {
      for (const host of this.hosts.values()) if (host.process !== undefined) host.process.life.alive = false;
      // Let what the last event started settle before the listener goes (nothing runs on: every process is dead).
      await realTurn();
      process.off('unhandledRejection', onUnhandled);
    }
    this.collectStats();
    return {
      seed: this.options.seed,
      clusterSize: this.options.clusterSize,
      passed: violation === undefined,
      ...(violation === undefined ? {} : { violation }),
      traceHash: this.trace.hash(),
      traceTail: this.trace.tailLines(),
      stats: this.stats,
      scenario: this.scenario,
    };
  }

  /** Records the first failure seen away from the event loop (inside a runtime, in a promise); the loop throws it. */
  private fail(error: Error): void {
    this.failure ??= error;
  }

  spawn(task: Promise<void>, what: string): void {
    task.catch((error: unknown) => this.fail(asViolation(error, 'runtime-fatal', `${what} failed: `)));
  }

  // --- setup -----------------------------------------------------------------------

  private bootstrap(): void {
    const ids = Array.from({ length: this.clusterSize }, (_, position) => `n${position + 1}`);
    for (const id of ids) this.founders.set(id, { raftAddress: raftAddressOf(id), apiAddress: apiAddressOf(id) });
    const { heartbeatMs, electionTimeoutMs, snapshotThresholdEntries, snapshotTrailingEntries } = this.scenario;
    this.trace.record(
      0,
      'bootstrap',
      `size=${ids.length}`,
      `heartbeat=${heartbeatMs}`,
      `election=${electionTimeoutMs}`,
      `snapshot=${snapshotThresholdEntries}/${snapshotTrailingEntries}`,
      `preVote=${this.scenario.preVote}`,
      `checkQuorum=${this.scenario.checkQuorum}`,
      `readOnly=${this.scenario.readOnly}`,
    );
    for (const id of ids) this.startProcess(this.addHost(id));
    this.clock.scheduleInterval(simulatorTickMs, () => this.onSimulatorTick());
  }

  addHost(id: NodeId): SimHost {
    const nodePrng = this.nodePrngSource.fork();
    const scenario = this.scenario;
    const config = resolveNodeConfig({
      nodeId: id,
      raftAdvertisedAddress: raftAddressOf(id),
      apiAdvertisedAddress: apiAddressOf(id),
      dataDirectory: `/${id}`,
      heartbeatMs: scenario.heartbeatMs,
      electionTimeoutMs: scenario.electionTimeoutMs,
      snapshotThresholdEntries: scenario.snapshotThresholdEntries,
      snapshotIntervalMs: scenario.snapshotIntervalMs,
      snapshotTrailingEntries: scenario.snapshotTrailingEntries,
      haltRetryIntervalMs: 20,
      shutdownTransferTimeoutMs: 4 * scenario.electionTimeoutMs,
    });
    const drift = scenario.clockDriftPeriodTicks === 0 ? 'none' : nodePrng.pick(['none', 'slow', 'fast'] as const);
    const rate = drift === 'none' ? 1 : drift === 'fast' ? 1 + 1 / scenario.clockDriftPeriodTicks : 1 - 1 / scenario.clockDriftPeriodTicks;
    const nodeClock = { epochOffsetMs: nodePrng.nextIntBetween(-5000, 5000), rate };
    // The planted state-machine bug affects one node only (n1), so replicas diverge.
    const stateMachineFault = id === 'n1' ? this.options.plantedStateMachineFault : undefined;
    const host = new SimHost(id, config, nodeClock, () => nodePrng.nextFloat(), {
      ...(this.options.plantedDiskFaults === undefined ? {} : { disk: this.options.plantedDiskFaults }),
      ...(stateMachineFault === undefined ? {} : { stateMachine: stateMachineFault }),
      ...(this.options.plantedTransactionFault === undefined ? {} : { transactions: this.options.plantedTransactionFault }),
    });
    this.hosts.set(id, host);
    return host;
  }

  /**
   * A fresh runtime over what the host's disk holds, started as node.ts would: a store with
   * state restarts; an empty founder bootstraps the founding membership (the lowest id
   * campaigns at once); an empty joiner learns the members' addresses first, as a join does.
   */
  startProcess(host: SimHost): void {
    const process = host.start(this.world);
    const restart = host.incarnation > 1;
    if (restart) this.stats.restarts++;
    if (restart && host.log.compactIndex > 0) this.stats.restartsAfterCompaction++;
    this.trace.record(
      this.nowMs(),
      restart ? 'restart' : 'start',
      host.id,
      `term=${host.log.hardState.term}`,
      `vote=${host.log.hardState.vote}`,
      `first=${host.log.firstIndex()}`,
      `last=${host.log.lastIndex()}`,
      `commit=${host.log.hardState.commit}`,
      `applied=${host.database.appliedIndex}`,
      `snapshot=${host.snapshotStore.latest()?.metadata.index ?? 0}`,
      `discarded=${process.discardedSnapshotIndexes.join(',')}`,
    );
    this.guard(() => this.checkSnapshotCoverage(host, 'open'));
    process.runtime.subscribeLeaderChanges(() => this.guard(() => this.onLeaderChange(process)));
    this.spawn(
      this.boot(process).catch((error: unknown) => {
        if (!process.life.alive) return; // it crashed while starting
        if (!isEnvironmentalFailure(error)) throw error;
        // A real node exits when its disk refuses it at start-up; the operator starts it again.
        this.trace.record(this.nowMs(), 'start-failed', host.id, String(error));
        this.faults.crash(host, this.tick + 1, 'exit');
      }),
      `${host.id} start`,
    );
  }

  private async boot(process: SimProcess): Promise<void> {
    const { runtime, host } = process;
    const founder = this.founders.has(host.id);
    if (process.storage.isEmpty() && founder) await runtime.bootstrap(this.founders);
    else if (process.storage.isEmpty()) runtime.learnMembers(this.memberAddresses());
    const firstFounder = [...this.founders.keys()].sort()[0];
    await runtime.startCore({ campaign: founder && host.incarnation === 1 && host.id === firstFounder });
    process.booted = true;
  }

  /** The members' addresses as the cluster knows them (what a joining node fetches from a join address). */
  private memberAddresses(): Record<NodeId, { raftAddress: string; apiAddress: string }> {
    const source = this.findLeader() ?? [...this.hosts.values()].map((host) => host.process).find((process) => process?.runtime.started === true);
    return source?.runtime.members.toRecord() ?? Object.fromEntries(this.founders);
  }

  // --- the event loop ----------------------------------------------------------------

  private async runEvents(): Promise<void> {
    while (!this.livenessReached) {
      await this.drain();
      const timerDueMs = this.clock.nextTimerDueMs();
      const networkDueMs = this.transports.network.nextDueAt();
      if (timerDueMs === undefined) throw new Error('simulator: no timer left (the simulator tick should always be pending)');
      const networkFirst = networkDueMs !== undefined && (networkDueMs < timerDueMs || (networkDueMs === timerDueMs && this.tiePrng.chance(0.5)));
      if (networkFirst) {
        this.clock.advanceTo(networkDueMs);
        this.transports.deliverNextDue(networkDueMs);
      } else {
        this.clock.runNextTimer();
      }
    }
  }

  /** Runs queued immediates in FIFO order; after each (and first), every promise continuation runs. */
  private async drain(): Promise<void> {
    for (let count = 0; ; count++) {
      await settleContinuations();
      if (this.failure !== undefined) throw this.failure;
      if (!this.clock.runNextImmediate()) return;
      if (count >= immediatesPerDrainMax) throw new InvariantViolation('liveness', `more than ${immediatesPerDrainMax} turns without time passing`);
    }
  }

  private onSimulatorTick(): void {
    this.tick++;
    if (this.tick === this.chaosTicks) this.faults.healEverything();
    if (this.findLeader() === undefined) this.stats.ticksWithoutLeader++;
    if (this.tick < this.chaosTicks) this.faults.injectFaults();
    this.faults.restartAndRetire();
    this.clients.startOperations();
    this.checkRequestsAnswered();
    if (this.tick >= this.chaosTicks) this.checkLiveness();
  }

  findLeader(): SimProcess | undefined {
    let best: SimProcess | undefined;
    let bestTerm = -1;
    for (const host of this.hosts.values()) {
      const process = host.process;
      if (process === undefined || process.stopping || !process.runtime.isLeader) continue;
      const term = process.core?.status().term ?? 0;
      if (term > bestTerm) {
        best = process;
        bestTerm = term;
      }
    }
    return best;
  }

  // --- what the monitor watches ----------------------------------------------------------

  /** Runs a check; a violation is also recorded, so the run fails even if a runtime catches it. */
  private guard(check: () => void): void {
    try {
      check();
    } catch (error) {
      this.fail(error as Error);
      throw error;
    }
  }

  private onLeaderChange(process: SimProcess): void {
    const role = process.runtime.role;
    const previous = this.lastRoles.get(process);
    if (previous === role) return;
    this.lastRoles.set(process, role);
    const term = process.core?.status().term ?? 0;
    this.trace.record(this.nowMs(), 'role', process.nodeId, role, `t=${term}`, `leader=${process.runtime.leaderId}`);
    if (role === 'leader') this.monitor.observeLeader(process.nodeId, term);
  }

  private observersFor(nodeId: NodeId): StorageObserver & ApplyObserver {
    const host = (): SimHost => this.hosts.get(nodeId) as SimHost;
    return {
      entriesPersisted: (previousTerm, entries) => this.guard(() => this.onEntriesPersisted(host(), previousTerm, entries)),
      hardStatePersisted: (next, previous) =>
        this.guard(() => {
          this.monitor.observeHardState(nodeId, next, previous);
          this.monitor.observeCommit(next.term, next.commit);
        }),
      snapshotInstalled: (metadata) =>
        this.guard(() => {
          this.monitor.observeSnapshot(nodeId, metadata.index, metadata.term);
          this.stats.snapshotsInstalled++;
          this.trace.record(this.nowMs(), 'install-snapshot', nodeId, `i=${metadata.index}/${metadata.term}`, `voters=${metadata.confState.voters.join(',')}`);
          this.faults.criticalPoint(host(), 'install');
        }),
      snapshotStored: (stored) => this.guard(() => this.onSnapshotStored(host(), stored)),
      compacted: (index) =>
        this.guard(() => {
          this.stats.compactions++;
          this.trace.record(this.nowMs(), 'compact', nodeId, `first=${index + 1}`);
          this.checkSnapshotCoverage(host(), 'compaction');
          this.faults.criticalPoint(host(), 'compaction');
        }),
      applied: (applied, entry) => this.guard(() => this.onApplied(host(), applied, entry)),
    };
  }

  private onEntriesPersisted(host: SimHost, previousTerm: number | undefined, entries: readonly Entry[]): void {
    if (previousTerm !== undefined) this.monitor.observePersistedEntries(host.id, previousTerm, entries);
    // A leader's first entry of its term on disk: its durable log now holds all its core's log held when it won.
    const term = (entries[entries.length - 1] as Entry).term;
    const key = `${host.id}/${term}`;
    if (this.monitor.leaderOf(term) !== host.id || this.checkedLeaderTerms.has(key)) return;
    this.checkedLeaderTerms.add(key);
    this.monitor.checkLeaderCompleteness(host.id, term, host.log);
  }

  private onApplied(host: SimHost, applied: AppliedEntry, entry: Entry): void {
    const status = host.process?.core?.status();
    if (status !== undefined) {
      this.monitor.checkAppliedIsCommitted(host.id, entry.index, status.commit);
      this.monitor.observeCommit(status.term, entry.index);
    }
    const firstApply = this.monitor.observeApplied(host.id, applied.index, applied.term, applied.label);
    if (firstApply && applied.label.startsWith('tx:')) {
      this.loggedCommits.push({ index: entry.index, label: applied.label, command: decodeTransactionCommand(entry.data) });
    }
    if (entry.type !== 'conf-change' || !firstApply) return;
    // The founding membership is the bootstrap's conf changes (term 1, indexes 1..size): not a change.
    if (entry.term === 1 && entry.index <= this.clusterSize) return;
    this.stats.membershipChangesApplied++;
    const [, type, nodeId] = applied.label.split(':');
    if (type === 'remove-node' && nodeId !== undefined) this.faults.removalApplied(nodeId);
  }

  /** The membership a snapshot is labelled with (the core's) must be the one its data's entries made. */
  private onSnapshotStored(host: SimHost, stored: StoredSnapshot): void {
    // Like the real store, one older than every retained snapshot is removed as soon as it
    // is published (a received snapshot the node has moved past; the core ignores it).
    if (host.snapshotStore.find(stored.metadata.index, stored.metadata.term) === undefined) return;
    const data = host.disk.read(stored.dataPath);
    if (data === undefined) throw new InvariantViolation('membership-agreement', `${host.id}: snapshot ${stored.metadata.index} stored without data`);
    const content = JSON.parse(new TextDecoder().decode(data)) as { index: number; confState: ConfState };
    if (content.index !== stored.metadata.index) {
      throw new InvariantViolation('state-machine-safety', `${host.id}: snapshot labelled ${stored.metadata.index} holds the state at ${content.index}`);
    }
    if (!sameConfState(content.confState, stored.metadata.confState)) {
      const labelled = JSON.stringify(stored.metadata.confState);
      const applied = JSON.stringify(content.confState);
      throw new InvariantViolation('membership-agreement', `${host.id} snapshot at ${content.index}: labelled ${labelled}, its applied entries say ${applied}`);
    }
    this.trace.record(this.nowMs(), 'snapshot-stored', host.id, `i=${stored.metadata.index}/${stored.metadata.term}`);
    this.faults.criticalPoint(host, 'snapshot-stored');
  }

  /** The log's compacted prefix must be covered by a snapshot the node holds, or it cannot catch a follower up. */
  private checkSnapshotCoverage(host: SimHost, when: string): void {
    const covered = Math.max(host.snapshotStore.latest()?.metadata.index ?? 0, host.log.installedSnapshot?.index ?? 0);
    if (host.log.compactIndex > covered) {
      const compacted = host.log.compactIndex;
      const message = `${host.id} at ${when}: its log is compacted through ${compacted}, but its newest snapshot is at ${covered}`;
      throw new InvariantViolation('snapshot-coverage', message);
    }
  }

  private loggerFor(nodeId: NodeId): NodeLogger {
    const record = (fields: Record<string, unknown>, message: string): void => {
      const event = typeof fields['event'] === 'string' ? fields['event'] : message;
      if (event === 'halted') this.stats.runtimeHalts++;
      if (event === 'snapshot') this.stats.snapshotsTaken++;
      this.stats.runtimeEvents[event] = (this.stats.runtimeEvents[event] ?? 0) + 1;
      const details = Object.entries(fields)
        .filter(([key, value]) => key !== 'event' && key !== 'stack' && (typeof value === 'number' || typeof value === 'string' || typeof value === 'boolean'))
        .map(([key, value]) => `${key}=${String(value)}`);
      this.trace.record(this.nowMs(), 'log', nodeId, event, ...details);
    };
    return { debug: () => undefined, info: record, warn: record, error: record };
  }

  // --- liveness and the final checks ---------------------------------------------------------

  private checkRequestsAnswered(): void {
    const waiting = this.clients.oldestWaitingLongerThan(unansweredTimeoutsMax * this.clients.timeoutMs);
    if (waiting !== undefined) {
      const message = `operation #${waiting.operationId} has waited ${waiting.ageMs} ms, over ${unansweredTimeoutsMax} times its timeout`;
      throw new InvariantViolation('request-unanswered', message);
    }
  }

  private checkLiveness(): void {
    if (this.tick >= this.chaosTicks + this.livenessTicksMax) {
      throw new InvariantViolation('liveness', `no write applied on every member within ${this.livenessTicksMax} ticks of healing: ${this.describeCluster()}`);
    }
    // A probe waiting on a process that ended (a removed leader retiring) never settles: propose again.
    if (this.probe?.index === undefined && this.probe?.process.life.alive === false) this.probe = undefined;
    if (this.probe === undefined) {
      const leader = this.findLeader();
      if (leader === undefined) return;
      const probe = { requestId: `probe${this.probeCount++}`, index: undefined as number | undefined, process: leader };
      this.probe = probe;
      this.trace.record(this.nowMs(), 'probe', leader.nodeId, probe.requestId);
      leader.runtime.propose(encodeKvCommand({ requestId: probe.requestId, kind: 'put', key: 'probe', value: probe.requestId }), this.clients.timeoutMs).then(
        (outcome) => {
          if (this.probe === probe) probe.index = outcome.index;
        },
        () => {
          if (this.probe === probe) this.probe = undefined;
        },
      );
      return;
    }
    const index = this.probe.index;
    const members = this.currentMembers();
    if (index === undefined || members === undefined) return;
    if (!members.every((id) => (this.hosts.get(id)?.database.appliedIndex ?? 0) >= index)) return;
    this.livenessReached = true;
    this.stats.recoveryTicks = this.tick - this.chaosTicks;
    this.trace.record(this.nowMs(), 'live', `probe=${this.probe.requestId}`, `recovery=${this.stats.recoveryTicks}`);
  }

  /** The membership as of the newest applied entry anywhere. */
  private currentMembers(): string[] | undefined {
    let newest: SimHost | undefined;
    for (const host of this.hosts.values()) {
      if (newest === undefined || host.database.appliedIndex > newest.database.appliedIndex) newest = host;
    }
    const confState = newest?.database.confState;
    return confState === undefined ? undefined : [...confState.voters, ...confState.learners];
  }

  private finalChecks(): void {
    const fingerprints = new Map<number, { nodeId: string; fingerprint: string }>();
    for (const host of this.hosts.values()) {
      const machine = host.database;
      const fingerprint = machine.fingerprint();
      const other = fingerprints.get(machine.appliedIndex);
      if (other === undefined) fingerprints.set(machine.appliedIndex, { nodeId: host.id, fingerprint });
      else if (other.fingerprint !== fingerprint) {
        const message = `${host.id} and ${other.nodeId} both applied up to ${machine.appliedIndex} but their states differ`;
        throw new InvariantViolation('state-machine-safety', message);
      }
    }
    if (this.transactionClients !== undefined) {
      this.checkTransactions(this.transactionClients);
      return;
    }
    const operations = this.history.operations((operation) => !(operation.input.kind === 'get' && operation.output === undefined));
    const result = checkHistory(kvModel, operations, { searchStepsMax: this.options.linearizabilitySearchStepsMax ?? 1_000_000 });
    this.stats.linearizability = result.outcome;
    if (result.outcome === 'not-linearizable') throw new InvariantViolation('linearizability', result.explanation);
  }

  /** The transaction workload's history against the log (serializability.ts), and every node's final state. */
  private checkTransactions(clients: TransactionClients): void {
    const replicas = [...this.hosts.values()].map((host) => ({
      nodeId: host.id,
      appliedIndex: host.database.appliedIndex,
      get: (key: string) => host.database.get(key),
    }));
    const result = checkSerializability(this.loggedCommits, clients.transactions, replicas);
    if (!result.valid) throw new InvariantViolation('serializability', result.explanation);
    this.stats.transactionsCommitted = result.committed;
    this.stats.transactionConflicts = result.conflicts;
    this.stats.transactionDuplicates = result.duplicates;
  }

  private describeCluster(): string {
    return [...this.hosts.values()]
      .map((host) => {
        if (host.retired) return `${host.id}:retired`;
        const status = host.process?.core?.status();
        if (status === undefined) return `${host.id}:down`;
        // R1 (FINDINGS.md): a node whose transport has no address for its leader can never answer it.
        const unreachableLeader = status.leaderId !== '' && status.leaderId !== host.id && host.process?.transport.hasPeer(status.leaderId) === false;
        return (
          `${host.id}:${status.role}/t${status.term}/c${status.commit}/a${host.database.appliedIndex}/first${host.log.firstIndex()}` +
          `/snap${host.snapshotStore.latest()?.metadata.index ?? 0}/leader=${status.leaderId}/voters=${status.confState.voters.join(',')}` +
          (unreachableLeader ? '/no-address-for-leader' : '')
        );
      })
      .join(' ');
  }

  private collectStats(): void {
    const counters = this.transports.network.counters;
    this.stats.ticks = this.tick;
    this.stats.messagesSent = counters.sent;
    this.stats.messagesDelivered = counters.delivered;
    this.stats.messagesDropped = counters.dropped.random + counters.dropped.partition + counters.dropped.overflow;
    this.stats.leadersElected = this.monitor.leaderCount();
    this.stats.nodesAdded = this.hosts.size - this.options.clusterSize;
    for (const event of this.history.events) {
      if (event.type === 'ok') this.stats.operationsOk++;
      if (event.type === 'fail') this.stats.operationsFailed++;
      if (event.type === 'info') this.stats.operationsUnknown++;
    }
    if (this.transactionClients === undefined) return;
    this.stats.transactionCommitRetries = this.transactionClients.commitRetries;
    for (const transaction of this.transactionClients.transactions) {
      if (transaction.outcome === 'committed' || transaction.outcome === 'conflict') this.stats.operationsOk++;
      if (transaction.outcome === 'fail') this.stats.operationsFailed++;
      if (transaction.outcome === 'unknown' || transaction.outcome === undefined) this.stats.operationsUnknown++;
    }
  }
}

/** An invariant violation as it is, anything else as `invariant` with the error described. */
function asViolation(error: unknown, invariant: InvariantName, prefix: string): InvariantViolation {
  return error instanceof InvariantViolation ? error : new InvariantViolation(invariant, `${prefix}${describeError(error)}`);
}

function sameConfState(left: ConfState, right: ConfState): boolean {
  const key = (confState: ConfState): string => `${[...confState.voters].sort().join(',')}|${[...confState.learners].sort().join(',')}`;
  return key(left) === key(right);
}

function emptyStats(): SimulationStats {
  return {
    ticks: 0,
    messagesSent: 0,
    messagesDelivered: 0,
    messagesDropped: 0,
    crashes: 0,
    gracefulStops: 0,
    restarts: 0,
    restartsAfterCompaction: 0,
    partitions: 0,
    leadersElected: 0,
    snapshotsTaken: 0,
    snapshotsSent: 0,
    snapshotsInstalled: 0,
    compactions: 0,
    runtimeHalts: 0,
    membershipChangesApplied: 0,
    transfersRequested: 0,
    operationsOk: 0,
    operationsFailed: 0,
    operationsUnknown: 0,
    linearizability: 'not-checked',
    transactionsCommitted: 0,
    transactionConflicts: 0,
    transactionCommitRetries: 0,
    transactionDuplicates: 0,
    recoveryTicks: -1,
    ticksWithoutLeader: 0,
    nodesAdded: 0,
    unsuccessfulOperationReasons: {},
    runtimeEvents: {},
  };
}
