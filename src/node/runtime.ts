/**
 * The node runtime: drives the pure Raft core with time and I/O. `NodeRuntime` is the
 * facade, and the embedded-Raft implementation of `ReplicatedLog` (replicated-log.ts);
 * the work is spread, hashicorp/raft style, over one file per concern around one shared
 * struct (runtime-state.ts):
 *
 * - start-up.ts: bootstrap, restore from snapshot, start the core.
 * - inputs.ts: ticks (from the injected Scheduler), peers' messages.
 * - ready-loop.ts: persist → send → apply → advance, one turn at a time (group commit).
 * - apply.ts: committed entries to the state machine; proposals.ts: what waits for them.
 * - snapshots.ts: taking, compacting, sending to laggers, receiving and installing.
 * - leadership.ts: who leads, leader changes, hand-over (the core's successor policy).
 * - member-directory.ts: addresses and transport peers following the log's membership.
 * - halt.ts: environmental failures halt and retry the same step.
 *
 * The runtime is leader-local: it never forwards. `cluster-service.ts` routes client
 * requests to the leader and handles joins; `node.ts` wires the real modules.
 */
import { ServiceError } from '../service/service.js';
import type { QueuedRequest, Statement } from '../state-machine/types.js';
import type { ConfChange, ConfState, NodeId, RaftRole } from '../raft/types.js';
import { Applier } from './apply.js';
import type { NodeConfig } from './config.js';
import type { NodeCounters } from './counters.js';
import type { FollowerProgress, NodeMetrics } from './node-metrics.js';
import type { RecentEvents } from './recent-events.js';
import { CoreInputs } from './inputs.js';
import { Leadership } from './leadership.js';
import { MemberDirectory } from './member-directory.js';
import type { MemberBook } from './members.js';
import type { MemberAddresses, NodeStateMachine, NodeStorage, NodeTransport, RaftCore } from './ports.js';
import { Proposer } from './proposals.js';
import { ReadyLoop } from './ready-loop.js';
import type { ApplyOutcome, LogPosition, ReadBarrierCounts, ReplicatedLog } from './replicated-log.js';
import { RuntimeState, type RuntimeDependencies } from './runtime-state.js';
import { Snapshots } from './snapshots.js';
import { StartUp } from './start-up.js';
import type { TickPlan } from './timing.js';

export { planApplyRuns } from './apply.js';
export { isEnvironmentalFailure } from './halt.js';

export class NodeRuntime implements ReplicatedLog {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;
  readonly #snapshots: Snapshots;
  readonly #leadership: Leadership;
  readonly #inputs: CoreInputs;
  readonly #readyLoop: ReadyLoop;
  readonly #proposer: Proposer;
  readonly #startUp: StartUp;

  constructor(dependencies: RuntimeDependencies) {
    const state = new RuntimeState(dependencies);
    const directory = new MemberDirectory(state);
    const snapshots = new Snapshots(state, directory);
    const leadership = new Leadership(state, directory);
    const inputs = new CoreInputs(state, directory);
    const applier = new Applier(state, directory);
    const readyLoop = new ReadyLoop(state, { applier, snapshots, leadership, directory });
    this.#state = state;
    this.#directory = directory;
    this.#snapshots = snapshots;
    this.#leadership = leadership;
    this.#inputs = inputs;
    this.#readyLoop = readyLoop;
    this.#proposer = new Proposer(state, directory);
    this.#startUp = new StartUp(state, { directory, snapshots, readyLoop, inputs });
  }

  get config(): NodeConfig {
    return this.#state.config;
  }

  /** rqlite's expvar counters for what this node does (counters.ts). */
  get counters(): NodeCounters {
    return this.#state.counters;
  }

  /** Latencies and counts for /metrics (node-metrics.ts). */
  get metrics(): NodeMetrics {
    return this.#state.metrics;
  }

  /** The recent state changes (recent-events.ts). */
  get events(): RecentEvents {
    return this.#state.events;
  }

  get members(): MemberBook {
    return this.#state.members;
  }

  get tickPlan(): TickPlan {
    return this.#state.tickPlan;
  }

  // ---------------------------------------------------------------------------
  // Lifecycle
  // ---------------------------------------------------------------------------

  get started(): boolean {
    return this.#state.core !== undefined;
  }

  get stopped(): boolean {
    return this.#state.stopped;
  }

  /** Registers transport handlers for Raft traffic. Call before the transport starts. */
  attachTransport(): void {
    const transport = this.#state.transport;
    transport.onMessage((message, sender) => this.#inputs.receive(message, sender));
    transport.onUnreachable((id) => this.#inputs.reportUnreachable(id));
    transport.onSnapshot((metadata, temporaryFilePath) => this.#snapshots.receive(metadata, temporaryFilePath));
    transport.onPeerDisconnected((id) => this.#leadership.onPeerDisconnected(id));
  }

  bootstrap(members: ReadonlyMap<NodeId, MemberAddresses>): Promise<void> {
    return this.#startUp.bootstrap(members);
  }

  startCore(options: { campaign?: boolean } = {}): Promise<void> {
    return this.#startUp.startCore(options);
  }

  /**
   * Stops the node. With `transferLeadership`, a leader first hands leadership to its
   * successor and waits (bounded) so clients see no election timeout.
   */
  async stop(options: { transferLeadership: boolean } = { transferLeadership: true }): Promise<void> {
    const state = this.#state;
    if (state.stopped) return;
    if (options.transferLeadership) await this.#leadership.handOver();
    state.stopped = true;
    state.cancelTimers();
    await this.#readyLoop.settled();
    await this.#snapshots.settled();
    await this.#readyLoop.saveUnsavedCommit();
    const stopping = new ServiceError('UNAVAILABLE', 'node is shutting down');
    state.proposals.failAll(stopping);
    state.reads.failAll(stopping);
    state.appliedWaiters.failAll(stopping);
    state.logger.info({ event: 'stop' }, 'raft node stopped');
  }

  // ---------------------------------------------------------------------------
  // Proposing and reading (leader-local)
  // ---------------------------------------------------------------------------

  propose(data: Uint8Array, timeoutMs: number): Promise<ApplyOutcome> {
    const { scheduler, metrics } = this.#state;
    const startedMs = scheduler.monotonicMs();
    const outcome = this.#proposer.propose(data, timeoutMs);
    // Observed beside the caller, on the same promise: no extra turn before the caller sees the result (the simulator's schedules stay as they were).
    outcome.then(
      () => metrics.proposalSeconds.observe((scheduler.monotonicMs() - startedMs) / 1000),
      () => undefined,
    );
    return outcome;
  }

  proposeConfChange(change: ConfChange, timeoutMs: number): Promise<number> {
    return this.#proposer.proposeConfChange(change, timeoutMs);
  }

  readBarrier(timeoutMs: number): Promise<number> {
    return this.#proposer.readBarrier(timeoutMs);
  }

  readBarrierCounts(): ReadBarrierCounts {
    return this.#state.reads.counts;
  }

  waitForApplied(index: number, timeoutMs: number): Promise<void> {
    return this.#proposer.waitForApplied(index, timeoutMs);
  }

  encodeCommandFor(statements: readonly Statement[], transaction: boolean, requestId: string | null, qualifyColumns = false): Uint8Array {
    return this.#proposer.encodeCommandFor(statements, transaction, requestId, qualifyColumns);
  }

  encodeQueuedBatchFor(requests: readonly QueuedRequest[], transaction: boolean, batchId: string): Uint8Array {
    return this.#proposer.encodeQueuedBatchFor(requests, transaction, batchId);
  }

  requestSnapshot(): void {
    this.#snapshots.request();
  }

  /** `/snapshot`: a snapshot now, the log compacted to its index less `trailingEntries`; false when nothing is new. */
  snapshotNow(trailingEntries: number): Promise<boolean> {
    return this.#snapshots.takeNow(trailingEntries);
  }

  /** `/reap`: folds the newest snapshot's deltas into its root and drops older snapshots (snapshots.ts). */
  reapSnapshots(): Promise<{ readonly snapshotsReaped: number; readonly walsCheckpointed: number }> {
    return this.#snapshots.reap();
  }

  // ---------------------------------------------------------------------------
  // Leadership
  // ---------------------------------------------------------------------------

  transferLeadership(to: NodeId): void {
    this.#leadership.transferLeadership(to);
  }

  /** The voter a hand-over goes to: the core's one successor policy (recently heard from, then most caught up). */
  mostCaughtUpVoter(): NodeId | undefined {
    return this.#leadership.successor();
  }

  /** On the leader, each other member's replication (the core's progress); empty elsewhere. */
  followerProgress(): FollowerProgress[] {
    const status = this.#state.core?.status();
    if (status === undefined || status.role !== 'leader') return [];
    const contactMs = this.#state.peerContactMs;
    const nowMs = this.#state.scheduler.monotonicMs();
    return Object.entries(status.progress)
      .filter(([id]) => id !== status.id)
      .map(([id, progress]) => ({
        id,
        matchIndex: progress.match,
        lagEntries: Math.max(0, status.lastIndex - progress.match),
        state: progress.state,
        voter: !progress.isLearner,
        recentActive: progress.recentActive,
        lastContactAgeMs: contactMs.has(id) ? Math.round(nowMs - (contactMs.get(id) ?? 0)) : -1,
      }));
  }

  subscribeLeaderChanges(listener: () => void): () => void {
    return this.#leadership.subscribeLeaderChanges(listener);
  }

  waitForLeaderChange(timeoutMs: number, accept: (leaderId: NodeId) => boolean): Promise<void> {
    return this.#leadership.waitForLeaderChange(timeoutMs, accept);
  }

  leaderContactAgeMs(): number {
    return this.#leadership.leaderContactAgeMs();
  }

  get isLeader(): boolean {
    return this.#leadership.isLeader;
  }

  get leaderId(): NodeId {
    return this.#state.leaderId;
  }

  get role(): RaftRole | 'learner' {
    return this.#state.core?.status().role ?? 'follower';
  }

  // ---------------------------------------------------------------------------
  // Membership
  // ---------------------------------------------------------------------------

  /** Calls `listener` once this node learns it was removed from the cluster; returns the function that unregisters it. */
  subscribeRemoved(listener: () => void): () => void {
    return this.#state.subscribeRemoved(listener);
  }

  /** This node learned it was removed (a leader's notice); its own applied removal marks it too. */
  markRemoved(how: string): void {
    this.#state.markRemoved(how);
  }

  get removedFromCluster(): boolean {
    return this.#state.removedFromCluster;
  }

  /** Leader only: ms since `id` last answered (counted from this node's election at the earliest); 0 on a non-leader. */
  peerSilenceMs(id: NodeId): number {
    return this.#leadership.peerSilenceMs(id);
  }

  /** Leader only: `id` came back with an empty log under the same id; replicate to it from scratch. */
  forgetFollowerLog(id: NodeId): void {
    this.#state.drive((core) => core.forgetFollowerLog(id));
  }

  learnMembers(members: Readonly<Record<NodeId, MemberAddresses>>): void {
    this.#directory.learnMembers(members);
  }

  memberContext(addresses: MemberAddresses): Uint8Array {
    return this.#directory.memberContext(addresses);
  }

  confState(): ConfState {
    return this.#directory.confState();
  }

  isVoter(id: NodeId = this.#state.config.nodeId): boolean {
    return this.#directory.isVoter(id);
  }

  isMember(id: NodeId): boolean {
    return this.#directory.isMember(id);
  }

  // ---------------------------------------------------------------------------
  // Position and health
  // ---------------------------------------------------------------------------

  get appliedIndex(): number {
    return this.#state.stateMachine.appliedIndex;
  }

  get haltError(): Error | undefined {
    return this.#state.haltError;
  }

  get logStoreHealthy(): boolean {
    return this.#state.storage.healthy;
  }

  get lastSnapshotIndex(): number {
    return this.#snapshots.lastSnapshotIndex;
  }

  coreStatus(): ReturnType<RaftCore['status']> | undefined {
    return this.#state.core?.status();
  }

  position(): LogPosition {
    const { core, storage, stateMachine } = this.#state;
    const status = core?.status();
    const latest = storage.snapshots.latest()?.metadata;
    return {
      term: status?.term ?? 0,
      commitIndex: status?.commit ?? 0,
      appliedIndex: stateMachine.appliedIndex,
      firstIndex: storage.firstIndex(),
      lastIndex: status?.lastIndex ?? storage.lastIndex(),
      lastSnapshotIndex: this.#snapshots.lastSnapshotIndex,
      latestSnapshot: latest === undefined ? undefined : { index: latest.index, term: latest.term },
    };
  }

  // The modules the runtime drives, for tests and wiring; the layers above use the
  // ReplicatedLog facts instead (and are given what else they need explicitly).

  get stateMachine(): NodeStateMachine {
    return this.#state.stateMachine;
  }

  get storage(): NodeStorage {
    return this.#state.storage;
  }

  get transport(): NodeTransport {
    return this.#state.transport;
  }
}
