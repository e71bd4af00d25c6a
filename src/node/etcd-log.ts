/**
 * `ReplicatedLog` over etcd (`serve --consensus etcd`): etcd is the consensus; every node
 * applies the log etcd holds to its own SQLite. docs/ARCHITECTURE.md ("etcd as the log")
 * has the design; the parts:
 *
 * - etcd-keys.ts: the key layout and the entry encoding (the fencing token in each entry).
 * - etcd-session.ts: the node's lease, its registration, leadership (the leader key).
 * - etcd-appends.ts: the leader's fenced, batched appends.
 * - etcd-apply.ts: every node applies the log in index order, exactly once.
 * - etcd-compaction.ts: the leader deletes entries every member applied.
 *
 * Reads: `none` is local; `weak` is served by the node that holds the leader key within
 * its lease; `linearizable` (the read barrier) asks etcd for the log's last index with a
 * quorum read and waits until it applied here, on any node.
 */
import type { Etcd3 } from 'etcd3';
import type { ConfState, NodeId } from '../raft/types.js';
import { ServiceError } from '../service/service.js';
import { AppliedWaiters } from './applied-waiters.js';
import type { NodeConfig } from './config.js';
import { EtcdApplier } from './etcd-apply.js';
import { batchBytesMax, EtcdAppends } from './etcd-appends.js';
import { EtcdCompaction } from './etcd-compaction.js';
import { etcdKeys, type EtcdKeys } from './etcd-keys.js';
import { entryFromKeyValue } from './etcd-apply.js';
import { EtcdReadRounds, readLastIndex } from './etcd-reads.js';
import { EtcdSession } from './etcd-session.js';
import type { MemberAddressBook } from './members.js';
import type { NodeLogger } from './logger.js';
import type { NodeStateMachine } from './ports.js';
import { leaderChangeWithin } from './leader-wait.js';
import { HaltHandOverPacing } from './halt.js';
import { haltedError, type ApplyOutcome, type LogPosition, type ReadBarrierCounts, type ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';
import type { Watcher } from 'etcd3';

interface EtcdLogOptions {
  readonly config: NodeConfig;
  readonly client: Etcd3;
  /** The key prefix this cluster's log lives under in etcd. */
  readonly prefix: string;
  readonly stateMachine: NodeStateMachine;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
  /** The session lease's TTL: a leader that stops (crash, pause, partition) is replaced this long after its last keep-alive. */
  readonly leaseTtlSeconds: number;
  /**
   * How often the lease bound is checked, and how often the leader key is read while
   * something is amiss (etcd does not answer, no leader is known, no lease is held).
   * Otherwise the leader key (each answer renews this node's contact with the leader,
   * which readiness and `freshness` read), the log's end, the members and this node's
   * applied report are read or written every `logPollIntervalMs` (their watches carry
   * changes at once), and contact is asked for on demand when a read needs it fresher.
   */
  readonly pollIntervalMs: number;
  /** Compaction passes a member more than this many entries behind the leader (it then catches up from a snapshot). */
  readonly compactionLagEntryCountMax: number;
  /** A node too far behind the compacted log brings its state past `firstIndex` (a snapshot from the leader). */
  readonly catchUp?: (firstIndex: number) => Promise<void>;
}

/**
 * The slower half of the poll: the leader key (its watch may miss a change across a reconnect), the log's end (the same;
 * a read barrier reads it too), the members and this node's applied report. Reading all of them at every poll (10 a second
 * at the default heartbeat) kept an idle 3-node cluster and its etcd at about half a core, and the leader key alone at a
 * fifth of one, slowing whatever else ran on the machine (bench/README.md, issue 16).
 */
const logPollIntervalMs = 1_000;
/** Reads of the leader key in flight at once, at most (one per timer tick; the next tick waits when this many are out). */
export const leaderRefreshCountMax = 4;

interface LeaderRead {
  readonly done: Promise<void>;
  readonly startedMs: number;
  pending: boolean;
}

export class EtcdLog implements ReplicatedLog {
  readonly #options: EtcdLogOptions;
  readonly #keys: EtcdKeys;
  readonly #session: EtcdSession;
  readonly #applier: EtcdApplier;
  readonly #appends: EtcdAppends;
  readonly #reads: EtcdReadRounds;
  readonly #compaction: EtcdCompaction;
  readonly #waiters: AppliedWaiters;
  readonly #listeners = new Set<() => void>();
  #logWatch: Watcher | undefined;
  #pollTimer: ScheduledTimer | undefined;
  /** The newest read of the leader key, the poll's or an ask's: the poll's cadence counts from it, and asks join it while it is pending. */
  #newestLeaderRead: LeaderRead = { done: Promise.resolve(), startedMs: -Infinity, pending: false };
  /** The term this node leads and is ready to serve (it applied the log's end as of its election); 0 otherwise. */
  #readyTerm = 0;
  #preparingTerm = 0;
  #lastNotified = '';
  #lastLeaderContactMs = -Infinity;
  #reportedApplied = -1;
  /** Reads of the leader key in flight (at most leaderRefreshCountMax). */
  #leaderRefreshCount = 0;
  /** A read of the log's end is running: the timer does not start another beside it. */
  #pollingLog = false;
  /** When the last read of the log's end that etcd answered started (monotonic ms). */
  #lastLogPollMs = Number.NEGATIVE_INFINITY;
  #etcdHealthy = true;
  #started = false;
  #stopped = false;
  readonly #haltResigns = new HaltHandOverPacing();

  constructor(options: EtcdLogOptions) {
    this.#options = options;
    const { client, scheduler, logger, config, stateMachine } = options;
    const keys = etcdKeys(options.prefix);
    this.#keys = keys;
    this.#waiters = new AppliedWaiters(stateMachine.appliedIndex, config.appliedWaiterCountMax, scheduler);
    this.#session = new EtcdSession(
      {
        nodeId: config.nodeId,
        addresses: { raftAddress: config.raftAdvertisedAddress, apiAddress: config.apiAdvertisedAddress },
        voter: !config.nonVoter,
        leaseTtlSeconds: options.leaseTtlSeconds,
        resignPauseMs: options.leaseTtlSeconds * 1000,
      },
      { client, keys, scheduler, logger, onChange: () => this.#leadershipChanged() },
    );
    this.#appends = new EtcdAppends({
      client,
      keys,
      logger,
      onAppended: (entries) => this.#applier.offer(entries),
      onAppendFailed: () => this.#reprepare(),
    });
    this.#applier = new EtcdApplier({
      client,
      keys,
      stateMachine,
      scheduler,
      logger,
      haltRetryIntervalMs: config.haltRetryIntervalMs,
      onApplied: (entry, results) => {
        this.#appends.applied(entry, results);
        this.#waiters.advance(entry.index);
      },
      catchUp: (firstIndex) => this.#catchUp(firstIndex),
      onHalt: (attempt) => this.#resignWhileHalted(attempt),
    });
    this.#reads = new EtcdReadRounds({ client, keys, scheduler, knownIndex: () => this.appliedIndex });
    this.#compaction = new EtcdCompaction({
      client,
      keys,
      logger,
      trailingEntries: config.snapshotTrailingEntries,
      lagEntryCountMax: options.compactionLagEntryCountMax,
    });
  }

  /** Joins the cluster in etcd: opens the session, watches the log, catches up, campaigns if no one leads. */
  async start(): Promise<void> {
    const { client } = this.#options;
    this.#logWatch = await client.watch().prefix(this.#keys.logPrefix).create();
    this.#logWatch.on('put', (kv) => this.#applier.offer([entryFromKeyValue(this.#keys, kv.key, kv.value)]));
    await this.#session.start();
    this.#started = true;
    await this.#pollLog(this.#options.scheduler.monotonicMs());
    this.#pollTimer = this.#options.scheduler.setInterval(() => void this.#poll(), this.#options.pollIntervalMs);
    this.#leadershipChanged();
  }

  /**
   * The timer's poll: the lease bound every time; the leader key, the log's end and the
   * members once a second, or at every poll while something is amiss (etcd does not
   * answer, no leader is known, no lease is held). A read's `freshness` or readiness that
   * needs fresher contact asks for it (refreshLeaderContact).
   */
  #poll(): void {
    if (this.#stopped) return;
    this.#session.checkLease();
    const nowMs = this.#options.scheduler.monotonicMs();
    const amiss = !this.#etcdHealthy || this.#session.leaderId === '' || !this.#session.holdsLease;
    if (amiss || nowMs - this.#newestLeaderRead.startedMs >= logPollIntervalMs) void this.#refreshLeader();
    if (!this.#pollingLog && (!this.#etcdHealthy || nowMs - this.#lastLogPollMs >= logPollIntervalMs)) void this.#pollLog(nowMs);
  }

  /** Reads the leader key now, or joins the read in flight if it started less than a poll ago (an older one may wait on a hung member). */
  refreshLeaderContact(): Promise<void> {
    const newest = this.#newestLeaderRead;
    if (newest.pending && this.#options.scheduler.monotonicMs() - newest.startedMs < this.#options.pollIntervalMs) return newest.done;
    return this.#refreshLeader();
  }

  /**
   * Reads the leader key again. Several at once, bounded: a call that picks a hung etcd member waits out its deadline, and the
   * others renew the contact meanwhile; at the bound, none starts and the newest in flight stands for it.
   */
  #refreshLeader(): Promise<void> {
    if (this.#leaderRefreshCount >= leaderRefreshCountMax) return this.#newestLeaderRead.done;
    this.#leaderRefreshCount += 1;
    const startedMs = this.#options.scheduler.monotonicMs();
    const done = this.#session
      .refreshLeader()
      .then(
        () => this.#answered(),
        (error: unknown) => this.#unanswered(error),
      )
      .finally(() => {
        this.#leaderRefreshCount -= 1;
        read.pending = false; // set below: refreshLeader is async, so this runs later
      });
    const read: LeaderRead = { done, startedMs, pending: true };
    this.#newestLeaderRead = read;
    return done;
  }

  /** The log's end (a watch may miss entries across a reconnect), the members, this node's applied report, compaction on the leader. */
  async #pollLog(startedMs: number): Promise<void> {
    this.#pollingLog = true;
    try {
      await this.#session.refreshMembers();
      this.#applier.noteLastIndex(await readLastIndex(this.#options.client, this.#keys, this.appliedIndex));
      this.#answered();
      await this.#reportApplied();
      if (this.isLeader) await this.#compaction.maybeCompact(this.#compactionView());
      this.#lastLogPollMs = startedMs;
    } catch (error) {
      this.#unanswered(error);
    } finally {
      this.#pollingLog = false;
    }
  }

  #answered(): void {
    this.#etcdHealthy = true;
    if (this.#session.leaderId !== '') this.#lastLeaderContactMs = this.#options.scheduler.monotonicMs();
    // etcd answers: a preparation that failed (etcd unreachable then) is retried here, or the node would hold the key unready.
    this.#leadershipChanged();
  }

  #unanswered(error: unknown): void {
    this.#etcdHealthy = false;
    this.#options.logger.debug({ event: 'etcd-poll-failed', error: String(error) }, 'etcd poll failed');
  }

  async #reportApplied(): Promise<void> {
    const applied = this.appliedIndex;
    if (applied === this.#reportedApplied) return;
    await this.#session.reportApplied(applied);
    this.#reportedApplied = applied;
  }

  #compactionView(): Parameters<EtcdCompaction['maybeCompact']>[0] {
    const members = this.confState();
    return {
      term: this.#readyTerm,
      appliedIndex: this.appliedIndex,
      memberIds: [...members.voters, ...members.learners],
      thresholdEntries: this.#options.config.snapshotThresholdEntries,
      reports: () => this.#session.appliedReports(),
    };
  }

  /** The next entry was compacted away: a copy of the leader's database moves the applied index past it. */
  async #catchUp(firstIndex: number): Promise<void> {
    const catchUp = this.#options.catchUp;
    if (catchUp === undefined) throw new ServiceError('UNAVAILABLE', `entries before ${firstIndex} were compacted away and no catch-up is configured`);
    await catchUp(firstIndex);
    this.#waiters.advance(this.appliedIndex);
  }

  // Leadership ---------------------------------------------------------------

  #leadershipChanged(): void {
    const session = this.#session;
    if (!session.leading && this.#readyTerm !== 0) {
      const why = session.leaderId === this.#options.config.nodeId ? 'the lease is not known to be alive' : 'another node holds the leader key';
      this.#options.logger.warn({ event: 'etcd-leading-ended', term: this.#readyTerm, why }, 'stopped leading');
      this.#readyTerm = 0;
      this.#appends.abandon(new ServiceError('UNAVAILABLE', 'leadership lost before the write was appended; retry'));
    }
    if (session.leading && this.#readyTerm !== session.term && this.#preparingTerm !== session.term) void this.#prepare(session.term);
    if (session.leaderId !== '') this.#lastLeaderContactMs = this.#options.scheduler.monotonicMs();
    this.#notifyListeners();
  }

  /** A new leadership: read the log's end, apply up to it, then serve (a weak read on the new leader sees every earlier write). */
  async #prepare(term: number): Promise<void> {
    this.#preparingTerm = term;
    try {
      const last = await readLastIndex(this.#options.client, this.#keys, this.appliedIndex);
      this.#applier.noteLastIndex(last);
      await this.#waiters.wait(last, this.#options.config.applyTimeoutMs);
      if (this.#session.leading && this.#session.term === term) {
        this.#readyTerm = term;
        this.#appends.lead(term, last);
        this.#options.logger.info({ event: 'etcd-leader-ready', term, lastIndex: last }, 'leading: appends to the etcd log start');
      }
    } catch (error) {
      this.#options.logger.warn({ event: 'etcd-prepare-failed', term, error: String(error) }, 'could not take up leadership yet; retrying at the next poll');
    } finally {
      this.#preparingTerm = 0;
      this.#notifyListeners();
    }
  }

  /** An append failed: read the leader key again; if this node still leads, read the log's end before appending. */
  #reprepare(): void {
    this.#readyTerm = 0;
    this.#notifyListeners();
    void this.#refreshLeader().finally(() => this.#leadershipChanged());
  }

  #notifyListeners(): void {
    const fingerprint = `${this.leaderId}/${this.isLeader}`;
    if (fingerprint === this.#lastNotified) return;
    this.#lastNotified = fingerprint;
    for (const listener of [...this.#listeners]) listener();
  }

  get isLeader(): boolean {
    return this.#readyTerm !== 0 && this.#session.leading && this.#session.term === this.#readyTerm;
  }

  /** '' while no leader is known — and while this node holds the key but is not ready yet (requests must not be forwarded to itself). */
  get leaderId(): NodeId {
    const id = this.#session.leaderId;
    if (id === this.#options.config.nodeId && !this.isLeader) return '';
    return id;
  }

  get role(): 'leader' | 'follower' | 'learner' {
    if (this.isLeader) return 'leader';
    return this.#options.config.nonVoter ? 'learner' : 'follower';
  }

  leaderContactAgeMs(): number {
    if (this.isLeader) return 0;
    return this.#options.scheduler.monotonicMs() - this.#lastLeaderContactMs;
  }

  subscribeLeaderChanges(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitForLeaderChange(timeoutMs: number, accept: (leaderId: NodeId) => boolean): Promise<void> {
    return leaderChangeWithin(this, this.#options.scheduler, timeoutMs, accept);
  }

  mostCaughtUpVoter(): NodeId | undefined {
    return this.confState().voters.find((id) => id !== this.#options.config.nodeId);
  }

  /**
   * As a halted Raft leader hands over (leadership.ts): a leader whose apply has failed
   * twice in a row for an environmental reason resigns the key, so a node that can apply
   * leads; its session then waits before campaigning again. Paced by HaltHandOverPacing.
   */
  #resignWhileHalted(attempt: number): void {
    if (!this.isLeader || !this.#haltResigns.due(attempt, this.#options.scheduler.monotonicMs())) return;
    this.#options.logger.warn({ event: 'leadership-transfer', to: '', reason: 'halted' }, 'halted: resigning the etcd leader key');
    void this.#session.resign().catch(() => undefined);
  }

  /** Resigns the leader key; whichever voter creates it first leads next (etcd has no hand-over to a chosen node). */
  transferLeadership(to: NodeId): void {
    this.#options.logger.info({ event: 'etcd-resign', to }, 'resigning the etcd leader key');
    void this.#session.resign().catch(() => undefined);
  }

  // Proposing and reading ----------------------------------------------------

  get appliedIndex(): number {
    return this.#options.stateMachine.appliedIndex;
  }

  async propose(command: Uint8Array, timeoutMs: number): Promise<ApplyOutcome> {
    const config = this.#options.config;
    this.#refuseIfHalted();
    const entryBytesMax = Math.min(config.entryDataBytesMax, batchBytesMax);
    if (command.byteLength > entryBytesMax)
      throw new ServiceError('BAD_REQUEST', `write of ${command.byteLength} bytes exceeds the entry bound of ${entryBytesMax} bytes`);
    if (!this.isLeader) throw this.#notLeaderError();
    if (this.#appends.queuedCount >= config.pendingProposalCountMax) throw new ServiceError('UNAVAILABLE', 'too many writes in flight');
    const { promise, cancel } = this.#appends.enqueue(command);
    return this.#withTimeout(promise, timeoutMs, 'write', cancel);
  }

  #notLeaderError(): ServiceError {
    const leader = this.leaderId === '' ? undefined : this.members.get(this.leaderId);
    if (leader === undefined) return new ServiceError('NO_LEADER', 'leader not found');
    return new ServiceError('NOT_LEADER', 'not the leader', { leaderApiAddress: `${this.#options.config.apiScheme}://${leader.apiAddress}` });
  }

  waitForApplied(index: number, timeoutMs: number): Promise<void> {
    if (index > this.appliedIndex && this.haltError !== undefined) return Promise.reject(haltedError(this.haltError));
    return this.#waiters.wait(index, timeoutMs);
  }

  async readBarrier(timeoutMs: number): Promise<number> {
    this.#refuseIfHalted();
    const index = await this.#withTimeout(this.#reads.join(), timeoutMs, 'read barrier', () => undefined);
    this.#applier.noteLastIndex(index);
    await this.#waiters.wait(index, timeoutMs);
    return index;
  }

  readBarrierCounts(): ReadBarrierCounts {
    return this.#reads.counts;
  }

  #refuseIfHalted(): void {
    if (this.haltError !== undefined) throw haltedError(this.haltError);
  }

  #withTimeout<Value>(promise: Promise<Value>, timeoutMs: number, what: string, cancel: () => void): Promise<Value> {
    let timer: ScheduledTimer | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = this.#options.scheduler.setTimeout(() => {
        cancel();
        reject(new ServiceError('TIMEOUT', `${what} not applied within ${timeoutMs}ms`));
      }, timeoutMs);
    });
    return Promise.race([promise, timeout]).finally(() => timer?.cancel());
  }

  // Membership, position, health ----------------------------------------------

  get members(): MemberAddressBook & { subscribe(listener: () => void): void } {
    return this.#session.members;
  }

  confState(): ConfState {
    return this.#session.members.confState();
  }

  isVoter(id: NodeId = this.#options.config.nodeId): boolean {
    if (id === this.#options.config.nodeId) return !this.#options.config.nonVoter;
    return this.confState().voters.includes(id);
  }

  isMember(id: NodeId): boolean {
    return this.#session.members.has(id);
  }

  position(): LogPosition {
    const known = this.#applier.knownLastIndex;
    return {
      term: this.#session.term,
      commitIndex: known,
      appliedIndex: this.appliedIndex,
      firstIndex: this.#compaction.firstIndex,
      lastIndex: known,
      lastSnapshotIndex: 0,
      latestSnapshot: undefined,
    };
  }

  get started(): boolean {
    return this.#started;
  }

  get stopped(): boolean {
    return this.#stopped;
  }

  get haltError(): Error | undefined {
    return this.#applier.haltError;
  }

  /** False while etcd does not answer this node's polls. */
  get logStoreHealthy(): boolean {
    return this.#etcdHealthy;
  }

  /** `/snapshot` on the etcd log: compacts now what every member applied (each node's SQLite is its own snapshot). */
  async snapshotNow(trailingEntries: number): Promise<boolean> {
    if (!this.isLeader) return false;
    return this.#compaction.maybeCompact({ ...this.#compactionView(), thresholdEntries: 1, trailingEntries });
  }

  /** `/reap`: nothing to reap (no snapshot files are kept). */
  reapSnapshots(): Promise<{ readonly snapshotsReaped: number; readonly walsCheckpointed: number }> {
    return Promise.resolve({ snapshotsReaped: 0, walsCheckpointed: 0 });
  }

  /** Stops: a leader resigns first when asked (the next leader takes over without waiting out the lease), then everything waiting fails. */
  async stop(options: { transferLeadership: boolean } = { transferLeadership: true }): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#pollTimer?.cancel();
    await this.#logWatch?.cancel().catch(() => undefined);
    await this.#session.stop({ resign: options.transferLeadership });
    await this.#applier.stop();
    const stopping = new ServiceError('UNAVAILABLE', 'node is shutting down');
    this.#appends.failAll(stopping);
    this.#waiters.failAll(stopping);
    this.#options.logger.info({ event: 'stop' }, 'etcd log stopped');
  }
}
