/**
 * The deterministic cluster simulator. One seed drives everything: a cluster of Raft
 * cores (src/raft) in one process, a network that delays, drops, duplicates and
 * reorders messages and makes partitions, crashes and restarts from durable twins,
 * snapshots and compaction, membership changes, leadership transfers, and clients
 * doing writes and linearizable reads. Time is discrete (ticks, each split into
 * `stepsPerTick` steps for message delivery); nothing reads the real clock.
 *
 * A run has two phases: `chaosTicks` of faults, then the faults heal and the cluster
 * must elect a leader and commit a proposal on every member within `livenessTicksMax`.
 * Safety invariants are checked as the run goes (see invariants.ts), the client
 * history's linearizability at the end.
 */
import type { Message, Ready } from '../../src/raft/index.js';
import { SimulatedClients } from './clients.js';
import type { ConfChange, ConfState } from '../../src/raft/types.js';
import { DurableTwin, type DiskFaults } from './durable-twin.js';
import { HistoryRecorder } from './history.js';
import { InvariantViolation, SafetyMonitor, type InvariantName } from './invariants.js';
import { kvModel, type KvInput, type KvOutput } from './kv-model.js';
import { encodeKvCommand, KvStateMachine, type StateMachineFault } from './kv-state-machine.js';
import { checkHistory, type CheckOutcome } from './linearizability.js';
import { SimulatedNetwork, type Delivery, type DropReason } from './network.js';
import { Prng } from './prng.js';
import { drawScenario, type Scenario } from './scenario.js';
import { describeError, SimNode, type CoreSettings } from './sim-node.js';
import { Trace } from './trace.js';

export interface SimulationOptions {
  readonly seed: number;
  readonly clusterSize: number;
  readonly chaosTicks?: number;
  readonly livenessTicksMax?: number;
  readonly stepsPerTick?: number;
  readonly clientCount?: number;
  readonly keyCount?: number;
  readonly traceTailLinesMax?: number;
  readonly linearizabilitySearchStepsMax?: number;
  /** Print every trace line here (replaying one seed with --verbose). */
  readonly traceSink?: (line: string) => void;
  /** Planted bugs, for the tests that show the checkers can fail. */
  readonly plantedDiskFaults?: DiskFaults;
  /** A network that keeps vote grants and replays them to the same candidate relabelled with its newer term. */
  readonly plantedNetworkFault?: 'replay-vote-grant-with-new-term';
  readonly plantedReadFault?: 'read-without-read-index';
  /** A state-machine bug on node n1 only. */
  readonly plantedStateMachineFault?: StateMachineFault;
  /** Override parts of the seed's scenario (e.g. to force crashes in a planted-bug test). */
  readonly scenarioOverrides?: Partial<Scenario>;
}

export interface SimulationStats {
  ticks: number;
  messagesSent: number;
  messagesDelivered: number;
  messagesDropped: number;
  crashes: number;
  partitions: number;
  leadersElected: number;
  snapshotsSent: number;
  snapshotsInstalled: number;
  membershipChangesApplied: number;
  transfersRequested: number;
  operationsOk: number;
  operationsFailed: number;
  operationsUnknown: number;
  linearizability: CheckOutcome | 'not-checked';
  recoveryTicks: number;
  ticksWithoutLeader: number;
  /** Nodes added by membership changes (at most addedNodesMax). */
  nodesAdded: number;
  /** Why operations failed or ended unknown, counted by reason (numbers masked). */
  unsuccessfulOperationReasons: Record<string, number>;
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

interface Envelope {
  readonly message: Message;
  readonly senderIncarnation: number;
}

const decoder = new TextDecoder();
/** Nodes ever created in one run, beyond the initial cluster. */
export const addedNodesMax = 4;
const votersMax = 7;
/** Ready rounds handled per node per step; the rest waits for the next step. */
const readyRoundsPerStepMax = 16;

export function runSimulation(options: SimulationOptions): SimulationResult {
  return new Simulation(options).run();
}

export class Simulation {
  private readonly chaosTicks: number;
  private readonly livenessTicksMax: number;
  private readonly stepsPerTick: number;
  private readonly scenario: Scenario;
  private readonly settings: CoreSettings;
  private readonly faultPrng: Prng;
  private readonly nodePrngSource: Prng;
  private readonly network: SimulatedNetwork<Envelope>;
  private readonly trace: Trace;
  private readonly monitor = new SafetyMonitor();
  private readonly history = new HistoryRecorder<KvInput, KvOutput>();
  private readonly nodes = new Map<string, SimNode>();
  private readonly clients: SimulatedClients;
  private readonly stats: SimulationStats;
  private nextNodeNumber: number;
  private tick = 0;
  private step = 0;
  private partitionHealTick: number | undefined;
  private probe: { index: number; requestId: string; nodeId: string } | undefined;
  private probeCount = 0;
  private livenessReached = false;
  private readonly recordedVoteGrants = new Map<string, Map<string, Message>>();

  constructor(private readonly options: SimulationOptions) {
    if (![3, 5, 7].includes(options.clusterSize)) throw new RangeError(`clusterSize must be 3, 5 or 7, got ${options.clusterSize}`);
    this.chaosTicks = options.chaosTicks ?? 500;
    this.livenessTicksMax = options.livenessTicksMax ?? 400;
    this.stepsPerTick = options.stepsPerTick ?? 10;
    const root = new Prng(options.seed);
    this.scenario = { ...drawScenario(root.fork()), ...options.scenarioOverrides };
    this.faultPrng = root.fork();
    const clientPrng = root.fork();
    this.nodePrngSource = root.fork();
    this.network = new SimulatedNetwork<Envelope>(root.fork(), this.scenario.network, (delivery, reason) => this.onDrop(delivery, reason));
    this.trace = new Trace(options.traceTailLinesMax ?? 80, options.traceSink);
    this.settings = coreSettings(this.scenario);
    this.stats = emptyStats();
    this.nextNodeNumber = options.clusterSize + 1;
    this.clients = new SimulatedClients({
      nodes: this.nodes, history: this.history, trace: this.trace, prng: clientPrng, scenario: this.scenario,
      clientCount: options.clientCount ?? 4, keyCount: options.keyCount ?? 3, plantedReadFault: options.plantedReadFault,
      unsuccessfulOperationReasons: this.stats.unsuccessfulOperationReasons, now: () => ({ tick: this.tick, step: this.step }),
    });
  }

  run(): SimulationResult {
    let violation: SimulationResult['violation'];
    try {
      this.bootstrap();
      this.runTicks();
      this.finalChecks();
    } catch (error) {
      violation = error instanceof InvariantViolation
        ? { invariant: error.invariant, message: error.message, tick: this.tick }
        : { invariant: 'simulator-error', message: describeError(error), tick: this.tick };
      this.trace.record(this.step, 'VIOLATION', violation.invariant);
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

  // --- setup -----------------------------------------------------------------------

  private bootstrap(): void {
    const voters = Array.from({ length: this.options.clusterSize }, (_, position) => `n${position + 1}`);
    const confState = { voters, learners: [] };
    // Bootstrap from a snapshot at index 1: every member starts from the same membership,
    // and a node added later always receives a snapshot (entry 1 is never in any log).
    const bootstrapMachine = new KvStateMachine(confState, () => { throw new Error('no conf changes at bootstrap'); }, 1, 1);
    for (const id of voters) {
      const twin = new DurableTwin(confState, this.options.plantedDiskFaults);
      twin.persist({ snapshot: { metadata: { index: 1, term: 1, confState }, data: bootstrapMachine.snapshotData() }, entries: [], hardState: { term: 1, vote: '', commit: 1 } });
      this.addNode(id, twin);
    }
    this.trace.record(0, 'bootstrap', `size=${voters.length}`, `election=${this.scenario.electionTicks}`, `heartbeat=${this.scenario.heartbeatTicks}`,
      `preVote=${this.scenario.preVote}`, `checkQuorum=${this.scenario.checkQuorum}`, `readOnly=${this.scenario.readOnly}`);
  }

  private addNode(id: string, twin: DurableTwin): SimNode {
    const nodePrng = this.nodePrngSource.fork();
    // The planted state-machine bug affects one node only (n1), so replicas diverge.
    const fault = id === 'n1' ? this.options.plantedStateMachineFault : undefined;
    const node = new SimNode(id, twin, nodePrng.nextInt(this.stepsPerTick), () => nodePrng.nextFloat(), this.scenario.durableStateMachine, fault);
    node.clockDrift = this.scenario.clockDriftPeriodTicks === 0 ? 'none' : nodePrng.pick(['none', 'slow', 'fast'] as const);
    const unavailable = this.scenario.snapshotUnavailableProbability;
    twin.snapshotUnavailable = unavailable > 0 ? () => this.tick < this.chaosTicks && this.faultPrng.chance(unavailable) : undefined;
    this.nodes.set(id, node);
    node.start(this.settings);
    return node;
  }

  // --- the main loop -----------------------------------------------------------------

  private runTicks(): void {
    const lastTick = this.chaosTicks + this.livenessTicksMax;
    for (this.tick = 0; this.tick < lastTick && !this.livenessReached; this.tick++) {
      if (this.tick === this.chaosTicks) this.healEverything();
      for (let subStep = 0; subStep < this.stepsPerTick; subStep++) {
        this.step = this.tick * this.stepsPerTick + subStep;
        this.deliverMessages();
        this.tickClocks(subStep);
        if (subStep === 0) this.tickActions();
        this.processReadies();
      }
    }
    if (!this.livenessReached) throw new InvariantViolation('liveness', `no proposal committed on every member within ${this.livenessTicksMax} ticks of healing: ${this.describeCluster()}`);
  }

  private tickActions(): void {
    if (this.findLeader() === undefined) this.stats.ticksWithoutLeader++;
    if (this.tick < this.chaosTicks) this.injectFaults();
    this.restartAndRetire();
    this.clients.expire();
    this.clients.startOperations();
    if (this.tick >= this.chaosTicks) this.checkLiveness();
  }

  private deliverMessages(): void {
    for (const delivery of this.network.deliverDue(this.step)) {
      const target = this.nodes.get(delivery.to);
      if (target?.raw === undefined) {
        this.onDrop(delivery, 'partition');
        continue;
      }
      const message = delivery.message.message;
      // Fields: type from to term index logTerm commit entryCount reject.
      this.trace.record(this.step, 'deliver', message.type, message.from, message.to, message.term, message.index, message.logTerm,
        message.commit, message.entries.length, message.reject);
      // A fresh copy per delivery: duplicates must not share state.
      target.core('step', () => target.core$.step({ ...message, entries: [...message.entries] }));
      if (message.type === 'MsgSnap') this.reportSnapshot(delivery, 'finish');
    }
  }

  /**
   * Each node's clock ticks once per tick at its own phase; a drifting clock (per
   * scenario) skips, or doubles, one tick in every clockDriftPeriodTicks.
   */
  private tickClocks(subStep: number): void {
    for (const node of this.nodes.values()) {
      if (node.raw === undefined || node.tickPhase !== subStep) continue;
      node.clockTicks++;
      const driftTick = node.clockDrift !== 'none' && node.clockTicks % this.scenario.clockDriftPeriodTicks === 0;
      const tickCount = driftTick ? (node.clockDrift === 'slow' ? 0 : 2) : 1;
      for (let count = 0; count < tickCount; count++) node.core('tick', () => node.core$.tick());
    }
  }

  private processReadies(): void {
    for (const node of this.nodes.values()) {
      for (let round = 0; round < readyRoundsPerStepMax && node.raw !== undefined; round++) {
        if (node.persisting !== undefined) {
          // The runtime's persist is in flight (asynchronous fsync): the core keeps taking
          // messages, ticks and proposals meanwhile, and the Ready finishes later.
          if (this.step < node.persisting.completeAtStep) break;
          const persisting = node.persisting;
          node.persisting = undefined;
          this.finishReady(node, persisting.ready, persisting.becameLeaderOfTerm, persisting.earlyAppends);
          continue;
        }
        const raw = node.raw;
        if (!node.core('hasReady', () => raw.hasReady())) break;
        this.beginReady(node, node.core('ready', () => raw.ready()));
      }
    }
  }

  // --- one Ready, in the documented order ------------------------------------------------

  private beginReady(node: SimNode, ready: Ready): void {
    const becameLeaderOfTerm = this.observeSoftState(node, ready);
    const earlyAppends = this.appendsSentBeforePersist(node, ready);
    if (earlyAppends.length > 0 && this.tick < this.chaosTicks && this.faultPrng.chance(this.scenario.crashDuringPersistProbability)) {
      this.crashNode(node, 'crash before its own append landed');
      return;
    }
    const persistDelaySteps = this.scenario.persistDelayStepsMax === 0 ? 0 : this.faultPrng.nextIntBetween(0, this.scenario.persistDelayStepsMax);
    if (persistDelaySteps === 0) return this.finishReady(node, ready, becameLeaderOfTerm, earlyAppends);
    node.persisting = { ready, completeAtStep: this.step + persistDelaySteps, becameLeaderOfTerm, earlyAppends };
  }

  private finishReady(node: SimNode, ready: Ready, becameLeaderOfTerm: number | undefined, earlyAppends: readonly Message[]): void {
    this.persist(node, ready);
    if (becameLeaderOfTerm !== undefined) this.monitor.checkLeaderCompleteness(node.id, becameLeaderOfTerm, node.twin);
    for (const message of ready.messages) {
      if (!earlyAppends.includes(message)) this.send(node, message);
    }
    this.applyCommitted(node, ready);
    this.answerReads(node, ready);
    node.core('advance', () => node.core$.advance(ready));
    this.completeReads(node);
    this.maybeTakeSnapshot(node);
  }

  /** Returns the term if the node just became leader. */
  private observeSoftState(node: SimNode, ready: Ready): number | undefined {
    if (ready.softState === undefined) return undefined;
    const wasLeader = node.role === 'leader';
    node.role = ready.softState.role;
    node.leaderId = ready.softState.leaderId;
    const term = ready.hardState?.term ?? node.twin.hardState().term;
    this.trace.record(this.step, 'role', node.id, node.role, `t=${term}`, `leader=${node.leaderId}`);
    if (node.role !== 'leader' || wasLeader) return undefined;
    this.monitor.observeLeader(node.id, term);
    return term;
  }

  /** Ready allows a leader to send MsgApp before its own persist when term and vote are unchanged. */
  private appendsSentBeforePersist(node: SimNode, ready: Ready): Message[] {
    if (!this.scenario.leaderSendsAppendsBeforePersist) return [];
    const persisted = node.twin.hardState();
    const hardState = ready.hardState;
    if (hardState !== undefined && (hardState.term !== persisted.term || hardState.vote !== persisted.vote)) return [];
    const appends = ready.messages.filter((message) => message.type === 'MsgApp');
    for (const message of appends) this.send(node, message);
    return appends;
  }

  private persist(node: SimNode, ready: Ready): void {
    const twin = node.twin;
    if (ready.snapshot !== undefined) {
      const metadata = ready.snapshot.metadata;
      this.monitor.observeSnapshot(node.id, metadata.index, metadata.term);
      twin.persist({ snapshot: ready.snapshot, entries: [] });
      node.machine$.restore(ready.snapshot.data, metadata.index, metadata.term);
      this.stats.snapshotsInstalled++;
      this.trace.record(this.step, 'install-snapshot', node.id, `i=${metadata.index}/${metadata.term}`, `voters=${metadata.confState.voters.join(',')}`);
      this.clients.abandonWritesCoveredBySnapshot(node, metadata.index);
    }
    const first = ready.entries[0];
    if (first !== undefined) {
      const previousIndex = first.index - 1;
      const previousTerm = previousIndex >= twin.firstIndex() - 1 ? twin.term(previousIndex) : -1;
      if (previousTerm >= 0) this.monitor.observePersistedEntries(node.id, previousTerm, ready.entries);
      twin.append(ready.entries);
    }
    if (ready.hardState !== undefined) {
      this.monitor.observeHardState(node.id, ready.hardState, node.twin.hardState());
      this.monitor.observeCommit(ready.hardState.term, ready.hardState.commit);
      twin.persist({ hardState: ready.hardState, entries: [] });
    }
  }

  private applyCommitted(node: SimNode, ready: Ready): void {
    const machine = node.machine$;
    for (const entry of ready.committedEntries) {
      // The core hands out each committed entry once, in order, from applied + 1.
      if (entry.index !== machine.appliedIndex + 1) {
        throw new InvariantViolation('state-machine-safety', `${node.id} is handed entry ${entry.index} to apply after applying ${machine.appliedIndex}`);
      }
      this.monitor.checkAppliedIsCommitted(node.id, entry.index, node.twin.hardState().commit);
      const applied = machine.apply(entry);
      const firstApply = this.monitor.observeApplied(node.id, applied.index, applied.term, applied.label);
      this.clients.completeWrite(node, applied.index, applied.label);
      if (entry.type === 'conf-change' && firstApply) this.onMembershipApplied(applied.label);
    }
  }

  private answerReads(node: SimNode, ready: Ready): void {
    for (const readState of ready.readStates) {
      const read = node.pendingReads.get(decoder.decode(readState.context));
      if (read !== undefined) read.index = readState.index;
    }
    for (const context of ready.failedReads) {
      const key = decoder.decode(context);
      const read = node.pendingReads.get(key);
      if (read === undefined) continue;
      node.pendingReads.delete(key);
      this.clients.finish(read.operationId, 'fail', 'read failed: leadership lost');
    }
  }

  private completeReads(node: SimNode): void {
    const machine = node.machine;
    if (machine === undefined) return;
    for (const [context, read] of node.pendingReads) {
      if (read.index === undefined || read.index > machine.appliedIndex) continue;
      node.pendingReads.delete(context);
      this.clients.finish(read.operationId, 'ok', machine.get(read.key));
    }
  }

  private maybeTakeSnapshot(node: SimNode): void {
    const machine = node.machine;
    if (machine === undefined) return;
    const snapshotIndex = node.twin.latestSnapshot().metadata.index;
    if (machine.appliedIndex - snapshotIndex < this.scenario.snapshotEntriesInterval) return;
    // Two independent derivations of the membership at the applied index must agree.
    const coreConfState = node.core('confStateAt', () => node.core$.confStateAt(machine.appliedIndex));
    if (!sameConfState(coreConfState, machine.confState)) {
      throw new InvariantViolation('membership-agreement', `${node.id} at ${machine.appliedIndex}: core says ${JSON.stringify(coreConfState)}, applied entries say ${JSON.stringify(machine.confState)}`);
    }
    node.twin.createSnapshot(machine.appliedIndex, machine.confState, machine.snapshotData());
    node.twin.compact(Math.max(node.twin.firstIndex() - 1, machine.appliedIndex - this.scenario.compactionKeepEntries));
    this.trace.record(this.step, 'snapshot', node.id, `i=${machine.appliedIndex}`, `first=${node.twin.firstIndex()}`);
  }

  // --- the network ---------------------------------------------------------------------

  private send(node: SimNode, message: Message): void {
    if (this.options.plantedNetworkFault === 'replay-vote-grant-with-new-term') this.replayVoteGrants(message);
    if (message.type === 'MsgSnap') this.stats.snapshotsSent++;
    // Copy at send, as serializing would: later changes by the sender must not leak.
    const copy: Message = { ...message, entries: [...message.entries] };
    this.network.send(message.from, message.to, { message: copy, senderIncarnation: node.incarnation }, this.step);
  }

  /** The planted network bug: an old vote grant, relabelled with the candidate's new term, counts again. */
  private replayVoteGrants(message: Message): void {
    if (message.type === 'MsgVoteResp' && !message.reject) {
      const grants = this.recordedVoteGrants.get(message.to) ?? new Map<string, Message>();
      grants.set(message.from, message);
      this.recordedVoteGrants.set(message.to, grants);
    }
    if (message.type !== 'MsgVote') return;
    for (const grant of this.recordedVoteGrants.get(message.from)?.values() ?? []) {
      if (grant.term >= message.term) continue;
      this.network.send(grant.from, grant.to, { message: { ...grant, term: message.term }, senderIncarnation: -1 }, this.step);
    }
  }

  private onDrop(delivery: Delivery<Envelope>, reason: DropReason): void {
    if (delivery.message.message.type === 'MsgSnap') this.reportSnapshot(delivery, 'failure');
    if (reason !== 'partition' || !this.faultPrng.chance(this.scenario.reportUnreachableProbability)) return;
    const sender = this.sameIncarnation(delivery);
    if (sender !== undefined) sender.core('reportUnreachable', () => sender.core$.reportUnreachable(delivery.to));
  }

  private reportSnapshot(delivery: Delivery<Envelope>, status: 'finish' | 'failure'): void {
    const sender = this.sameIncarnation(delivery);
    if (sender !== undefined) sender.core('reportSnapshot', () => sender.core$.reportSnapshot(delivery.to, status));
  }

  /** The sender, if it is still the same process that sent the message. */
  private sameIncarnation(delivery: Delivery<Envelope>): SimNode | undefined {
    const sender = this.nodes.get(delivery.from);
    return sender?.raw !== undefined && sender.incarnation === delivery.message.senderIncarnation ? sender : undefined;
  }

  // --- faults --------------------------------------------------------------------------

  private injectFaults(): void {
    const prng = this.faultPrng;
    if (prng.chance(this.scenario.crashProbabilityPerTick)) this.crashSomeNode();
    if (this.partitionHealTick !== undefined && this.tick >= this.partitionHealTick) this.healPartition();
    if (this.partitionHealTick === undefined && prng.chance(this.scenario.partitionProbabilityPerTick)) this.partitionSomehow();
    if (prng.chance(this.scenario.membershipChangeProbabilityPerTick)) this.changeMembership();
    if (prng.chance(this.scenario.transferProbabilityPerTick)) this.transferLeadership();
  }

  private liveNodes(): SimNode[] {
    return [...this.nodes.values()].filter((node) => !node.retired);
  }

  private crashSomeNode(): void {
    const live = this.liveNodes();
    const up = live.filter((node) => node.isUp);
    const downCount = live.length - up.length;
    // Usually keep a majority up (so there is progress to be unsafe about); sometimes not.
    if (up.length === 0 || (downCount >= Math.floor((live.length - 1) / 2) && !this.faultPrng.chance(0.1))) return;
    const node = this.faultPrng.pick(up);
    this.crashNode(node, 'crash');
  }

  private crashNode(node: SimNode, why: string): void {
    const cutOff = node.crash();
    for (const write of cutOff.writes) this.clients.finish(write.operationId, 'info', `${node.id} crashed`);
    for (const read of cutOff.reads) this.clients.finish(read.operationId, 'fail', `${node.id} crashed`);
    if (this.faultPrng.chance(0.5)) this.network.discardTo(node.id);
    node.restartAtTick = this.tick + this.faultPrng.nextIntBetween(1, this.scenario.downTicksMax);
    this.stats.crashes++;
    this.trace.record(this.step, why, node.id, `restart@${node.restartAtTick}`);
  }

  private restartAndRetire(): void {
    for (const node of this.nodes.values()) {
      if (node.retireAtTick !== undefined && this.tick >= node.retireAtTick && !node.retired) this.retire(node);
      if (node.retired || node.isUp || node.restartAtTick === undefined || this.tick < node.restartAtTick) continue;
      node.restartAtTick = undefined;
      node.start(this.settings);
      this.trace.record(this.step, 'restart', node.id, `term=${node.twin.hardState().term}`, `vote=${node.twin.hardState().vote}`,
        `last=${node.twin.lastIndex()}`, `commit=${node.twin.hardState().commit}`, `applied=${node.machine$.appliedIndex}`);
    }
  }

  private retire(node: SimNode): void {
    if (node.isUp) {
      const cutOff = node.crash();
      for (const write of cutOff.writes) this.clients.finish(write.operationId, 'info', `${node.id} removed`);
      for (const read of cutOff.reads) this.clients.finish(read.operationId, 'fail', `${node.id} removed`);
    }
    node.retired = true;
    this.trace.record(this.step, 'retire', node.id);
  }

  private partitionSomehow(): void {
    const ids = this.liveNodes().map((node) => node.id);
    if (ids.length < 2) return;
    const shuffled = this.faultPrng.shuffle([...ids]);
    const kind = this.faultPrng.pick(['majority-minority', 'isolate-leader', 'one-way', 'bridge'] as const);
    const minoritySize = this.faultPrng.nextIntBetween(1, Math.floor(ids.length / 2));
    const minority = shuffled.slice(0, minoritySize);
    const majority = shuffled.slice(minoritySize);
    if (kind === 'majority-minority') this.network.partition(minority, majority);
    if (kind === 'one-way') this.network.partitionOneWay(minority, majority);
    if (kind === 'isolate-leader') {
      const leader = this.findLeader();
      this.network.isolate(leader?.id ?? (shuffled[0] as string), ids);
    }
    if (kind === 'bridge') {
      const bridgeNode = majority[0] as string;
      this.network.bridge([...minority, bridgeNode], majority, bridgeNode);
    }
    this.partitionHealTick = this.tick + this.faultPrng.nextIntBetween(5, this.scenario.partitionTicksMax);
    this.stats.partitions++;
    this.trace.record(this.step, 'partition', kind, `minority=${minority.join(',')}`, `heal@${this.partitionHealTick}`);
  }

  private healPartition(): void {
    this.network.heal();
    this.partitionHealTick = undefined;
    this.trace.record(this.step, 'heal');
  }

  private findLeader(): SimNode | undefined {
    let best: SimNode | undefined;
    for (const node of this.nodes.values()) {
      if (node.raw === undefined || node.role !== 'leader') continue;
      if (best === undefined || node.twin.hardState().term > best.twin.hardState().term) best = node;
    }
    return best;
  }

  private changeMembership(): void {
    const leader = this.findLeader();
    if (leader === undefined) return;
    const confState = leader.core('status', () => leader.core$.status()).confState;
    const choices: (() => void)[] = [];
    if (this.nextNodeNumber <= this.options.clusterSize + addedNodesMax) choices.push(() => this.addLearner(leader));
    const upLearners = confState.learners.filter((id) => this.nodes.get(id)?.isUp === true);
    if (upLearners.length > 0 && confState.voters.length < votersMax) {
      choices.push(() => this.proposeMembership(leader, { type: 'add-voter', nodeId: this.faultPrng.pick(upLearners), context: new Uint8Array() }));
    }
    if (confState.voters.length > 3) choices.push(() => this.proposeMembership(leader, { type: 'remove-node', nodeId: this.faultPrng.pick(confState.voters), context: new Uint8Array() }));
    if (confState.learners.length > 0) choices.push(() => this.proposeMembership(leader, { type: 'remove-node', nodeId: this.faultPrng.pick(confState.learners), context: new Uint8Array() }));
    if (choices.length > 0) this.faultPrng.pick(choices)();
  }

  private addLearner(leader: SimNode): void {
    const id = `n${this.nextNodeNumber}`;
    if (!this.proposeMembership(leader, { type: 'add-learner', nodeId: id, context: new Uint8Array() })) return;
    this.nextNodeNumber++;
    this.addNode(id, new DurableTwin({ voters: [], learners: [] }, this.options.plantedDiskFaults));
  }

  private proposeMembership(leader: SimNode, change: ConfChange): boolean {
    const result = leader.request('proposeConfChange', () => leader.core$.proposeConfChange(change));
    const accepted = !(result instanceof Error);
    this.trace.record(this.step, 'propose-conf', leader.id, change.type, change.nodeId, accepted ? `i=${result.index}` : `refused ${result.code}`);
    return accepted;
  }

  private onMembershipApplied(label: string): void {
    this.stats.membershipChangesApplied++;
    const [, type, nodeId] = label.split(':');
    if (type !== 'remove-node' || nodeId === undefined) return;
    const removed = this.nodes.get(nodeId);
    // The operator shuts a removed member down a little later (it may be the leader
    // stepping down, or may not know yet).
    if (removed !== undefined && removed.retireAtTick === undefined) removed.retireAtTick = this.tick + 2 * this.scenario.electionTicks;
  }

  private transferLeadership(): void {
    const leader = this.findLeader();
    if (leader === undefined) return;
    const voters = leader.core('status', () => leader.core$.status()).confState.voters.filter((id) => id !== leader.id);
    if (voters.length === 0) return;
    this.stats.transfersRequested++;
    if (this.faultPrng.chance(0.3)) {
      const result = leader.request('stepDown', () => leader.core$.stepDown());
      this.trace.record(this.step, 'step-down', leader.id, result instanceof Error ? `refused ${result.code}` : `to ${result}`);
      return;
    }
    const target = this.faultPrng.pick(voters);
    const result = leader.request('transferLeadership', () => leader.core$.transferLeadership(target));
    this.trace.record(this.step, 'transfer', leader.id, target, result instanceof Error ? `refused ${result.code}` : 'started');
  }

  private healEverything(): void {
    this.network.heal();
    this.partitionHealTick = undefined;
    this.network.reconfigure({ ...this.scenario.network, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0 });
    for (const node of this.liveNodes()) if (!node.isUp) node.restartAtTick = this.tick;
    this.trace.record(this.step, 'heal-all');
  }

  // --- liveness and the final checks ---------------------------------------------------------

  private checkLiveness(): void {
    const leader = this.findLeader();
    if (this.probe === undefined) {
      if (leader === undefined) return;
      const requestId = `probe${this.probeCount++}`;
      const result = leader.request('propose', () => leader.core$.propose(encodeKvCommand({ requestId, kind: 'put', key: 'probe', value: requestId })));
      if (result instanceof Error) return;
      this.probe = { index: result.index, requestId, nodeId: leader.id };
      this.trace.record(this.step, 'probe', leader.id, requestId, `i=${result.index}`);
      return;
    }
    const probe = this.probe;
    const committedLabel = this.monitor.committedLabel(probe.index);
    if (committedLabel === undefined) return;
    if (committedLabel !== probe.requestId) {
      // Another entry took the probe's index (the leader changed): propose again.
      this.probe = undefined;
      return;
    }
    const members = this.currentMembers();
    if (members === undefined) return;
    const everywhere = members.every((id) => (this.nodes.get(id)?.machine?.appliedIndex ?? 0) >= probe.index);
    if (!everywhere) return;
    this.livenessReached = true;
    this.stats.recoveryTicks = this.tick - this.chaosTicks;
    this.trace.record(this.step, 'live', `probe=${probe.requestId}`, `recovery=${this.stats.recoveryTicks}`);
  }

  /** The membership as of the newest applied entry anywhere. */
  private currentMembers(): string[] | undefined {
    let newest: KvStateMachine | undefined;
    for (const node of this.nodes.values()) {
      const machine = node.machine;
      if (machine !== undefined && (newest === undefined || machine.appliedIndex > newest.appliedIndex)) newest = machine;
    }
    return newest === undefined ? undefined : [...newest.confState.voters, ...newest.confState.learners];
  }

  private finalChecks(): void {
    const fingerprints = new Map<number, { nodeId: string; fingerprint: string }>();
    for (const node of this.nodes.values()) {
      const machine = node.machine;
      if (machine === undefined) continue;
      const fingerprint = machine.fingerprint();
      const other = fingerprints.get(machine.appliedIndex);
      if (other === undefined) fingerprints.set(machine.appliedIndex, { nodeId: node.id, fingerprint });
      else if (other.fingerprint !== fingerprint) {
        throw new InvariantViolation('state-machine-safety', `${node.id} and ${other.nodeId} both applied up to ${machine.appliedIndex} but their states differ`);
      }
    }
    const operations = this.history.operations((operation) => !(operation.input.kind === 'get' && operation.output === undefined));
    const result = checkHistory(kvModel, operations, { searchStepsMax: this.options.linearizabilitySearchStepsMax ?? 1_000_000 });
    this.stats.linearizability = result.outcome;
    if (result.outcome === 'not-linearizable') throw new InvariantViolation('linearizability', result.explanation);
  }

  private describeCluster(): string {
    return [...this.nodes.values()].map((node) => {
      if (node.retired) return `${node.id}:retired`;
      if (node.raw === undefined) return `${node.id}:down`;
      const status = node.core$.status();
      return `${node.id}:${status.role}/t${status.term}/c${status.commit}/a${node.machine$.appliedIndex}/leader=${status.leaderId}/voters=${status.confState.voters.join(',')}`;
    }).join(' ');
  }

  private collectStats(): void {
    const counters = this.network.counters;
    this.stats.ticks = this.tick;
    this.stats.messagesSent = counters.sent;
    this.stats.messagesDelivered = counters.delivered;
    this.stats.messagesDropped = counters.dropped.random + counters.dropped.partition + counters.dropped.overflow;
    this.stats.leadersElected = this.monitor.leaderCount();
    this.stats.nodesAdded = this.nodes.size - this.options.clusterSize;
    for (const event of this.history.events) {
      if (event.type === 'ok') this.stats.operationsOk++;
      if (event.type === 'fail') this.stats.operationsFailed++;
      if (event.type === 'info') this.stats.operationsUnknown++;
    }
  }
}

function sameConfState(left: ConfState, right: ConfState): boolean {
  const key = (confState: ConfState): string => `${[...confState.voters].sort().join(',')}|${[...confState.learners].sort().join(',')}`;
  return key(left) === key(right);
}

function coreSettings(scenario: Scenario): CoreSettings {
  return {
    electionTicks: scenario.electionTicks,
    heartbeatTicks: scenario.heartbeatTicks,
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
}

function emptyStats(): SimulationStats {
  return {
    ticks: 0, messagesSent: 0, messagesDelivered: 0, messagesDropped: 0, crashes: 0, partitions: 0, leadersElected: 0,
    snapshotsSent: 0, snapshotsInstalled: 0, membershipChangesApplied: 0, transfersRequested: 0,
    operationsOk: 0, operationsFailed: 0, operationsUnknown: 0, linearizability: 'not-checked', recoveryTicks: -1, ticksWithoutLeader: 0, nodesAdded: 0, unsuccessfulOperationReasons: {},
  };
}
