/**
 * The Raft protocol as a pure state machine (in the style of etcd-io/raft). Inputs come
 * through tick(), step() and the proposal methods; outputs accumulate in `messages`,
 * `readStates` and `failedReads`, and in the log, for RawNode to hand out in Ready.
 *
 * This class holds the state and the role transitions. The protocol lives in one file
 * per concern, as functions over this state (etcd's step functions over *raft):
 * raft-step.ts (every message enters there), raft-election.ts, raft-follower.ts,
 * raft-leader.ts, raft-replication.ts, leader-reads.ts, leadership-transfer.ts,
 * raft-proposals.ts and raft-membership.ts. Only src/raft sees this class (RawNode
 * wraps it), so its state is open to those files.
 *
 * Membership follows the Raft dissertation §4.1: a change takes effect on each server
 * as soon as its entry is in that server's log, and reverts if the entry is truncated.
 */
import { validateConfig } from './config.js';
import type { ValidatedConfig } from './config.js';
import { compareIds } from './conf-change.js';
import { ConfHistory } from './conf-history.js';
import { RaftError, assert } from './errors.js';
import { ForwardedReads, failForwardedReads, readIndexAnywhere } from './follower-reads.js';
import { failPendingReads, readIndex } from './leader-reads.js';
import { abortLeaderTransfer, stepDown, successor, transferLeadership } from './leadership-transfer.js';
import { emptyBytes } from './message-shape.js';
import type { Progress } from './progress.js';
import { hup, tickElection } from './raft-election.js';
import { forgetFollowerLog, onEntriesPersisted, reportSnapshot, reportUnreachable, tickHeartbeat } from './raft-leader.js';
import { loadConfChangesFromLog, newProgress, syncProgressWithMembership } from './raft-membership.js';
import { appendEntries, propose, proposeConfChange, reduceUncommittedBytes } from './raft-proposals.js';
import { flushAppends, flushReadRound, hedgeReadRound, readRoundDue, readRoundToHedge } from './raft-replication.js';
import { step } from './raft-step.js';
import { RaftLog } from './raft-log.js';
import { ReadIndexQueue } from './read-index.js';
import type { ConfChange, ConfState, Entry, Message, MessageType, NodeId, RaftConfig, RaftRole, RaftStatus, ReadState } from './types.js';

export class Raft {
  readonly id: NodeId;
  readonly config: ValidatedConfig;
  readonly log: RaftLog;
  term = 0;
  vote: NodeId = '';
  leaderId: NodeId = '';
  role: RaftRole = 'follower';
  confState: ConfState;
  /** Membership as of the log's start and after each conf-change entry in the log. */
  readonly confHistory: ConfHistory;
  readonly progress = new Map<NodeId, Progress>();
  readonly votes = new Map<NodeId, boolean>();
  messages: Message[] = [];
  readStates: ReadState[] = [];
  failedReads: Uint8Array[] = [];
  leadTransferee: NodeId = '';
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  electionElapsedTicks = 0;
  heartbeatElapsedTicks = 0;
  randomizedElectionTimeoutTicks = 0;
  /** The last election-timeout draw in [0, 1), reused when a node becomes a (pre-)candidate. */
  #electionJitter = 0;
  /** Ticks since this core started; only for leases. */
  tickCount = 0;
  /** A TimeoutNow went out this term: the lease can no longer be trusted. */
  timeoutNowSentThisTerm = false;
  readonly reads = new ReadIndexQueue();
  /** A follower's reads waiting for the leader's MsgReadIndexResp. */
  readonly forwardedReads = new ForwardedReads();
  /** Messages dropped because queuedMessageCountMax were waiting; reset when ready() takes the queue. */
  droppedMessageCount = 0;
  /** Proposals were appended since the last broadcast (see flushAppends). */
  appendsToFlush = false;
  /** Reads arrived that no heartbeat round has carried yet (see flushReadRound). */
  readRoundToSend = false;
  /** The commit index moved since the last broadcast: the next append or heartbeat carries it, at the latest on the next tick (see announceCommit). */
  commitToAnnounce = false;

  constructor(rawConfig: RaftConfig) {
    this.config = validateConfig(rawConfig);
    this.id = this.config.id;
    this.log = new RaftLog(this.config.storage, this.config.applied);
    const { hardState, confState } = this.config.storage.initialState();
    const baseIndex = this.log.firstIndex() - 1;
    this.confHistory = new ConfHistory(baseIndex, confState);
    this.confState = this.confHistory.latest();
    loadConfChangesFromLog(this, baseIndex + 1);
    if (hardState.vote !== '' && hardState.term === 0) {
      throw new RaftError('INVALID_CONFIG', `storage's hard state has a vote but term 0`);
    }
    this.becomeFollower(hardState.term, '');
    this.vote = hardState.vote;
  }

  // ------------------------------------------------------------------ inputs (RawNode calls these)

  tick(): void {
    this.tickCount++;
    if (this.role === 'leader') tickHeartbeat(this);
    else tickElection(this);
  }

  step(message: Message): void {
    step(this, message);
  }

  /** Starts an election (pre-vote first when configured) unless leader or not a voter. */
  hup(transfer: boolean): void {
    hup(this, transfer);
  }

  propose(data: Uint8Array): { index: number; term: number } {
    return propose(this, data);
  }

  proposeConfChange(change: ConfChange): { index: number; term: number } {
    return proposeConfChange(this, change);
  }

  readIndex(context: Uint8Array): void {
    readIndex(this, context);
  }

  /** A read point on any node: the leader's own, or asked of the leader (follower-reads.ts). */
  readIndexAnywhere(context: Uint8Array): void {
    readIndexAnywhere(this, context);
  }

  transferLeadership(to: NodeId): void {
    transferLeadership(this, to);
  }

  /** Graceful step-down: hand leadership to the most caught-up voter. Returns it. */
  stepDown(): NodeId {
    return stepDown(this);
  }

  /** The voter a hand-over should go to (see leadership-transfer.ts); undefined on a non-leader. */
  successor(): NodeId | undefined {
    return successor(this);
  }

  forgetFollowerLog(id: NodeId): void {
    forgetFollowerLog(this, id);
  }

  reportUnreachable(id: NodeId): void {
    reportUnreachable(this, id);
  }

  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void {
    reportSnapshot(this, id, status);
  }

  /** The runtime persisted entries up to `index` (of term `term`): the leader may now count its own copy. */
  onEntriesPersisted(index: number, term: number): void {
    onEntriesPersisted(this, index, term);
  }

  /** Sends the proposals appended, and one heartbeat round for the reads arrived, since the last Ready turn (see raft-replication.ts). */
  flushAppends(): void {
    flushAppends(this);
    flushReadRound(this);
  }

  /** Reads wait for a heartbeat round and none is in flight: the next Ready starts one. */
  readRoundDue(): boolean {
    return readRoundDue(this);
  }

  /** The read round in flight when it skipped some voters, else 0 (see hedgeReadRound). */
  readRoundToHedge(): number {
    return readRoundToHedge(this);
  }

  /** Asks the voters read round `round` skipped, if it is still in flight. */
  hedgeReadRound(round: number): void {
    hedgeReadRound(this, round);
  }

  /** Bytes of committed entries were applied: they no longer count as uncommitted. */
  reduceUncommittedBytes(entries: readonly Entry[]): void {
    reduceUncommittedBytes(this, entries);
  }

  // ------------------------------------------------------------------ membership

  isVoter(): boolean {
    return this.confState.voters.includes(this.id);
  }

  /** Membership as of `index` (>= the start of the log the core knows). */
  confStateAt(index: number): ConfState {
    return this.confHistory.at(index);
  }

  /**
   * Forgets membership history no longer needed: confStateAt() stays answerable for every
   * index from the log's start (firstIndex - 1, where a compaction may cut) and from the
   * applied index on, so the history is bounded by the conf changes in the log.
   */
  trimConfHistory(): void {
    this.confHistory.trim(Math.min(this.log.applied, this.log.firstIndex() - 1));
  }

  // ------------------------------------------------------------------ role changes

  #reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = '';
    }
    this.leaderId = '';
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.#resetRandomizedElectionTimeout();
    abortLeaderTransfer(this);
    this.votes.clear();
    this.progress.clear();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.timeoutNowSentThisTerm = false;
    this.appendsToFlush = false;
    this.readRoundToSend = false;
    this.commitToAnnounce = false;
    failPendingReads(this);
    failForwardedReads(this);
  }

  #resetRandomizedElectionTimeout(): void {
    const sample = this.config.random();
    assert(sample >= 0 && sample < 1, `config.random() returned ${sample}, outside [0, 1)`);
    this.#electionJitter = sample;
    this.randomizedElectionTimeoutTicks = this.config.electionTicks + Math.floor(sample * this.config.electionTicks);
  }

  /**
   * A (pre-)candidate waits candidateElectionTicks, with the jitter already drawn: no new
   * draw, so a seed replays the same history whatever the setting, and with the default
   * (candidateElectionTicks = electionTicks) nothing changes at all.
   */
  #useCandidateElectionTimeout(): void {
    const base = this.config.candidateElectionTicks;
    this.randomizedElectionTimeoutTicks = base + Math.floor(this.#electionJitter * base);
  }

  becomeFollower(term: number, leaderId: NodeId): void {
    this.#reset(term);
    this.role = 'follower';
    this.leaderId = leaderId;
    this.emit('became-follower', { leaderId });
  }

  becomePreCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> pre-candidate');
    // A pre-candidate changes neither term nor vote (that is the point of pre-vote).
    this.votes.clear();
    failForwardedReads(this);
    this.role = 'pre-candidate';
    this.leaderId = '';
    this.#useCandidateElectionTimeout();
    this.emit('became-pre-candidate', {});
  }

  becomeCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> candidate');
    this.#reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.#useCandidateElectionTimeout();
    this.emit('became-candidate', {});
  }

  becomeLeader(): void {
    assert(this.role === 'candidate', `invalid transition ${this.role} -> leader`);
    this.#reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    syncProgressWithMembership(this);
    for (const progress of this.progress.values()) progress.recentActive = false;
    const self = this.progress.get(this.id) ?? newProgress(this, this.log.lastIndex() + 1, false);
    this.progress.set(this.id, self);
    self.match = this.log.persistedLastIndex();
    self.becomeReplicate();
    self.next = this.log.lastIndex() + 1;
    self.recentActive = true;
    for (const progress of this.progress.values()) progress.next = this.log.lastIndex() + 1;
    // Raft §5.4.2/§8: an empty entry of the new term lets earlier entries commit.
    this.pendingConfIndex = this.log.lastIndex();
    appendEntries(this, [{ type: 'normal', data: emptyBytes }]);
    this.emit('became-leader', {});
  }

  requireLeader(what: string): void {
    if (this.role !== 'leader') {
      throw new RaftError('NOT_LEADER', `${what}: ${this.id} is not the leader`, { leaderId: this.leaderId });
    }
  }

  // ------------------------------------------------------------------ status

  status(): RaftStatus {
    const progress: Record<NodeId, ReturnType<Progress['toStatus']>> = {};
    if (this.role === 'leader') {
      for (const id of [...this.progress.keys()].sort(compareIds)) {
        const item = this.progress.get(id);
        if (item !== undefined) progress[id] = item.toStatus();
      }
    }
    const isLearner = this.confState.learners.includes(this.id);
    return {
      id: this.id,
      role: isLearner && this.role !== 'leader' ? 'learner' : this.role,
      term: this.term,
      vote: this.vote,
      leaderId: this.leaderId,
      commit: this.log.committed,
      applied: this.log.applied,
      lastIndex: this.log.lastIndex(),
      confState: this.confState,
      progress,
      leadTransferee: this.leadTransferee,
    };
  }

  // ------------------------------------------------------------------ outputs

  send(fields: Partial<Message> & { type: MessageType; to: NodeId }): void {
    if (this.messages.length >= this.config.queuedMessageCountMax && fields.type !== 'MsgSnap') {
      // The runtime is not calling ready(): behave like a lossy network, which Raft tolerates.
      // (A MsgSnap is kept: the leader waits for its reportSnapshot.)
      this.droppedMessageCount++;
      if (this.droppedMessageCount === 1) this.emit('message-queue-full', { queuedMessageCountMax: this.config.queuedMessageCountMax });
      return;
    }
    this.messages.push({
      type: fields.type,
      from: this.id,
      to: fields.to,
      term: fields.term ?? this.term,
      logTerm: fields.logTerm ?? 0,
      index: fields.index ?? 0,
      entries: fields.entries ?? [],
      commit: fields.commit ?? 0,
      reject: fields.reject ?? false,
      rejectHint: fields.rejectHint ?? 0,
      context: fields.context ?? emptyBytes,
      ...(fields.snapshot === undefined ? {} : { snapshot: fields.snapshot }),
    });
  }

  emit(event: string, detail: Record<string, unknown>): void {
    this.config.logger?.({ ...detail, event, id: this.id, term: this.term });
  }
}
