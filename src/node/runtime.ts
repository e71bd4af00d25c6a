/**
 * The node runtime: drives the pure Raft core with time and I/O.
 *
 * - A tick timer turns milliseconds into the core's ticks.
 * - The Ready loop runs one turn at a time, in the order the core documents: persist
 *   (snapshot, entries, hard state) → send → apply committed entries → advance. A turn
 *   takes everything that accumulated since the last one, so proposals that arrive while
 *   a persist is in flight go to disk together in the next turn (group commit). A
 *   leader's appends go out before its own fsync when the core allows it.
 * - Proposals wait for their entry to apply (matched by index and term); linearizable
 *   reads wait for ReadIndex and then for apply; both fail at once on leadership loss.
 * - Snapshots are taken by entry count (checked on an interval), streamed to lagging
 *   followers as files, and restored on followers; the log is compacted behind them.
 *
 * The runtime is leader-local: it never forwards. `cluster-service.ts` routes client
 * requests to the leader and handles joins; `serve.ts` wires the real modules.
 */
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ServiceError } from '../service/service.js';
import { encodeCommand } from '../state-machine/command-codec.js';
import { StateMachineHaltedError } from '../state-machine/errors.js';
import { applyBatchEntryCountMax } from '../state-machine/state-machine.js';
import { StorageError } from '../storage/errors.js';
import type { Statement, StatementResult } from '../state-machine/types.js';
import { decodeConfChange, encodeConfChange } from '../raft/conf-change.js';
import { RaftError } from '../raft/errors.js';
import type { ConfChange, ConfState, Entry, HardState, Message, NodeId, RaftConfig, RaftRole, Ready, SnapshotMetadata } from '../raft/types.js';
import type { NodeConfig } from './config.js';
import { AppliedWaiters } from './applied-waiters.js';
import type { NodeLogger } from './logger.js';
import { MemberBook, decodeMemberContext, encodeMemberContext, readMemberRecord } from './members.js';
import { PendingProposals } from './pending-proposals.js';
import { PendingReads } from './pending-reads.js';
import type { BatchOutcome, MemberAddresses, NodeStateMachine, NodeStorage, NodeTransport, RaftCore, StoredSnapshot } from './ports.js';
import { planTicks, type TickPlan } from './timing.js';

export interface ApplyOutcome {
  readonly results: readonly StatementResult[];
  readonly index: number;
}

export interface RuntimeDependencies {
  readonly config: NodeConfig;
  readonly storage: NodeStorage;
  readonly stateMachine: NodeStateMachine;
  readonly transport: NodeTransport;
  readonly createCore: (config: RaftConfig) => RaftCore;
  readonly logger: NodeLogger;
  /** Wall clock in ms; injectable for tests. */
  readonly now?: () => number;
  /** Randomness for election jitter and command seeds; injectable for tests. */
  readonly random?: () => number;
  /** Called once if the Ready loop hits a broken invariant; the runtime has stopped. */
  readonly onFatal?: (error: Error) => void;
}

/** Core limits: generous for a SQL workload, each a named bound. */
export const coreLimits = {
  maxSizePerMessageBytes: 1024 * 1024,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedEntriesBytes: 256 * 1024 * 1024,
  maxCommittedBytesPerReady: 16 * 1024 * 1024,
} as const;

/**
 * Environmental failures: the disk or database refused for a reason outside the program
 * (StorageError DISK_FULL / IO_ERROR, StateMachineHaltedError). Retried, never skipped.
 */
export function isEnvironmentalFailure(error: unknown): boolean {
  if (error instanceof StateMachineHaltedError) return true;
  return error instanceof StorageError && (error.code === 'DISK_FULL' || error.code === 'IO_ERROR');
}
const emptyData = new Uint8Array(0);

/**
 * Splits committed entries into what applies together: each membership change alone, and
 * runs of commands (and no-ops) of at most `runEntryCountMax` entries, in order.
 */
export function planApplyRuns(entries: readonly Entry[], runEntryCountMax: number): Entry[][] {
  if (!Number.isInteger(runEntryCountMax) || runEntryCountMax < 1) throw new RangeError(`runEntryCountMax must be >= 1, got ${runEntryCountMax}`);
  const runs: Entry[][] = [];
  let current: Entry[] = [];
  for (const entry of entries) {
    if (entry.type === 'conf-change' || current.length === runEntryCountMax) {
      if (current.length > 0) runs.push(current);
      current = [];
    }
    if (entry.type === 'conf-change') runs.push([entry]);
    else current.push(entry);
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

export class NodeRuntime {
  readonly config: NodeConfig;
  readonly members: MemberBook;
  readonly tickPlan: TickPlan;
  readonly #storage: NodeStorage;
  readonly #stateMachine: NodeStateMachine;
  readonly #transport: NodeTransport;
  readonly #createCore: (config: RaftConfig) => RaftCore;
  readonly #logger: NodeLogger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #onFatal: (error: Error) => void;
  readonly #proposals: PendingProposals<ApplyOutcome>;
  readonly #reads: PendingReads;
  readonly #appliedWaiters: AppliedWaiters;
  #core: RaftCore | undefined;
  #tickTimer: NodeJS.Timeout | undefined;
  #snapshotTimer: NodeJS.Timeout | undefined;
  #turnScheduled = false;
  #turnRunning: Promise<void> | undefined;
  #snapshotInFlight: Promise<void> | undefined;
  #lastSnapshotIndex = 0;
  #leaderId: NodeId = '';
  #role: RaftRole | 'learner' = 'follower';
  #persistedTerm = 0;
  #persistedVote: NodeId = '';
  /** The commit index as last saved, and the newest one known but not yet saved (it rides on the next save). */
  #savedCommit = 0;
  #unsavedCommit = 0;
  #lastLeaderContactMs = 0;
  /** Ticks since the leader was last heard from (the core's election clock restarts then too). */
  #ticksSinceLeaderContact = 0;
  #haltError: Error | undefined;
  #stopped = false;
  readonly #leaderListeners = new Set<() => void>();

  constructor(dependencies: RuntimeDependencies) {
    this.config = dependencies.config;
    this.#storage = dependencies.storage;
    this.#stateMachine = dependencies.stateMachine;
    this.#transport = dependencies.transport;
    this.#createCore = dependencies.createCore;
    this.#logger = dependencies.logger;
    this.#now = dependencies.now ?? Date.now;
    this.#random = dependencies.random ?? Math.random;
    this.#onFatal = dependencies.onFatal ?? (() => undefined);
    this.tickPlan = planTicks(this.config.heartbeatMs, this.config.electionTimeoutMs);
    this.members = new MemberBook(this.config.dataDirectory);
    this.#proposals = new PendingProposals(this.config.pendingProposalCountMax);
    this.#reads = new PendingReads(this.config.pendingReadCountMax);
    this.#appliedWaiters = new AppliedWaiters(this.#stateMachine.appliedIndex, this.config.appliedWaiterCountMax);
  }

  // ---------------------------------------------------------------------------
  // Lifecycle
  // ---------------------------------------------------------------------------

  get started(): boolean {
    return this.#core !== undefined;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  /** Registers transport handlers for Raft traffic. Call before the transport starts. */
  attachTransport(): void {
    this.#transport.onMessage((message) => this.#receive(message));
    this.#transport.onUnreachable((id) => {
      this.#core?.reportUnreachable(id);
      this.#wake();
    });
    this.#transport.onSnapshot((metadata, tempFilePath) => this.#receiveSnapshot(metadata, tempFilePath));
    this.#transport.onPeerDisconnected((id) => this.#onPeerDisconnected(id));
  }

  /**
   * Initialises a fresh store with this membership (one node, or --bootstrap-expect
   * peers). As etcd's bootstrap does, the membership is written as committed conf-change
   * entries at term 1, carrying each member's addresses: a node that joins later
   * replicates them like any entry and so learns the founding members too.
   */
  async bootstrap(members: ReadonlyMap<NodeId, MemberAddresses>): Promise<void> {
    if (!this.#storage.isEmpty()) throw new Error('assertion: bootstrap of a store that has state');
    const ids = [...members.keys()].sort();
    const entries: Entry[] = ids.map((id, position) => {
      const addresses = members.get(id);
      if (addresses === undefined) throw new Error(`assertion: no addresses for ${id}`);
      this.members.set(id, addresses);
      const change: ConfChange = { type: 'add-voter', nodeId: id, context: encodeMemberContext(addresses) };
      return { index: position + 1, term: 1, type: 'conf-change', data: encodeConfChange(change) };
    });
    this.members.persist();
    await this.#storage.save({ entries, hardState: { term: 1, vote: '', commit: entries.length } });
    this.#logger.info({ event: 'bootstrap', voters: ids }, 'bootstrapped a new cluster');
  }

  /** Restores the state machine from the newest snapshot if it is behind, rebuilds membership, starts the core. */
  async startCore(options: { campaign?: boolean } = {}): Promise<void> {
    if (this.#core !== undefined) throw new Error('assertion: core started twice');
    this.members.load();
    await this.#restoreFromSnapshotIfBehind();
    this.#replayMembership();
    const hardState = await this.#raiseStoredCommitToApplied();
    this.#persistedTerm = hardState.term;
    this.#persistedVote = hardState.vote;
    this.#savedCommit = hardState.commit;
    this.#unsavedCommit = hardState.commit;
    this.#core = this.#createCore(this.#coreConfig());
    this.#lastSnapshotIndex = this.#storage.snapshots.latest()?.metadata.index ?? 0;
    this.#tickTimer = setInterval(() => this.#tick(), this.tickPlan.tickMs);
    this.#snapshotTimer = setInterval(() => this.#checkSnapshotThreshold(), this.config.snapshotIntervalMs);
    const voters = this.#core.status().confState.voters;
    const soleVoter = voters.length === 1 && voters[0] === this.config.nodeId;
    if (soleVoter || options.campaign === true) this.#core.campaign();
    this.#logger.info(
      { event: 'start', applied: this.#stateMachine.appliedIndex, lastIndex: this.#storage.lastIndex(), term: hardState.term },
      'raft node started',
    );
    this.#wake();
  }

  #coreConfig(): RaftConfig {
    return {
      id: this.config.nodeId,
      storage: this.#storage,
      applied: this.#stateMachine.appliedIndex,
      electionTicks: this.tickPlan.electionTicks,
      heartbeatTicks: this.tickPlan.heartbeatTicks,
      preVote: true,
      checkQuorum: true,
      readOnly: 'safe',
      maxPendingReads: this.config.pendingReadCountMax,
      random: this.#random,
      logger: (event) => this.#logger.debug({ ...event, raftEvent: event.event }, 'raft'),
      ...coreLimits,
    };
  }

  /**
   * The commit index is saved lazily (a commit-only Ready rides on the next save), so after
   * a crash the database may have applied entries beyond the stored commit. Only committed
   * entries are ever applied, so the applied index is a commit index: store it before the
   * core starts (the core refuses an applied index beyond the stored commit).
   */
  async #raiseStoredCommitToApplied(): Promise<HardState> {
    const hardState = this.#storage.initialState().hardState;
    const applied = this.#stateMachine.appliedIndex;
    if (applied <= hardState.commit || applied > this.#storage.lastIndex()) return hardState;
    const raised = { ...hardState, commit: applied };
    await this.#storage.save({ hardState: raised });
    this.#logger.info({ event: 'commit-raised', from: hardState.commit, to: applied }, 'stored commit index raised to the applied index');
    return raised;
  }

  async #restoreFromSnapshotIfBehind(): Promise<void> {
    const snapshot = this.#storage.snapshots.latest();
    if (snapshot === undefined || snapshot.metadata.index <= this.#stateMachine.appliedIndex) return;
    this.#logger.info(
      { event: 'snapshot-restore', index: snapshot.metadata.index, applied: this.#stateMachine.appliedIndex },
      'state machine behind the newest snapshot: restoring it',
    );
    await this.#restoreStateMachine(snapshot);
  }

  /** Restores the state machine from a stored snapshot (the file stays in the store). */
  async #restoreStateMachine(snapshot: StoredSnapshot): Promise<void> {
    await this.#stateMachine.restore(snapshot.dataPath);
    if (this.#stateMachine.appliedIndex !== snapshot.metadata.index) {
      throw new Error(`assertion: restored snapshot ${snapshot.metadata.index} but the state machine reports ${this.#stateMachine.appliedIndex}`);
    }
    for (const [id, addresses] of Object.entries(readMemberRecord(snapshot.context))) this.#setMember(id, addresses);
    this.#lastSnapshotIndex = snapshot.metadata.index;
    this.#appliedWaiters.advance(snapshot.metadata.index);
  }

  /** Every address named in the newest snapshot and in the log. */
  #replayMembership(): void {
    const snapshot = this.#storage.snapshots.latest();
    if (snapshot !== undefined) for (const [id, addresses] of Object.entries(readMemberRecord(snapshot.context))) this.members.set(id, addresses);
    for (const entry of this.#logEntries(this.#storage.firstIndex(), this.#storage.lastIndex() + 1)) {
      if (entry.type === 'conf-change') this.#learnAddresses(decodeConfChange(entry.data));
    }
    for (const [id, addresses] of this.members.entries()) {
      if (id !== this.config.nodeId) this.#transport.setPeer(id, addresses.raftAddress);
    }
  }

  #logEntries(low: number, high: number): Entry[] {
    const result: Entry[] = [];
    let next = low;
    while (next < high) {
      const batch = this.#storage.entries(next, high, coreLimits.maxCommittedBytesPerReady);
      if (batch.length === 0) throw new Error(`assertion: storage returned no entries at ${next}`);
      result.push(...batch);
      next += batch.length;
    }
    return result;
  }

  /**
   * Stops the node. With `transferLeadership`, a leader first hands leadership to the
   * most caught-up voter and waits (bounded) so clients see no election timeout.
   */
  async stop(options: { transferLeadership: boolean } = { transferLeadership: true }): Promise<void> {
    if (this.#stopped) return;
    if (options.transferLeadership) await this.#handOverLeadership();
    this.#stopped = true;
    clearInterval(this.#tickTimer);
    clearInterval(this.#snapshotTimer);
    await this.#turnRunning;
    await this.#snapshotInFlight;
    await this.#saveUnsavedCommit();
    const stopping = new ServiceError('UNAVAILABLE', 'node is shutting down');
    this.#proposals.failAll(stopping);
    this.#reads.failAll(stopping);
    this.#appliedWaiters.failAll(stopping);
    this.#logger.info({ event: 'stop' }, 'raft node stopped');
  }

  async #handOverLeadership(): Promise<void> {
    const core = this.#core;
    if (core === undefined || this.#role !== 'leader') return;
    const target = this.mostCaughtUpVoter();
    if (target === undefined) return;
    this.#logger.info({ event: 'leadership-transfer', to: target, reason: 'shutdown' }, 'handing over leadership before exit');
    try {
      core.transferLeadership(target);
      this.#wake();
      await this.waitForLeaderChange(this.config.shutdownTransferTimeoutMs, (leaderId) => leaderId !== this.config.nodeId);
    } catch (error) {
      this.#logger.warn({ event: 'leadership-transfer-failed', error: String(error) }, 'leadership transfer on shutdown failed');
    }
  }

  /** The voter (other than this node) whose log matches the leader's furthest, preferring ones heard from recently. */
  mostCaughtUpVoter(): NodeId | undefined {
    const status = this.#core?.status();
    if (status === undefined) return undefined;
    let best: { id: NodeId; match: number; active: boolean } | undefined;
    for (const id of status.confState.voters) {
      const progress = status.progress[id];
      if (id === this.config.nodeId || progress === undefined) continue;
      const candidate = { id, match: progress.match, active: progress.recentActive };
      const better = best === undefined || (candidate.active && !best.active) ||
        (candidate.active === best.active && candidate.match > best.match);
      if (better) best = candidate;
    }
    return best?.id;
  }

  // ---------------------------------------------------------------------------
  // Inputs: ticks, messages, snapshots
  // ---------------------------------------------------------------------------

  #tick(): void {
    if (this.#core === undefined || this.#stopped) return;
    this.#ticksSinceLeaderContact += 1;
    this.#core.tick();
    this.#wake();
  }

  /**
   * The leader's connection to this follower closed: it most likely exited or crashed (the
   * kernel closes a killed process's sockets at once). Rather than wait out a whole election
   * timeout of silence, move the election clock to where the leader's lease ends: the
   * randomised rest of the timeout still spreads the candidates. A leader that is alive
   * loses nothing: with pre-vote and check-quorum the other voters still in its lease refuse
   * this node, and its next heartbeat restarts the clock.
   */
  #onPeerDisconnected(id: NodeId): void {
    const core = this.#core;
    if (core === undefined || this.#stopped || id !== this.#leaderId || this.#role === 'leader' || !this.isVoter()) return;
    const ticks = Math.max(0, this.tickPlan.electionTicks - this.#ticksSinceLeaderContact);
    this.#logger.info({ event: 'leader-disconnected', leader: id, ticks }, 'the leader closed its connection: election clock moved to its lease end');
    for (let tick = 0; tick < ticks; tick += 1) core.tick();
    this.#ticksSinceLeaderContact += ticks;
    this.#wake();
  }

  #receive(message: Message): void {
    if (this.#core === undefined || this.#stopped) return;
    const fromLeader = message.from === this.#leaderId || this.#leaderId === '';
    if (fromLeader && (message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap')) {
      this.#lastLeaderContactMs = this.#now();
      this.#ticksSinceLeaderContact = 0;
    }
    try {
      this.#core.step(message);
    } catch (error) {
      // A peer's malformed message must not take this node down: drop it.
      this.#logger.warn({ event: 'bad-message', from: message.from, type: message.type, error: String(error) }, 'dropped a message the core refused');
      return;
    }
    this.#wake();
  }

  async #receiveSnapshot(metadata: unknown, tempFilePath: string): Promise<void> {
    if (this.#core === undefined || this.#stopped) throw new ServiceError('UNAVAILABLE', 'node not running');
    const envelope = metadata as { message?: Message; context?: Record<NodeId, MemberAddresses> };
    const message = envelope.message;
    const snapshot = message?.snapshot;
    if (message === undefined || snapshot === undefined || message.type !== 'MsgSnap') {
      throw new ServiceError('BAD_REQUEST', 'snapshot transfer without a MsgSnap message');
    }
    const writer = await this.#storage.snapshots.begin(snapshot.metadata, envelope.context ?? {});
    try {
      await rename(tempFilePath, writer.dataPath);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
    this.#logger.info({ event: 'snapshot-received', index: snapshot.metadata.index, from: message.from }, 'snapshot received');
    this.#lastLeaderContactMs = this.#now();
    this.#ticksSinceLeaderContact = 0;
    this.#core.step(message);
    this.#wake();
  }

  // ---------------------------------------------------------------------------
  // The Ready loop
  // ---------------------------------------------------------------------------

  #wake(): void {
    if (this.#turnScheduled || this.#stopped) return;
    this.#turnScheduled = true;
    setImmediate(() => {
      this.#turnScheduled = false;
      if (this.#turnRunning !== undefined) return; // the running turn wakes again when it ends
      this.#turnRunning = this.#turn().finally(() => {
        this.#turnRunning = undefined;
        if (this.#core?.hasReady() === true) this.#wake();
      });
    });
  }

  async #turn(): Promise<void> {
    const core = this.#core;
    if (core === undefined || this.#stopped) return;
    try {
      if (core.hasReady()) await this.#processReady(core, core.ready());
    } catch (error) {
      if (this.#stopped) return; // a retry loop gave up because the node is stopping
      // Not an environmental failure (those are retried): a broken invariant. Stop hard.
      this.#stopped = true;
      clearInterval(this.#tickTimer);
      clearInterval(this.#snapshotTimer);
      this.#logger.error({ event: 'fatal', error: String(error), stack: (error as Error).stack }, 'ready loop failed');
      this.#onFatal(error instanceof Error ? error : new Error(String(error)));
      return;
    }
  }

  /**
   * Decision 2: an environmental failure (disk full, I/O error) while persisting or
   * applying stops the node where it is and retries the same step; it never skips.
   */
  async #retrying<Value>(what: string, operation: () => Promise<Value> | Value): Promise<Value> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        const value = await operation();
        if (this.#haltError !== undefined) this.#logger.info({ event: 'resumed', what }, `${what} resumed`);
        this.#haltError = undefined;
        return value;
      } catch (error) {
        if (!isEnvironmentalFailure(error)) throw error;
        this.#haltError = error as Error;
        this.#logger.error({ event: 'halted', what, attempt, error: String(error) }, `cannot ${what}; retrying`);
        if (this.#stopped) throw error;
        await new Promise((resolve) => setTimeout(resolve, this.config.haltRetryIntervalMs));
        if (this.#stopped) throw error;
      }
    }
  }

  async #processReady(core: RaftCore, ready: Ready): Promise<void> {
    if (ready.softState !== undefined) this.#onSoftState(ready.softState.leaderId, ready.softState.role);
    const sendEarly = ready.hardState === undefined ||
      (ready.hardState.term === this.#persistedTerm && ready.hardState.vote === this.#persistedVote);
    const early = sendEarly ? ready.messages.filter((message) => message.type === 'MsgApp') : [];
    const late = sendEarly ? ready.messages.filter((message) => message.type !== 'MsgApp') : ready.messages;
    this.#sendMessages(early);
    const applyWhilePersisting = this.#committedAlreadyDurable(ready);
    const persisting = this.#persist(ready);
    if (applyWhilePersisting.length > 0) await this.#applyWhile(applyWhilePersisting, persisting);
    await persisting;
    this.#sendMessages(late);
    if (ready.snapshot !== undefined) await this.#restoreReceivedSnapshot(ready.snapshot.metadata);
    await this.#applyEntries(ready.committedEntries.slice(applyWhilePersisting.length));
    for (const readState of ready.readStates) this.#reads.confirmed(readState.context, readState.index);
    for (const context of ready.failedReads) {
      this.#reads.failed(context, this.#notLeaderError('leadership lost before the read was confirmed'));
    }
    core.advance(ready);
  }

  /**
   * On the leader, committed entries that were already in the durable log before this
   * Ready can be applied (and their writers answered) while this Ready's new entries are
   * being written, instead of after that fsync: under load a batch's clients then wait
   * for one fsync fewer. Followers keep the plain order: their acknowledgement (sent after
   * the persist) is what the leader waits for, so nothing may delay it.
   */
  #committedAlreadyDurable(ready: Ready): readonly Entry[] {
    const firstNew = ready.entries[0];
    if (this.#role !== 'leader' || firstNew === undefined || ready.snapshot !== undefined) return [];
    const durableLastIndex = Math.min(this.#storage.lastIndex(), firstNew.index - 1);
    let count = 0;
    while (count < ready.committedEntries.length && (ready.committedEntries[count] as Entry).index <= durableLastIndex) count += 1;
    return ready.committedEntries.slice(0, count);
  }

  async #applyWhile(entries: readonly Entry[], persisting: Promise<void>): Promise<void> {
    // Let the store's flush start its write first (it begins in a microtask chain).
    await new Promise((resolve) => setImmediate(resolve));
    try {
      await this.#applyEntries(entries);
    } catch (error) {
      await persisting.catch(() => undefined);
      throw error;
    }
  }

  async #persist(ready: Ready): Promise<void> {
    if (ready.hardState !== undefined) this.#unsavedCommit = Math.max(this.#unsavedCommit, ready.hardState.commit);
    if (ready.hardState === undefined && ready.entries.length === 0 && ready.snapshot === undefined) return;
    if (!ready.mustSync && ready.entries.length === 0 && ready.snapshot === undefined) {
      // Only the commit index moved: it need not be durable (it is recomputed after a
      // crash, and startCore raises it to the applied index), so it rides on the next save
      // instead of adding an fsync to every write's path, ahead of the next write's entries.
      return;
    }
    const hardState = ready.hardState ?? this.#hardStateWithUnsavedCommit(ready);
    const request = {
      entries: ready.entries,
      ...(hardState === undefined ? {} : { hardState }),
      ...(ready.snapshot === undefined ? {} : { snapshot: ready.snapshot }),
    };
    await this.#retrying('persist the log', () => this.#storage.save(request));
    if (hardState !== undefined) {
      this.#persistedTerm = hardState.term;
      this.#persistedVote = hardState.vote;
      this.#savedCommit = hardState.commit;
    }
    for (const entry of ready.entries) {
      if (entry.type === 'conf-change') this.#learnAddresses(decodeConfChange(entry.data));
    }
  }

  /** The persisted term and vote with the newest commit index, when that moved since the last save (entry saves only). */
  #hardStateWithUnsavedCommit(ready: Ready): HardState | undefined {
    if (this.#unsavedCommit <= this.#savedCommit || ready.snapshot !== undefined) return undefined;
    return { term: this.#persistedTerm, vote: this.#persistedVote, commit: this.#unsavedCommit };
  }

  /** On stop: saves a commit index that has not ridden on a save yet (best effort: startCore repairs it anyway). */
  async #saveUnsavedCommit(): Promise<void> {
    if (this.#unsavedCommit <= this.#savedCommit || this.#haltError !== undefined) return;
    const hardState = { term: this.#persistedTerm, vote: this.#persistedVote, commit: this.#unsavedCommit };
    try {
      await this.#storage.save({ hardState });
      this.#savedCommit = hardState.commit;
    } catch (error) {
      this.#logger.warn({ event: 'commit-index-save-failed', error: String(error) }, 'saving the commit index on stop failed');
    }
  }

  #sendMessages(messages: readonly Message[]): void {
    const plain: Message[] = [];
    for (const message of messages) {
      if (message.type === 'MsgSnap') this.#streamSnapshot(message);
      else plain.push(message);
    }
    if (plain.length > 0) this.#transport.send(plain);
  }

  #streamSnapshot(message: Message): void {
    const wanted = message.snapshot?.metadata;
    const stored = wanted === undefined ? undefined : this.#storage.snapshots.find(wanted.index, wanted.term);
    const core = this.#core;
    if (stored === undefined || core === undefined) {
      core?.reportSnapshot(message.to, 'failure');
      return;
    }
    const snapshot = { metadata: stored.metadata, data: emptyData };
    const envelope = { message: { ...message, snapshot }, context: stored.context };
    this.#logger.info({ event: 'snapshot-send', to: message.to, index: stored.metadata.index }, 'sending snapshot to a lagging follower');
    this.#transport.sendSnapshot(message.to, envelope, stored.dataPath).then(
      () => {
        this.#core?.reportSnapshot(message.to, 'finish');
        this.#wake();
      },
      (error: unknown) => {
        this.#logger.warn({ event: 'snapshot-send-failed', to: message.to, error: String(error) }, 'snapshot transfer failed');
        this.#core?.reportSnapshot(message.to, 'failure');
        this.#wake();
      },
    );
  }

  async #restoreReceivedSnapshot(metadata: SnapshotMetadata): Promise<void> {
    const stored = this.#storage.snapshots.find(metadata.index, metadata.term);
    if (stored === undefined) throw new Error(`assertion: snapshot ${metadata.index}/${metadata.term} installed but not in the store`);
    await this.#restoreStateMachine(stored);
    this.#logger.info({ event: 'snapshot-installed', index: metadata.index }, 'installed snapshot from the leader');
  }

  #onSoftState(leaderId: NodeId, role: RaftRole): void {
    const wasLeader = this.#role === 'leader';
    const leaderChanged = leaderId !== this.#leaderId;
    this.#role = role;
    this.#leaderId = leaderId;
    if (leaderChanged) {
      this.#logger.info({ event: 'leader-changed', leader: leaderId, role, term: this.#core?.status().term }, 'leader changed');
      if (leaderId !== '' && leaderId !== this.config.nodeId) this.#lastLeaderContactMs = this.#now();
    }
    if (wasLeader && role !== 'leader') {
      this.#logger.info({ event: 'stepped-down', leader: leaderId }, 'this node is no longer the leader');
      this.#proposals.failAll(new ServiceError('UNAVAILABLE', 'leadership lost while committing the write'));
      this.#reads.failAll(this.#notLeaderError('leadership lost before the read was confirmed'));
    }
    if (role === 'leader' && !wasLeader) this.#logger.info({ event: 'elected', term: this.#core?.status().term }, 'this node is the leader');
    for (const listener of this.#leaderListeners) listener();
  }

  // ---------------------------------------------------------------------------
  // Apply
  // ---------------------------------------------------------------------------

  /**
   * Applies a Ready's committed entries: each run of commands goes to the state machine as
   * one batch (one SQLite transaction) of at most applyBatchEntryCountMax entries; a
   * membership change applies on its own. A retried batch resumes after what applied.
   */
  async #applyEntries(entries: readonly Entry[]): Promise<void> {
    for (const run of planApplyRuns(entries, applyBatchEntryCountMax)) {
      const first = run[0] as Entry;
      if (first.type === 'conf-change') await this.#applyConfChangeEntry(first);
      else await this.#retrying(`apply entries ${first.index} to ${first.index + run.length - 1}`, () => this.#applyRun(run));
    }
  }

  async #applyConfChangeEntry(entry: Entry): Promise<void> {
    if (entry.index <= this.#stateMachine.appliedIndex) return;
    this.#assertNextToApply(entry.index);
    const results = await this.#retrying(`apply entry ${entry.index}`, () => this.#applyOne(entry));
    this.#recordApplied(entry, results);
  }

  /** Applies the entries of `run` not applied yet as one batch; records each outcome, also those before a halt. */
  #applyRun(run: readonly Entry[]): void {
    const pending = run.filter((entry) => entry.index > this.#stateMachine.appliedIndex);
    const first = pending[0];
    if (first === undefined) return;
    this.#assertNextToApply(first.index);
    try {
      this.#recordOutcomes(pending, this.#stateMachine.applyBatch(pending));
    } catch (error) {
      if (error instanceof StateMachineHaltedError) this.#recordOutcomes(pending, error.outcomesBefore);
      throw error;
    }
  }

  #recordOutcomes(pending: readonly Entry[], outcomes: readonly BatchOutcome[]): void {
    const firstIndex = (pending[0] as Entry).index;
    for (const outcome of outcomes) {
      if (outcome.skipped) continue;
      const entry = pending[outcome.entryIndex - firstIndex];
      if (entry === undefined || entry.index !== outcome.entryIndex) throw new Error(`assertion: outcome for entry ${outcome.entryIndex} not in the batch`);
      this.#recordApplied(entry, outcome.results);
    }
  }

  #assertNextToApply(index: number): void {
    if (index !== this.#stateMachine.appliedIndex + 1) {
      throw new Error(`assertion: applying ${index} after ${this.#stateMachine.appliedIndex}`);
    }
  }

  #recordApplied(entry: Entry, results: readonly StatementResult[]): void {
    this.#proposals.applied(entry.index, entry.term, { results, index: entry.index });
    this.#appliedWaiters.advance(entry.index);
  }

  #applyOne(entry: Entry): readonly StatementResult[] {
    const change = decodeConfChange(entry.data);
    this.#stateMachine.applyNoop(entry.index);
    this.#learnAddresses(change);
    if (change.type === 'remove-node') this.#forgetMember(change.nodeId);
    this.#logger.info({ event: 'membership-changed', change: change.type, node: change.nodeId, index: entry.index }, 'membership changed');
    return [];
  }

  #learnAddresses(change: ConfChange): void {
    if (change.type === 'remove-node') return;
    const addresses = decodeMemberContext(change.context);
    if (addresses !== undefined) this.#setMember(change.nodeId, addresses);
  }

  /** Records addresses learned from a peer (before a join, so replies can reach the leader). */
  learnMembers(members: Readonly<Record<NodeId, MemberAddresses>>): void {
    for (const [id, addresses] of Object.entries(members)) this.#setMember(id, addresses);
  }

  #setMember(id: NodeId, addresses: MemberAddresses): void {
    if (!this.members.set(id, addresses)) return;
    if (id !== this.config.nodeId) this.#transport.setPeer(id, addresses.raftAddress);
    this.members.persist();
  }

  #forgetMember(id: NodeId): void {
    if (id !== this.config.nodeId) this.#transport.removePeer(id);
    if (this.members.delete(id)) this.members.persist();
  }

  // ---------------------------------------------------------------------------
  // Snapshots
  // ---------------------------------------------------------------------------

  #checkSnapshotThreshold(): void {
    if (this.#stateMachine.appliedIndex - this.#lastSnapshotIndex < this.config.snapshotThresholdEntries) return;
    this.requestSnapshot();
  }

  /**
   * Starts a snapshot unless one is running. It runs beside the Ready loop (the state
   * machine copies the database off the event loop), so heartbeats and appends go on; the
   * copy reports the applied index it holds, and that index names the snapshot.
   */
  requestSnapshot(): void {
    if (this.#snapshotInFlight !== undefined || this.#core === undefined || this.#stopped) return;
    this.#snapshotInFlight = this.#snapshotSafely().finally(() => {
      this.#snapshotInFlight = undefined;
    });
  }

  /** A failed snapshot (disk full, say) is logged and tried again at the next interval; the log just stays longer. */
  async #snapshotSafely(): Promise<void> {
    try {
      await this.#takeSnapshot();
    } catch (error) {
      this.#logger.error({ event: 'snapshot-failed', error: String(error) }, 'snapshot failed; will retry');
    }
  }

  async #takeSnapshot(): Promise<void> {
    const core = this.#core;
    if (core === undefined || this.#stateMachine.appliedIndex <= this.#lastSnapshotIndex) return;
    const temporaryPath = join(this.config.dataDirectory, `snapshot-${process.pid}-${this.#stateMachine.appliedIndex}.tmp`);
    try {
      const copy = await this.#stateMachine.snapshot(temporaryPath);
      const index = copy.appliedIndex;
      // A snapshot installed from the leader meanwhile supersedes this copy.
      if (index <= this.#lastSnapshotIndex || this.#stopped) return;
      const metadata = { index, term: this.#storage.term(index), confState: core.confStateAt(index) };
      const writer = await this.#storage.snapshots.begin(metadata, this.members.toRecord());
      try {
        await rename(temporaryPath, writer.dataPath);
      } catch (error) {
        await writer.abort();
        throw error;
      }
      await writer.commit();
      this.#lastSnapshotIndex = index;
      await this.#compactLog(core, index - this.config.snapshotTrailingEntries);
      this.#logger.info({ event: 'snapshot', index, term: metadata.term }, 'snapshot taken');
    } finally {
      await rm(temporaryPath, { force: true });
    }
  }

  /**
   * Drops the log through `compactIndex`. The membership as of that index is saved first:
   * replaying conf changes over a newer base gives the same membership (each change sets
   * one node's role outright), so a crash between the two steps is harmless.
   */
  async #compactLog(core: RaftCore, compactIndex: number): Promise<void> {
    if (compactIndex < this.#storage.firstIndex()) return;
    await this.#storage.save({ confState: core.confStateAt(compactIndex) });
    await this.#storage.compact(compactIndex);
  }

  // ---------------------------------------------------------------------------
  // Leader-local operations
  // ---------------------------------------------------------------------------

  #requireCore(): RaftCore {
    if (this.#stopped) throw new ServiceError('UNAVAILABLE', 'node is shutting down');
    if (this.#core === undefined) throw new ServiceError('UNAVAILABLE', 'node has not joined a cluster yet');
    return this.#core;
  }

  #notLeaderError(message: string): ServiceError {
    const leader = this.#leaderId === '' || this.#leaderId === this.config.nodeId ? undefined : this.members.get(this.#leaderId);
    if (leader === undefined) return new ServiceError('NO_LEADER', 'leader not found');
    return new ServiceError('NOT_LEADER', message, { leaderApiAddress: `http://${leader.apiAddress}` });
  }

  #translateCoreError(error: unknown): Error {
    if (!(error instanceof RaftError)) return error instanceof Error ? error : new Error(String(error));
    switch (error.code) {
      case 'NOT_LEADER':
        return this.#notLeaderError('not the leader');
      case 'PROPOSAL_DROPPED':
      case 'READ_QUEUE_FULL':
      case 'CONF_CHANGE_PENDING':
        return new ServiceError('UNAVAILABLE', error.message, { cause: error });
      default:
        return new ServiceError('BAD_REQUEST', error.message, { cause: error });
    }
  }

  /** Proposes an encoded command (leader only) and resolves with its results once applied here. */
  async propose(data: Uint8Array, timeoutMs: number): Promise<ApplyOutcome> {
    this.#requireCore();
    if (data.byteLength > this.config.entryDataBytesMax) {
      throw new ServiceError('BAD_REQUEST', `write of ${data.byteLength} bytes exceeds the entry bound of ${this.config.entryDataBytesMax} bytes`);
    }
    if (this.#haltError !== undefined) throw new ServiceError('UNAVAILABLE', `node halted: ${this.#haltError.message}`);
    if (!this.#proposals.hasRoom()) throw new ServiceError('UNAVAILABLE', 'too many writes in flight');
    const position = this.#drive((core) => core.propose(data));
    return this.#withTimeout(this.#proposals.wait(position.index, position.term), timeoutMs, 'write');
  }

  /** Proposes a membership change (leader only) and resolves once it is applied here. */
  async proposeConfChange(change: ConfChange, timeoutMs: number): Promise<number> {
    const position = this.#drive((core) => core.proposeConfChange(change));
    this.#learnAddresses(change);
    await this.#withTimeout(this.#proposals.wait(position.index, position.term), timeoutMs, 'membership change');
    return position.index;
  }

  #withTimeout<Value>(promise: Promise<Value>, timeoutMs: number, what: string): Promise<Value> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new ServiceError('TIMEOUT', `${what} not applied within ${timeoutMs}ms`)), timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
  }

  /** Linearizable read barrier (leader only): ReadIndex, then wait for apply. */
  async readBarrier(timeoutMs: number): Promise<void> {
    const core = this.#requireCore();
    const read = this.#reads.start(timeoutMs);
    try {
      core.readIndex(read.context);
    } catch (error) {
      const translated = this.#translateCoreError(error);
      this.#reads.cancel(read.context, translated);
      await read.index.catch(() => undefined);
      throw translated;
    }
    this.#wake();
    const index = await read.index;
    await this.#appliedWaiters.wait(index, timeoutMs);
  }

  waitForApplied(index: number, timeoutMs: number): Promise<void> {
    return this.#appliedWaiters.wait(index, timeoutMs);
  }

  transferLeadership(to: NodeId): void {
    this.#drive((core) => core.transferLeadership(to));
  }

  /** Leader only: `id` came back with an empty log under the same id; replicate to it from scratch. */
  forgetFollowerLog(id: NodeId): void {
    this.#drive((core) => core.forgetFollowerLog(id));
  }

  /** Runs one input on the core, with its errors as ServiceErrors, and wakes the Ready loop. */
  #drive<Value>(input: (core: RaftCore) => Value): Value {
    const core = this.#requireCore();
    let value: Value;
    try {
      value = input(core);
    } catch (error) {
      throw this.#translateCoreError(error);
    }
    this.#wake();
    return value;
  }

  /** Calls `listener` after every change of leader or role; returns the function that unregisters it. */
  subscribeLeaderChanges(listener: () => void): () => void {
    this.#leaderListeners.add(listener);
    return () => {
      this.#leaderListeners.delete(listener);
    };
  }

  /** Resolves once `accept(leaderId)` holds; rejects with TIMEOUT after timeoutMs. */
  waitForLeaderChange(timeoutMs: number, accept: (leaderId: NodeId) => boolean): Promise<void> {
    if (accept(this.#leaderId)) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const listener = (): void => {
        if (!accept(this.#leaderId)) return;
        cleanup();
        resolve();
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new ServiceError('TIMEOUT', `leadership did not change within ${timeoutMs}ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#leaderListeners.delete(listener);
      };
      this.#leaderListeners.add(listener);
    });
  }

  /** A write's entry data: the statements with this leader's clock and a fresh 64-bit seed. */
  encodeCommandFor(statements: readonly Statement[], transaction: boolean, requestId: string | null): Uint8Array {
    const seed = (BigInt(Math.floor(this.#random() * 2 ** 32)) << 32n) | BigInt(Math.floor(this.#random() * 2 ** 32));
    return encodeCommand({
      statements,
      transaction,
      timestampMs: this.#now(),
      seed,
      ...(requestId === null ? {} : { requestId }),
    });
  }

  /** The members' addresses encoded for a conf change's context. */
  memberContext(addresses: MemberAddresses): Uint8Array {
    return encodeMemberContext(addresses);
  }

  // ---------------------------------------------------------------------------
  // Facts for status, routing and readiness
  // ---------------------------------------------------------------------------

  get stateMachine(): NodeStateMachine {
    return this.#stateMachine;
  }

  get storage(): NodeStorage {
    return this.#storage;
  }

  get transport(): NodeTransport {
    return this.#transport;
  }

  get isLeader(): boolean {
    return this.#role === 'leader' && this.#core !== undefined && !this.#stopped;
  }

  get leaderId(): NodeId {
    return this.#leaderId;
  }

  get role(): RaftRole | 'learner' {
    return this.#core?.status().role ?? 'follower';
  }

  get haltError(): Error | undefined {
    return this.#haltError;
  }

  get lastSnapshotIndex(): number {
    return this.#lastSnapshotIndex;
  }

  /** Milliseconds since this node last heard from a leader (0 on the leader itself). */
  leaderContactAgeMs(): number {
    if (this.isLeader) return 0;
    if (this.#lastLeaderContactMs === 0) return Number.POSITIVE_INFINITY;
    return this.#now() - this.#lastLeaderContactMs;
  }

  coreStatus(): ReturnType<RaftCore['status']> | undefined {
    return this.#core?.status();
  }

  /** The current membership (including changes appended but not yet applied). */
  confState(): ConfState {
    return this.#core?.status().confState ?? this.#storage.initialState().confState;
  }

  isVoter(id: NodeId = this.config.nodeId): boolean {
    return this.confState().voters.includes(id);
  }

  isMember(id: NodeId): boolean {
    const confState = this.confState();
    return confState.voters.includes(id) || confState.learners.includes(id);
  }
}
