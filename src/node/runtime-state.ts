/**
 * The runtime's shared state: the one small struct every concern of the runtime works
 * on, in the way hashicorp/raft spreads its `Raft` struct over one file per concern
 * (start-up, the Ready loop, apply, snapshots, leadership, membership). It holds the
 * dependencies, the core once started, the facts several concerns read and write
 * (stopped, halted, leader and role), the three waiting tables, and the errors that tell
 * a caller what state this node is in. It decides nothing itself.
 */
import { ServiceError } from '../service/service.js';
import { RaftError } from '../raft/errors.js';
import type { NodeId, RaftConfig, RaftRole } from '../raft/types.js';
import { AppliedWaiters } from './applied-waiters.js';
import { NodeCounters } from './counters.js';
import type { NodeConfig } from './config.js';
import type { NodeLogger } from './logger.js';
import { NodeMetrics } from './node-metrics.js';
import { RecentEvents, recordingLogger } from './recent-events.js';
import { MemberBook } from './members.js';
import { PendingProposals } from './pending-proposals.js';
import { PendingReads } from './pending-reads.js';
import { systemFiles } from './files.js';
import type { NodeFiles, NodeStateMachine, NodeStorage, NodeTransport, RaftCore } from './ports.js';
import { haltedError, type ApplyOutcome } from './replicated-log.js';
import { systemScheduler, type ScheduledTimer, type Scheduler } from './scheduler.js';
import { planTicks, type TickPlan } from './timing.js';

/** Peers whose last contact is remembered (members and a few others; a cluster has a handful). */
const peerContactCountMax = 1024;

export interface RuntimeDependencies {
  readonly config: NodeConfig;
  readonly storage: NodeStorage;
  readonly stateMachine: NodeStateMachine;
  readonly transport: NodeTransport;
  readonly createCore: (config: RaftConfig) => RaftCore;
  readonly logger: NodeLogger;
  /** Where the Raft core's events go (rqlited's -raft-log-level gives it a level of its own); default `logger`. */
  readonly raftLogger?: NodeLogger;
  /** Every timer and clock reading of the node; default the real one (tests and simulators pass their own). */
  readonly scheduler?: Scheduler;
  /** Randomness for election jitter and command seeds; injectable for tests. */
  readonly random?: () => number;
  /** Called once if the Ready loop hits a broken invariant; the runtime has stopped. */
  readonly onFatal?: (error: Error) => void;
  /** The runtime's own file operations (snapshot files into the store, members.json); default the real filesystem. */
  readonly files?: NodeFiles;
}

export class RuntimeState {
  readonly config: NodeConfig;
  readonly storage: NodeStorage;
  readonly stateMachine: NodeStateMachine;
  readonly transport: NodeTransport;
  readonly createCore: (config: RaftConfig) => RaftCore;
  readonly logger: NodeLogger;
  readonly raftLogger: NodeLogger;
  readonly scheduler: Scheduler;
  readonly random: () => number;
  readonly onFatal: (error: Error) => void;
  readonly files: NodeFiles;
  readonly tickPlan: TickPlan;
  readonly members: MemberBook;
  readonly proposals: PendingProposals<ApplyOutcome>;
  readonly reads: PendingReads;
  readonly appliedWaiters: AppliedWaiters;
  /** rqlite's expvar counters for what this node does (counters.ts). */
  readonly counters = new NodeCounters();
  /** Latencies and counts for /metrics (node-metrics.ts). */
  readonly metrics = new NodeMetrics();
  /** The recent state changes /status shows; `logger` records them (recent-events.ts). */
  readonly events = new RecentEvents();
  core: RaftCore | undefined;
  stopped = false;
  /** The environmental failure the node is retrying (disk full, I/O error), while it lasts. */
  haltError: Error | undefined;
  /** As of the last Ready's soft state (the Ready loop keeps these). */
  leaderId: NodeId = '';
  role: RaftRole | 'learner' = 'follower';
  /** When this node last heard from the leader (wall clock, ms), and the ticks since (the core's election clock restarts then too). */
  lastLeaderContactMs = 0;
  ticksSinceLeaderContact = 0;
  /**
   * When a message from each peer last arrived (monotonic ms): on the leader, its contact
   * with each follower (their append and heartbeat answers), which reaping reads. At most
   * peerContactCountMax peers; the reaper drops those no longer members.
   */
  readonly peerContactMs = new Map<NodeId, number>();
  /** When this node last became the leader (monotonic ms): a follower's silence counts from then at the earliest. */
  leaderSinceMs = 0;
  /** Set once this node learns it was removed from the cluster. */
  removedFromCluster = false;
  readonly #removedListeners = new Set<() => void>();
  /** Told of every failed attempt of a halted step (halt.ts), with the attempt's number. */
  #haltListener: (attempt: number) => void = () => undefined;
  /** Timers that run while the node runs (ticks, snapshot checks). */
  readonly #timers: ScheduledTimer[] = [];
  #wake: () => void = () => undefined;

  constructor(dependencies: RuntimeDependencies) {
    this.config = dependencies.config;
    this.storage = dependencies.storage;
    this.stateMachine = dependencies.stateMachine;
    this.transport = dependencies.transport;
    this.createCore = dependencies.createCore;
    this.scheduler = dependencies.scheduler ?? systemScheduler;
    this.logger = recordingLogger(dependencies.logger, this.events, () => this.scheduler.nowMs());
    this.raftLogger = dependencies.raftLogger ?? dependencies.logger;
    this.random = dependencies.random ?? Math.random;
    this.onFatal = dependencies.onFatal ?? (() => undefined);
    this.files = dependencies.files ?? systemFiles;
    this.tickPlan = planTicks(this.config.heartbeatMs, this.config.electionTimeoutMs);
    this.members = new MemberBook(this.config.dataDirectory, this.files);
    this.proposals = new PendingProposals(this.config.pendingProposalCountMax);
    // A lost MsgReadIndex or answer is never reported: a round unanswered for an election timeout is asked again.
    const readBounds = { countMax: this.config.pendingReadCountMax, retryMs: this.config.electionTimeoutMs };
    this.reads = new PendingReads(readBounds, this.scheduler, (context) => this.#requestReadIndex(context));
    this.appliedWaiters = new AppliedWaiters(this.stateMachine.appliedIndex, this.config.appliedWaiterCountMax, this.scheduler);
  }

  /** The Ready loop registers how to ask it for a turn. */
  onWake(wake: () => void): void {
    this.#wake = wake;
  }

  /** Asks the Ready loop for a turn soon (inputs reached the core). */
  wake(): void {
    this.#wake();
  }

  /** A message from `id` arrived. */
  heardFrom(id: NodeId): void {
    if (!this.peerContactMs.has(id) && this.peerContactMs.size >= peerContactCountMax) return;
    this.peerContactMs.set(id, this.scheduler.monotonicMs());
  }

  /** Calls `listener` once this node learns it was removed from the cluster. */
  subscribeRemoved(listener: () => void): () => void {
    this.#removedListeners.add(listener);
    return () => {
      this.#removedListeners.delete(listener);
    };
  }

  /** This node was removed from the cluster (its removal applied here, or the leader said so): tell the listeners, once. */
  markRemoved(how: string): void {
    if (this.removedFromCluster) return;
    this.removedFromCluster = true;
    this.logger.warn({ event: 'removed-from-cluster', how }, 'this node was removed from the cluster');
    for (const listener of this.#removedListeners) listener();
  }

  /** Leadership registers what a halt means to it (a leader hands over): one listener. */
  onHalt(listener: (attempt: number) => void): void {
    this.#haltListener = listener;
  }

  /** retryWhileHalted: attempt `attempt` of a step failed for an environmental reason. */
  reportHalt(attempt: number): void {
    this.#haltListener(attempt);
  }

  /** A message from the leader arrived: the election clock restarts. */
  heardFromLeader(): void {
    this.lastLeaderContactMs = this.scheduler.nowMs();
    this.ticksSinceLeaderContact = 0;
  }

  startTimer(timer: ScheduledTimer): void {
    this.#timers.push(timer);
  }

  /** Stop or a fatal error: no more ticks or snapshot checks. */
  cancelTimers(): void {
    for (const timer of this.#timers.splice(0)) timer.cancel();
  }

  /** The core, for a request that needs it; UNAVAILABLE while stopping or not yet started. */
  requireCore(): RaftCore {
    if (this.stopped) throw new ServiceError('UNAVAILABLE', 'node is shutting down');
    if (this.core === undefined) throw new ServiceError('UNAVAILABLE', 'node has not joined a cluster yet');
    return this.core;
  }

  /** HALTED while the node retries an environmental failure: a request that needs it to apply is refused at once. */
  refuseIfHalted(): void {
    if (this.haltError !== undefined) throw haltedError(this.haltError);
  }

  /** NOT_LEADER naming `leaderId` (default: the leader as of the last Ready), or NO_LEADER when there is none to name. */
  notLeaderError(message: string, leaderId: NodeId = this.leaderId): ServiceError {
    const leader = leaderId === '' || leaderId === this.config.nodeId ? undefined : this.members.get(leaderId);
    if (leader === undefined) return new ServiceError('NO_LEADER', 'leader not found');
    return new ServiceError('NOT_LEADER', message, { leaderApiAddress: `${this.config.apiScheme}://${leader.apiAddress}` });
  }

  translateCoreError(error: unknown): Error {
    if (!(error instanceof RaftError)) return error instanceof Error ? error : new Error(String(error));
    switch (error.code) {
      case 'NOT_LEADER':
        // The core's own view: `this.leaderId` is as of the last Ready turn and may still name a
        // leader the core left in this one (a campaign just began); a redirect there is wrong.
        return this.notLeaderError('not the leader', error.leaderId);
      case 'PROPOSAL_DROPPED':
      case 'READ_QUEUE_FULL':
      case 'CONF_CHANGE_PENDING':
        return new ServiceError('UNAVAILABLE', error.message, { cause: error });
      default:
        return new ServiceError('BAD_REQUEST', error.message, { cause: error });
    }
  }

  /** One ReadIndex round of the pending reads (pending-reads.ts): whether it is asked of the leader. */
  #requestReadIndex(context: Uint8Array): boolean {
    const viaLeader = this.role !== 'leader';
    this.drive((core) => core.readIndexAnywhere(context));
    return viaLeader;
  }

  /** Runs one input on the core, with its errors as ServiceErrors, and wakes the Ready loop. */
  drive<Value>(input: (core: RaftCore) => Value): Value {
    const core = this.requireCore();
    let value: Value;
    try {
      value = input(core);
    } catch (error) {
      throw this.translateCoreError(error);
    }
    this.wake();
    return value;
  }
}
