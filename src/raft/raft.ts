/**
 * The Raft protocol as a pure state machine (in the style of etcd-io/raft). Inputs come
 * through tick(), step() and the proposal methods; outputs accumulate in `messages`,
 * `readStates` and `failedReads`, and in the log, for RawNode to hand out in Ready.
 *
 * Membership follows the Raft dissertation §4.1: a change takes effect on each server
 * as soon as its entry is in that server's log, and reverts if the entry is truncated.
 */
import { validateConfig } from './config.js';
import type { ValidatedConfig } from './config.js';
import { compareIds, confChangeProblem, encodeConfChange } from './conf-change.js';
import { ConfHistory } from './conf-history.js';
import { RaftError, assert } from './errors.js';
import { entriesBytes } from './log-unstable.js';
import { Inflights, Progress } from './progress.js';
import { hasQuorum, majorityCommitIndex, voteResult } from './quorum.js';
import { RaftLog } from './raft-log.js';
import { ReadIndexQueue, bytesEqual } from './read-index.js';
import { MESSAGE_TYPES, RaftStorageError } from './types.js';
import type {
  ConfChange,
  ConfState,
  Entry,
  EntryType,
  Message,
  MessageType,
  NodeId,
  RaftConfig,
  RaftRole,
  RaftStatus,
  ReadState,
  Snapshot,
} from './types.js';

/** The context of a vote caused by leadership transfer: it overrides leader stickiness. */
export const CAMPAIGN_TRANSFER_CONTEXT: Uint8Array = new TextEncoder().encode('campaign-transfer');
const EMPTY_BYTES = new Uint8Array(0);

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
  private readonly confHistory: ConfHistory;
  readonly progress = new Map<NodeId, Progress>();
  private readonly votes = new Map<NodeId, boolean>();
  messages: Message[] = [];
  readStates: ReadState[] = [];
  failedReads: Uint8Array[] = [];
  leadTransferee: NodeId = '';
  pendingConfIndex = 0;
  uncommittedBytes = 0;
  electionElapsed = 0;
  private heartbeatElapsed = 0;
  private randomizedElectionTimeout = 0;
  /** Ticks since this core started; only for leases. */
  private tickCount = 0;
  /** A TimeoutNow went out this term: the lease can no longer be trusted. */
  private timeoutNowSentThisTerm = false;
  private readonly reads = new ReadIndexQueue();
  /** Messages dropped because maxQueuedMessages were waiting; reset when ready() takes the queue. */
  droppedMessages = 0;
  /** Proposals were appended since the last broadcast (see flushAppends). */
  appendsToFlush = false;

  constructor(rawConfig: RaftConfig) {
    this.config = validateConfig(rawConfig);
    this.id = this.config.id;
    this.log = new RaftLog(this.config.storage, this.config.applied);
    const { hardState, confState } = this.config.storage.initialState();
    const baseIndex = this.log.firstIndex() - 1;
    this.confHistory = new ConfHistory(baseIndex, confState);
    this.confState = this.confHistory.latest();
    this.loadConfChangesFromLog(baseIndex + 1);
    if (hardState.vote !== '' && hardState.term === 0) {
      throw new RaftError('INVALID_CONFIG', `storage's hard state has a vote but term 0`);
    }
    this.becomeFollower(hardState.term, '');
    this.vote = hardState.vote;
  }

  // ------------------------------------------------------------------ membership

  private loadConfChangesFromLog(low: number): void {
    const lastIndex = this.log.lastIndex();
    let next = low;
    // Each batch returns at least one entry, so this ends after at most lastIndex - low + 1 rounds.
    while (next <= lastIndex) {
      const batch = this.log.slice(next, lastIndex + 1, this.config.maxSizePerMessageBytes);
      assert(batch !== undefined && batch.length > 0, `log entries from ${next} readable at start`);
      this.confHistory.record(batch);
      next += batch.length;
    }
    this.setConfState(this.confHistory.latest());
  }

  /** Entries were appended at entries[0].index, replacing whatever followed: update membership. */
  private onEntriesAppended(entries: readonly Entry[]): void {
    if (this.confHistory.onAppend(entries)) this.setConfState(this.confHistory.latest());
  }

  private setConfState(confState: ConfState): void {
    this.confState = confState;
    if (this.role !== 'leader') return;
    this.syncProgressWithMembership();
    if (this.leadTransferee !== '' && !this.confState.voters.includes(this.leadTransferee)) this.abortLeaderTransfer();
    if (this.maybeCommit()) this.broadcastAppend();
  }

  private syncProgressWithMembership(): void {
    const members = new Set([...this.confState.voters, ...this.confState.learners]);
    for (const id of [...this.progress.keys()]) {
      if (!members.has(id) && id !== this.id) this.progress.delete(id);
    }
    for (const id of members) {
      const isLearner = this.confState.learners.includes(id);
      const existing = this.progress.get(id);
      if (existing !== undefined) {
        existing.isLearner = isLearner;
        continue;
      }
      const progress = this.newProgress(this.log.lastIndex(), isLearner);
      progress.recentActive = true;
      this.progress.set(id, progress);
    }
  }

  private newProgress(next: number, isLearner: boolean): Progress {
    return new Progress(next, isLearner, new Inflights(this.config.maxInflightMessages, this.config.maxInflightBytes));
  }

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

  private reset(term: number): void {
    if (term !== this.term) {
      this.term = term;
      this.vote = '';
    }
    this.leaderId = '';
    this.electionElapsed = 0;
    this.heartbeatElapsed = 0;
    this.resetRandomizedElectionTimeout();
    this.abortLeaderTransfer();
    this.votes.clear();
    this.progress.clear();
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.timeoutNowSentThisTerm = false;
    this.appendsToFlush = false;
    this.failPendingReads();
  }

  private resetRandomizedElectionTimeout(): void {
    const sample = this.config.random();
    assert(sample >= 0 && sample < 1, `config.random() returned ${sample}, outside [0, 1)`);
    this.randomizedElectionTimeout = this.config.electionTicks + Math.floor(sample * this.config.electionTicks);
  }

  private failPendingReads(): void {
    for (const context of this.reads.failAll()) this.failedReads.push(context);
  }

  becomeFollower(term: number, leaderId: NodeId): void {
    this.reset(term);
    this.role = 'follower';
    this.leaderId = leaderId;
    this.emit('became-follower', { leaderId });
  }

  private becomePreCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> pre-candidate');
    // A pre-candidate changes neither term nor vote (that is the point of pre-vote).
    this.votes.clear();
    this.role = 'pre-candidate';
    this.leaderId = '';
    this.emit('became-pre-candidate', {});
  }

  private becomeCandidate(): void {
    assert(this.role !== 'leader', 'invalid transition leader -> candidate');
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = 'candidate';
    this.emit('became-candidate', {});
  }

  private becomeLeader(): void {
    assert(this.role === 'candidate', `invalid transition ${this.role} -> leader`);
    this.reset(this.term);
    this.role = 'leader';
    this.leaderId = this.id;
    this.syncProgressWithMembership();
    for (const progress of this.progress.values()) progress.recentActive = false;
    const self = this.progress.get(this.id) ?? this.newProgress(this.log.lastIndex() + 1, false);
    this.progress.set(this.id, self);
    self.match = this.log.persistedLastIndex();
    self.becomeReplicate();
    self.next = this.log.lastIndex() + 1;
    self.recentActive = true;
    for (const progress of this.progress.values()) progress.next = this.log.lastIndex() + 1;
    // Raft §5.4.2/§8: an empty entry of the new term lets earlier entries commit.
    this.pendingConfIndex = this.log.lastIndex();
    this.appendEntries([{ type: 'normal', data: EMPTY_BYTES }]);
    this.emit('became-leader', {});
  }

  // ------------------------------------------------------------------ ticks

  tick(): void {
    this.tickCount++;
    if (this.role === 'leader') this.tickHeartbeat();
    else this.tickElection();
  }

  private tickElection(): void {
    this.electionElapsed++;
    if (this.isVoter() && this.electionElapsed >= this.randomizedElectionTimeout) {
      this.electionElapsed = 0;
      this.hup(false);
    }
  }

  private tickHeartbeat(): void {
    this.heartbeatElapsed++;
    this.electionElapsed++;
    if (this.electionElapsed >= this.config.electionTicks) {
      this.electionElapsed = 0;
      if (this.config.checkQuorum && !this.checkQuorumActive()) {
        this.emit('check-quorum-failed', {});
        this.becomeFollower(this.term, '');
        return;
      }
      if (this.leadTransferee !== '') this.abortLeaderTransfer();
    }
    if (this.heartbeatElapsed >= this.config.heartbeatTicks) {
      this.heartbeatElapsed = 0;
      this.broadcastHeartbeat();
    }
  }

  /** Whether a quorum of voters was heard from since the last check; starts a new round. */
  private checkQuorumActive(): boolean {
    const active = hasQuorum(this.confState.voters, (id) => id === this.id || this.progress.get(id)?.recentActive === true);
    for (const [id, progress] of this.progress) progress.recentActive = id === this.id;
    return active;
  }

  // ------------------------------------------------------------------ elections

  /** Starts an election (pre-vote first when configured) unless leader or not a voter. */
  hup(transfer: boolean): void {
    if (this.role === 'leader') return;
    if (!this.isVoter()) {
      this.emit('campaign-ignored-not-voter', {});
      return;
    }
    this.campaign(this.config.preVote && !transfer ? 'pre-election' : 'election', transfer);
  }

  private campaign(kind: 'pre-election' | 'election', transfer: boolean): void {
    let voteTerm: number;
    let type: MessageType;
    if (kind === 'pre-election') {
      this.becomePreCandidate();
      voteTerm = this.term + 1;
      type = 'MsgPreVote';
    } else {
      this.becomeCandidate();
      voteTerm = this.term;
      type = 'MsgVote';
    }
    if (this.poll(this.id, true) === 'won') {
      this.onElectionWon(kind, transfer);
      return;
    }
    const context = transfer ? CAMPAIGN_TRANSFER_CONTEXT : EMPTY_BYTES;
    for (const id of this.confState.voters) {
      if (id === this.id) continue;
      this.send({ type, to: id, term: voteTerm, index: this.log.lastIndex(), logTerm: this.log.lastTerm(), context });
    }
  }

  private onElectionWon(kind: 'pre-election' | 'election', transfer: boolean): void {
    if (kind === 'pre-election') {
      this.campaign('election', transfer);
      return;
    }
    this.becomeLeader();
    this.broadcastAppend();
  }

  private poll(from: NodeId, granted: boolean): 'won' | 'lost' | 'pending' {
    if (!this.votes.has(from)) this.votes.set(from, granted);
    return voteResult(this.confState.voters, this.votes);
  }

  // ------------------------------------------------------------------ step

  step(message: Message): void {
    if (!isWellFormed(message)) {
      this.emit('ignored-malformed-message', {});
      return;
    }
    if (message.to !== this.id || message.from === this.id) {
      this.emit('ignored-foreign-message', { from: message.from, to: message.to });
      return;
    }
    if (message.term > this.term) {
      if (!this.onHigherTerm(message)) return;
    } else if (message.term < this.term) {
      this.onLowerTerm(message);
      return;
    }
    if (message.type === 'MsgVote' || message.type === 'MsgPreVote') {
      this.onVoteRequest(message);
      return;
    }
    if (this.role === 'leader') this.stepLeader(message);
    else if (this.role === 'follower') this.stepFollower(message);
    else this.stepCandidate(message);
  }

  /** Returns whether the message should be processed further. */
  private onHigherTerm(message: Message): boolean {
    const isVoteRequest = message.type === 'MsgVote' || message.type === 'MsgPreVote';
    if (isVoteRequest) {
      const forced = bytesEqual(message.context, CAMPAIGN_TRANSFER_CONTEXT);
      if (!forced && this.inLeaderLease()) {
        this.emit('ignored-vote-in-lease', { from: message.from, type: message.type });
        return false;
      }
    }
    // A pre-vote never changes terms; a granted pre-vote answer carries the term we will campaign at.
    if (message.type === 'MsgPreVote') return true;
    if (message.type === 'MsgPreVoteResp' && !message.reject) return true;
    const fromLeader = message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap';
    // Raft §5.2: only a leader's message or a granted vote restarts the election timer.
    // Keeping it on a vote request lets an up-to-date node still time out and win while
    // a behind candidate keeps raising terms (sim note N1).
    const electionElapsed = this.electionElapsed;
    this.becomeFollower(message.term, fromLeader ? message.from : '');
    if (message.type === 'MsgVote') this.electionElapsed = electionElapsed;
    return true;
  }

  /**
   * Leader stickiness: while we heard from a leader within the election timeout we do not
   * help elect another. With leases, a node that just started counts as having heard from
   * one: it may have acknowledged a leader's heartbeat right before it crashed, and that
   * leader's lease relies on us not voting for an election timeout after that.
   */
  private inLeaderLease(): boolean {
    if (!this.config.checkQuorum) return false;
    const electionTicks = this.config.electionTicks;
    if (this.leaderId !== '' && this.electionElapsed < electionTicks) return true;
    return this.config.readOnly === 'lease' && this.tickCount < electionTicks;
  }

  private onLowerTerm(message: Message): void {
    const fromStaleLeader = message.type === 'MsgApp' || message.type === 'MsgHeartbeat';
    if (fromStaleLeader && (this.config.checkQuorum || this.config.preVote)) {
      // Tell the stale leader about our term, or it could never learn it (we ignore its
      // messages and, with pre-vote, nobody bumps terms to reach it).
      this.send({ type: 'MsgAppResp', to: message.from });
    } else if (message.type === 'MsgPreVote' || message.type === 'MsgVote') {
      // Refuse with our term, so a candidate stuck below it learns the term (sim note N1).
      this.send({ type: message.type === 'MsgVote' ? 'MsgVoteResp' : 'MsgPreVoteResp', to: message.from, reject: true });
    }
  }

  private onVoteRequest(message: Message): void {
    const isPreVote = message.type === 'MsgPreVote';
    const canVote =
      this.vote === message.from ||
      (this.vote === '' && this.leaderId === '') ||
      (isPreVote && message.term > this.term);
    const responseType: MessageType = isPreVote ? 'MsgPreVoteResp' : 'MsgVoteResp';
    if (canVote && this.log.isUpToDate(message.index, message.logTerm)) {
      this.send({ type: responseType, to: message.from, term: message.term });
      if (!isPreVote) {
        this.electionElapsed = 0;
        this.vote = message.from;
      }
    } else {
      this.send({ type: responseType, to: message.from, reject: true });
    }
  }

  private stepFollower(message: Message): void {
    switch (message.type) {
      case 'MsgApp':
      case 'MsgHeartbeat':
      case 'MsgSnap':
        this.electionElapsed = 0;
        this.leaderId = message.from;
        this.onMessageFromLeader(message);
        return;
      case 'MsgTimeoutNow':
        this.emit('timeout-now', { from: message.from });
        this.hup(true);
        return;
      default:
        return;
    }
  }

  private stepCandidate(message: Message): void {
    const responseType: MessageType = this.role === 'pre-candidate' ? 'MsgPreVoteResp' : 'MsgVoteResp';
    if (message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap') {
      this.becomeFollower(message.term, message.from);
      this.onMessageFromLeader(message);
      return;
    }
    if (message.type !== responseType) return;
    const result = this.poll(message.from, !message.reject);
    if (result === 'won') this.onElectionWon(this.role === 'pre-candidate' ? 'pre-election' : 'election', false);
    else if (result === 'lost') this.becomeFollower(this.term, '');
  }

  private onMessageFromLeader(message: Message): void {
    if (message.type === 'MsgApp') this.handleAppendEntries(message);
    else if (message.type === 'MsgHeartbeat') this.handleHeartbeat(message);
    else this.handleSnapshot(message);
  }

  // ------------------------------------------------------------------ follower side

  private handleAppendEntries(message: Message): void {
    if (message.index < this.log.committed) {
      this.send({ type: 'MsgAppResp', to: message.from, index: this.log.committed });
      return;
    }
    const result = this.log.maybeAppend(message.index, message.logTerm, message.commit, message.entries);
    if (result !== undefined) {
      this.onEntriesAppended(result.appended);
      this.send({ type: 'MsgAppResp', to: message.from, index: result.lastNewIndex });
      return;
    }
    const hint = this.log.findConflictByTerm(Math.min(message.index, this.log.lastIndex()), message.logTerm);
    this.send({
      type: 'MsgAppResp',
      to: message.from,
      index: message.index,
      reject: true,
      rejectHint: hint.index,
      logTerm: hint.term,
    });
  }

  private handleHeartbeat(message: Message): void {
    this.log.commitTo(Math.min(message.commit, this.log.lastIndex()));
    this.send({ type: 'MsgHeartbeatResp', to: message.from, context: message.context, index: message.index });
  }

  private handleSnapshot(message: Message): void {
    const snapshot = message.snapshot;
    if (snapshot === undefined) return;
    if (this.restore(snapshot)) {
      this.emit('restored-snapshot', { index: snapshot.metadata.index, snapshotTerm: snapshot.metadata.term });
      this.send({ type: 'MsgAppResp', to: message.from, index: this.log.lastIndex() });
    } else {
      this.send({ type: 'MsgAppResp', to: message.from, index: this.log.committed });
    }
  }

  /** Resets the log to `snapshot` unless it is old news. */
  private restore(snapshot: Snapshot): boolean {
    const { index, term } = snapshot.metadata;
    if (index <= this.log.committed) return false;
    assert(this.role === 'follower', `restoring a snapshot as ${this.role}`);
    if (this.log.matchTerm(index, term)) {
      // We already have the snapshot's last entry: just learn that it is committed.
      this.log.commitTo(index);
      return false;
    }
    this.confHistory.restore(index, snapshot.metadata.confState, this.log.committed);
    this.log.restore(snapshot);
    this.setConfState(this.confHistory.latest());
    return true;
  }

  // ------------------------------------------------------------------ leader side

  private stepLeader(message: Message): void {
    const progress = this.progress.get(message.from);
    if (progress === undefined) return;
    if (message.type === 'MsgAppResp') this.handleAppendResponse(message, progress);
    else if (message.type === 'MsgHeartbeatResp') this.handleHeartbeatResponse(message, progress);
    else if (message.type === 'MsgApp' || message.type === 'MsgHeartbeat' || message.type === 'MsgSnap') {
      this.emit('ignored-second-leader', { from: message.from });
    }
  }

  private handleAppendResponse(message: Message, progress: Progress): void {
    if (!message.reject && message.index > this.log.lastIndex()) {
      this.emit('ignored-append-response-beyond-log', { from: message.from, index: message.index });
      return;
    }
    progress.recentActive = true;
    if (message.reject) {
      let nextProbeIndex = message.rejectHint;
      if (message.logTerm > 0) nextProbeIndex = this.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
      if (progress.maybeDecreaseTo(message.index, nextProbeIndex)) {
        if (progress.state === 'replicate') progress.becomeProbe();
        this.sendAppend(message.from);
      }
      return;
    }
    const wasPaused = progress.isPaused();
    const updated = progress.maybeUpdate(message.index);
    if (progress.state === 'snapshot' && progress.match + 1 >= this.log.firstIndex()) {
      // The follower has everything up to our log's start (perhaps it never needed the
      // snapshot, and answered it with its old commit index): replicate from here.
      progress.becomeProbe();
      progress.becomeReplicate();
      if (!updated) this.sendAppend(message.from);
    }
    if (!updated) return;
    if (progress.state === 'probe') progress.becomeReplicate();
    else if (progress.state === 'replicate') progress.inflights.freeLE(message.index);
    if (this.maybeCommit()) this.broadcastAppend();
    else if (wasPaused) this.sendAppend(message.from);
    this.fillWindow(message.from);
    if (message.from === this.leadTransferee && progress.match === this.log.lastIndex()) {
      this.sendTimeoutNow(message.from);
    }
  }

  /** Sends as many MsgApp as the in-flight window allows. */
  private fillWindow(to: NodeId): void {
    for (let sent = 0; sent < this.config.maxInflightMessages; sent++) {
      if (!this.maybeSendAppend(to, false)) return;
    }
  }

  private handleHeartbeatResponse(message: Message, progress: Progress): void {
    progress.recentActive = true;
    progress.probeSent = false;
    progress.leaseAckTick = Math.max(progress.leaseAckTick, message.index);
    if (progress.state === 'replicate' && progress.inflights.full()) progress.inflights.freeFirstOne();
    // Behind: resend from next. In replicate state this may be an empty MsgApp, which is
    // how a follower that lost appends (its rejection puts it back into probe) recovers.
    if (progress.match < this.log.lastIndex()) this.sendAppend(message.from);
    if (message.context.length > 0) this.onReadAck(message.from, message.context);
  }

  /** Advances the commit index to what a majority of voters has; true if it moved. */
  maybeCommit(): boolean {
    if (this.role !== 'leader') return false;
    const index = majorityCommitIndex(this.confState.voters, (id) => this.progress.get(id)?.match ?? 0);
    if (!this.log.maybeCommit(index, this.term)) return false;
    this.onCommitAdvanced();
    return true;
  }

  private onCommitAdvanced(): void {
    for (const context of this.reads.takeDeferred()) this.serveRead(context);
    const removalCommitted = this.confHistory.latestIndex() <= this.log.committed && !this.isVoter();
    if (removalCommitted) this.stepDownAfterRemoval();
  }

  /** Raft dissertation §4.2.2: a leader removed from the cluster steps down once the change commits. */
  private stepDownAfterRemoval(): void {
    this.broadcastAppend();
    // Hand over at once to a voter that has our whole log, so it can win without waiting.
    const best = this.successor();
    const successor = best !== undefined && this.progress.get(best)?.match === this.log.lastIndex() ? best : undefined;
    if (successor !== undefined) this.sendTimeoutNow(successor);
    this.emit('stepped-down-after-removal', { successor: successor ?? '' });
    this.becomeFollower(this.term, '');
  }

  /**
   * The one successor policy (step-down, shutdown hand-over, removal): among the other
   * voters, one heard from within the current election timeout first (a silent one may
   * be down, and a transfer to it stalls proposals until the transfer times out), then
   * the one whose log matches ours furthest; ties go to the first in the voter list.
   * Undefined on a non-leader or without another voter.
   */
  successor(): NodeId | undefined {
    if (this.role !== 'leader') return undefined;
    let best: { id: NodeId; match: number; active: boolean } | undefined;
    for (const id of this.confState.voters) {
      const progress = this.progress.get(id);
      if (id === this.id || progress === undefined) continue;
      const candidate = { id, match: progress.match, active: progress.recentActive };
      const better = best === undefined || (candidate.active && !best.active) ||
        (candidate.active === best.active && candidate.match > best.match);
      if (better) best = candidate;
    }
    return best?.id;
  }

  broadcastAppend(): void {
    this.appendsToFlush = false;
    for (const id of this.progress.keys()) {
      if (id === this.id) continue;
      this.sendAppend(id);
      this.fillWindow(id);
    }
  }

  /**
   * Proposals do not send at once: RawNode.ready() flushes them, so all proposals made
   * between two Ready turns travel in as few MsgApp as the size limit allows.
   */
  flushAppends(): void {
    if (this.appendsToFlush && this.role === 'leader') this.broadcastAppend();
    this.appendsToFlush = false;
  }

  sendAppend(to: NodeId): void {
    this.maybeSendAppend(to, true);
  }

  private maybeSendAppend(to: NodeId, sendIfEmpty: boolean): boolean {
    const progress = this.progress.get(to);
    if (progress === undefined || progress.isPaused()) return false;
    const previousIndex = progress.next - 1;
    const previousTerm = this.log.term(previousIndex);
    const entries = previousTerm === undefined ? undefined : this.log.entriesFrom(progress.next, this.config.maxSizePerMessageBytes);
    if (previousTerm === undefined || entries === undefined) return this.sendSnapshot(to, progress);
    if (entries.length === 0 && !sendIfEmpty) return false;
    this.send({ type: 'MsgApp', to, index: previousIndex, logTerm: previousTerm, entries, commit: this.log.committed });
    const last = entries[entries.length - 1];
    progress.sentEntries(entries.length, last?.index ?? previousIndex, entriesBytes(entries));
    return true;
  }

  private sendSnapshot(to: NodeId, progress: Progress): boolean {
    if (!progress.recentActive) {
      this.emit('snapshot-deferred-inactive', { to });
      return false;
    }
    let snapshot: Snapshot;
    try {
      snapshot = this.log.snapshot();
    } catch (error) {
      if (error instanceof RaftStorageError && error.code === 'SNAPSHOT_TEMPORARILY_UNAVAILABLE') {
        this.emit('snapshot-temporarily-unavailable', { to });
        return false;
      }
      throw error;
    }
    assert(snapshot.metadata.index > 0, 'a follower needs compacted entries but the snapshot is empty');
    progress.becomeSnapshot(snapshot.metadata.index);
    this.send({ type: 'MsgSnap', to, snapshot });
    this.emit('sent-snapshot', { to, index: snapshot.metadata.index });
    return true;
  }

  private broadcastHeartbeat(): void {
    const context = this.reads.newestContext() ?? EMPTY_BYTES;
    this.broadcastHeartbeatWithContext(context);
  }

  private broadcastHeartbeatWithContext(context: Uint8Array): void {
    for (const [id, progress] of this.progress) {
      if (id === this.id) continue;
      const commit = Math.min(progress.match, this.log.committed);
      this.send({ type: 'MsgHeartbeat', to: id, commit, context, index: this.tickCount });
    }
  }

  private sendTimeoutNow(to: NodeId): void {
    this.timeoutNowSentThisTerm = true;
    this.send({ type: 'MsgTimeoutNow', to });
  }

  private abortLeaderTransfer(): void {
    if (this.leadTransferee !== '') this.emit('leader-transfer-aborted', { to: this.leadTransferee });
    this.leadTransferee = '';
  }

  // ------------------------------------------------------------------ proposals

  private requireLeader(what: string): void {
    if (this.role !== 'leader') {
      throw new RaftError('NOT_LEADER', `${what}: ${this.id} is not the leader`, { leaderId: this.leaderId });
    }
  }

  private refuseDuringTransferOrRemoval(): void {
    if (this.leadTransferee !== '') {
      throw new RaftError('PROPOSAL_DROPPED', `leadership is being transferred to ${this.leadTransferee}`);
    }
    if (!this.isVoter()) throw new RaftError('PROPOSAL_DROPPED', `${this.id} is being removed from the cluster`);
  }

  propose(data: Uint8Array): { index: number; term: number } {
    if (!(data instanceof Uint8Array)) throw new RaftError('INVALID_ARGUMENT', 'proposal data must be a Uint8Array');
    this.requireLeader('propose');
    this.refuseDuringTransferOrRemoval();
    return this.appendProposal('normal', data);
  }

  proposeConfChange(change: ConfChange): { index: number; term: number } {
    this.requireLeader('proposeConfChange');
    this.refuseDuringTransferOrRemoval();
    if (this.pendingConfIndex > this.log.committed) {
      throw new RaftError('CONF_CHANGE_PENDING', `the membership change at ${this.pendingConfIndex} is not committed yet`);
    }
    if (this.log.term(this.log.committed) !== this.term) {
      throw new RaftError('CONF_CHANGE_PENDING', `no entry of term ${this.term} is committed yet`);
    }
    const problem = confChangeProblem(this.confState, change);
    if (problem !== undefined) throw new RaftError('CONF_CHANGE_INVALID', problem);
    const result = this.appendProposal('conf-change', encodeConfChange(change));
    this.pendingConfIndex = result.index;
    return result;
  }

  private appendProposal(type: EntryType, data: Uint8Array): { index: number; term: number } {
    // Like etcd, only payload bytes count, so empty entries (a new term's no-op) never do.
    const bytes = data.byteLength;
    if (this.uncommittedBytes > 0 && this.uncommittedBytes + bytes > this.config.maxUncommittedEntriesBytes) {
      throw new RaftError(
        'PROPOSAL_DROPPED',
        `uncommitted entries would exceed maxUncommittedEntriesBytes (${this.config.maxUncommittedEntriesBytes})`,
      );
    }
    this.uncommittedBytes += bytes;
    const entry = this.appendEntries([{ type, data }]);
    this.appendsToFlush = true;
    return { index: entry.index, term: entry.term };
  }

  /** Appends entries of the current term to the leader's log; returns the last. */
  private appendEntries(items: readonly { type: EntryType; data: Uint8Array }[]): Entry {
    const lastIndex = this.log.lastIndex();
    const entries: Entry[] = items.map((item, i) => ({ term: this.term, index: lastIndex + 1 + i, type: item.type, data: item.data }));
    this.log.append(entries);
    this.onEntriesAppended(entries);
    const last = entries[entries.length - 1];
    assert(last !== undefined, 'appended at least one entry');
    return last;
  }

  /** Bytes of committed entries were applied: they no longer count as uncommitted. */
  reduceUncommittedBytes(entries: readonly Entry[]): void {
    if (this.role !== 'leader') return;
    let bytes = 0;
    for (const entry of entries) bytes += entry.data.byteLength;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  // ------------------------------------------------------------------ reads

  readIndex(context: Uint8Array): void {
    this.requireLeader('readIndex');
    if (!(context instanceof Uint8Array) || context.length === 0) {
      throw new RaftError('INVALID_ARGUMENT', 'a read context must be a non-empty Uint8Array');
    }
    if (this.reads.size() + this.readStates.length >= this.config.maxPendingReads) {
      throw new RaftError('READ_QUEUE_FULL', `maxPendingReads (${this.config.maxPendingReads}) reads are pending`);
    }
    if (this.log.term(this.log.committed) !== this.term) {
      // Raft §6.4: a new leader learns the commit index only by committing an entry of its term.
      this.reads.deferUntilTermCommit(context);
      return;
    }
    this.serveRead(context);
  }

  private serveRead(context: Uint8Array): void {
    if (this.config.readOnly === 'lease' && this.leaseValid()) {
      this.readStates.push({ context, index: this.log.committed });
      return;
    }
    this.reads.add(context, this.log.committed);
    this.onReadAck(this.id, context);
    if (this.reads.isPending(context)) this.broadcastHeartbeatWithContext(context);
  }

  /** `from` confirmed our leadership for the read `context` (and all reads before it). */
  private onReadAck(from: NodeId, context: Uint8Array): void {
    for (const read of this.reads.acknowledge(from, context, this.confState.voters)) this.readStates.push(read);
  }

  /**
   * Whether a quorum of voters acknowledged a heartbeat sent within the last
   * electionTicks - leaseDriftTicks ticks: until then none of them votes for anyone else
   * (leader stickiness), so no other leader can exist.
   */
  private leaseValid(): boolean {
    if (this.timeoutNowSentThisTerm || this.leadTransferee !== '') return false;
    const oldestValidTick = this.tickCount - (this.config.electionTicks - this.config.leaseDriftTicks);
    return hasQuorum(
      this.confState.voters,
      (id) => id === this.id || (this.progress.get(id)?.leaseAckTick ?? Number.NEGATIVE_INFINITY) > oldestValidTick,
    );
  }

  // ------------------------------------------------------------------ leadership transfer

  transferLeadership(to: NodeId): void {
    this.requireLeader('transferLeadership');
    if (to === this.id) throw new RaftError('TRANSFER_INVALID', `${to} is already the leader`);
    if (!this.confState.voters.includes(to)) throw new RaftError('TRANSFER_INVALID', `${to} is not a voter`);
    if (this.leadTransferee === to) return;
    this.abortLeaderTransfer();
    this.electionElapsed = 0;
    this.leadTransferee = to;
    this.emit('leader-transfer-started', { to });
    const progress = this.progress.get(to);
    assert(progress !== undefined, `a voter ${to} has progress`);
    if (progress.match === this.log.lastIndex()) this.sendTimeoutNow(to);
    else this.sendAppend(to);
  }

  /** Graceful step-down: hand leadership to the most caught-up voter. Returns it. */
  stepDown(): NodeId {
    this.requireLeader('stepDown');
    const successor = this.successor();
    if (successor === undefined) throw new RaftError('TRANSFER_INVALID', 'no other voter to hand leadership to');
    this.transferLeadership(successor);
    return successor;
  }

  forgetFollowerLog(id: NodeId): void {
    this.requireLeader('forgetFollowerLog');
    if (id === this.id) throw new RaftError('INVALID_ARGUMENT', 'the leader cannot forget its own log');
    const progress = this.progress.get(id);
    if (progress === undefined) throw new RaftError('INVALID_ARGUMENT', `${id} is not a member`);
    progress.forgetMatch(this.log.lastIndex());
    this.sendAppend(id);
  }

  reportUnreachable(id: NodeId): void {
    const progress = this.role === 'leader' ? this.progress.get(id) : undefined;
    if (progress?.state === 'replicate') progress.becomeProbe();
  }

  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void {
    if (status !== 'finish' && status !== 'failure') {
      throw new RaftError('INVALID_ARGUMENT', `snapshot status must be 'finish' or 'failure', got ${String(status)}`);
    }
    const progress = this.role === 'leader' ? this.progress.get(id) : undefined;
    if (progress === undefined || progress.state !== 'snapshot') return;
    if (status === 'failure') progress.pendingSnapshot = 0;
    progress.becomeProbe();
    // Wait for a heartbeat response before probing, as etcd does: the follower may still be applying.
    progress.probeSent = true;
  }

  // ------------------------------------------------------------------ persistence feedback

  /** The runtime persisted entries up to `last`: the leader may now count its own copy. */
  onEntriesPersisted(last: Entry): void {
    if (!this.log.unstable.stableTo(last.index, last.term)) return;
    const self = this.role === 'leader' ? this.progress.get(this.id) : undefined;
    if (self !== undefined && self.maybeUpdate(last.index) && this.maybeCommit()) this.broadcastAppend();
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

  // ------------------------------------------------------------------ helpers

  private send(fields: Partial<Message> & { type: MessageType; to: NodeId }): void {
    if (this.messages.length >= this.config.maxQueuedMessages && fields.type !== 'MsgSnap') {
      // The runtime is not calling ready(): behave like a lossy network, which Raft tolerates.
      // (A MsgSnap is kept: the leader waits for its reportSnapshot.)
      this.droppedMessages++;
      if (this.droppedMessages === 1) this.emit('message-queue-full', { maxQueuedMessages: this.config.maxQueuedMessages });
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
      context: fields.context ?? EMPTY_BYTES,
      ...(fields.snapshot === undefined ? {} : { snapshot: fields.snapshot }),
    });
  }

  private emit(event: string, detail: Record<string, unknown>): void {
    this.config.logger?.({ ...detail, event, id: this.id, term: this.term });
  }
}

const NUMBER_FIELDS = ['term', 'logTerm', 'index', 'commit', 'rejectHint'] as const;

/** A cheap shape check: the network may deliver anything; the core must not crash on it. */
function isWellFormed(message: Message): boolean {
  if (typeof message !== 'object' || message === null) return false;
  if (!MESSAGE_TYPES.includes(message.type)) return false;
  if (typeof message.from !== 'string' || typeof message.to !== 'string') return false;
  for (const field of NUMBER_FIELDS) {
    const value = message[field];
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) return false;
  }
  if (!Array.isArray(message.entries) || !(message.context instanceof Uint8Array)) return false;
  if (typeof message.reject !== 'boolean') return false;
  if (!message.entries.every((entry, i) => isWellFormedEntry(entry, message.index + 1 + i, message.term))) return false;
  return message.type !== 'MsgSnap' || isWellFormedSnapshot(message.snapshot);
}

/** Entries of a MsgApp follow its previous index contiguously and are not from a later term. */
function isWellFormedEntry(entry: Entry, index: number, messageTerm: number): boolean {
  if (typeof entry !== 'object' || entry === null) return false;
  if (entry.index !== index || !Number.isSafeInteger(entry.term) || entry.term < 1 || entry.term > messageTerm) return false;
  return (entry.type === 'normal' || entry.type === 'conf-change') && entry.data instanceof Uint8Array;
}

function isWellFormedSnapshot(snapshot: Snapshot | undefined): boolean {
  if (typeof snapshot !== 'object' || snapshot === null) return false;
  const metadata = snapshot.metadata;
  if (typeof metadata !== 'object' || metadata === null) return false;
  if (!Number.isSafeInteger(metadata.index) || !Number.isSafeInteger(metadata.term) || metadata.index < 1) return false;
  const confState = metadata.confState;
  if (typeof confState !== 'object' || confState === null) return false;
  if (!Array.isArray(confState.voters) || !Array.isArray(confState.learners)) return false;
  return snapshot.data instanceof Uint8Array;
}
