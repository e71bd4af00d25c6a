/**
 * RawNode: the core's public face. It wraps the protocol (Raft) and packages what
 * happened since the last turn into a Ready. See the Ready type for the order the
 * runtime must follow; in short: persist, send, apply, advance() (or, with
 * asyncStorageWrites, report each save and apply as it completes).
 */
import { assert } from './errors.js';
import { Raft } from './raft.js';
import type { ConfChange, ConfState, HardState, Message, NodeId, RaftConfig, RaftStatus, Ready, SoftState } from './types.js';

export class RawNode {
  readonly #raft: Raft;
  #previousSoftState: SoftState;
  #previousHardState: HardState;
  /** The Ready handed out and not yet advanced. */
  #outstanding: Ready | undefined;

  constructor(config: RaftConfig) {
    this.#raft = new Raft(config);
    this.#previousSoftState = this.#softState();
    this.#previousHardState = this.#hardState();
  }

  /** One unit of abstract time. Election and heartbeat timeouts count these. */
  tick(): void {
    this.#raft.tick();
  }

  /** Feeds a message from a peer. Stale, foreign and malformed messages are ignored. */
  step(message: Message): void {
    this.#raft.step(message);
  }

  /** Starts an election now (with pre-vote if configured). No-op on a leader or a non-voter. */
  campaign(): void {
    this.#raft.hup(false);
  }

  /** Appends a command. Throws RaftError NOT_LEADER (with leaderId) or PROPOSAL_DROPPED. */
  propose(data: Uint8Array): { index: number; term: number } {
    return this.#raft.propose(data);
  }

  /**
   * Appends a membership change; it takes effect as soon as it is in the log. Throws
   * NOT_LEADER, PROPOSAL_DROPPED, CONF_CHANGE_PENDING or CONF_CHANGE_INVALID.
   */
  proposeConfChange(change: ConfChange): { index: number; term: number } {
    return this.#raft.proposeConfChange(change);
  }

  /**
   * Requests a linearizable read point. The answer comes in a later Ready: in readStates
   * (wait until applied >= index, then read) or in failedReads (leadership was lost).
   * Throws NOT_LEADER, READ_QUEUE_FULL, or INVALID_ARGUMENT for an empty context.
   */
  readIndex(context: Uint8Array): void {
    this.#raft.readIndex(context);
  }

  /**
   * A linearizable read point on any node (Raft §6.4; etcd's MsgReadIndex). On the leader,
   * as readIndex. On a follower or learner, the leader it knows is asked; the answer comes
   * as for readIndex: readStates (wait until applied >= index, then read locally) or
   * failedReads (the leader refused, or its term ended here: a new term, a campaign). A
   * lost request or answer is never reported: the caller times the read out (a follower
   * keeps at most pendingReadCountMax forwarded reads: past that the oldest is reported
   * failed). Throws NOT_LEADER (leaderId '') when no leader is known, INVALID_ARGUMENT, and
   * on the leader READ_QUEUE_FULL.
   */
  readIndexAnywhere(context: Uint8Array): void {
    this.#raft.readIndexAnywhere(context);
  }

  /**
   * Leader: the read round in flight (a number naming it) when it asked only the
   * followers a quorum needs, else 0. The runtime may call hedgeReadRound with it if they
   * have not answered within a short wait.
   */
  readRoundToHedge(): number {
    return this.#raft.readRoundToHedge();
  }

  /** Leader: asks the voters read round `round` skipped, with its context; nothing when that round is no longer in flight or asked them all. */
  hedgeReadRound(round: number): void {
    this.#raft.hedgeReadRound(round);
  }

  /** Hands leadership to voter `to` once it is caught up; aborts after an election timeout. */
  transferLeadership(to: NodeId): void {
    this.#raft.transferLeadership(to);
  }

  /** Graceful step-down: transfers leadership to successor(), which it returns. */
  stepDown(): NodeId {
    return this.#raft.stepDown();
  }

  /**
   * The voter a leader should hand leadership to: one heard from recently first, then
   * the most caught-up. The single policy behind stepDown(), the hand-over of a removed
   * leader and the runtime's hand-over on shutdown. Undefined on a non-leader.
   */
  successor(): NodeId | undefined {
    return this.#raft.successor();
  }

  /** The transport could not reach `id`: a replicating follower goes back to probing. */
  reportUnreachable(id: NodeId): void {
    this.#raft.reportUnreachable(id);
  }

  /**
   * Leader only: `id` lost its log (it came back with an empty data directory under the
   * same id). The leader's record of what it acknowledged is void: a follower's
   * rejections below that record look stale and would be ignored forever, so it is
   * dropped and the leader probes the follower's log from scratch. Lowering a voter's
   * match can only delay commits, never commit early. (A voter that lost its log also
   * lost its vote and the entries it acknowledged: an operator should remove and re-add
   * it rather than let it rejoin under the same id.)
   */
  forgetFollowerLog(id: NodeId): void {
    this.#raft.forgetFollowerLog(id);
  }

  /**
   * The outcome of sending a snapshot to `id`. The runtime must report every MsgSnap it
   * was handed, 'failure' included (lost connection, transfer error): until then the
   * leader sends that follower nothing else, because a snapshot transfer may take longer
   * than any timeout the core could guess.
   */
  reportSnapshot(id: NodeId, status: 'finish' | 'failure'): void {
    this.#raft.reportSnapshot(id, status);
  }

  status(): RaftStatus {
    return this.#raft.status();
  }

  /** The membership including every conf-change entry in the log (applied or not). */
  confState(): ConfState {
    return this.#raft.confState;
  }

  /** The log's first index, counting a snapshot restored here whose save has not landed yet. */
  firstIndex(): number {
    return this.#raft.log.firstIndex();
  }

  /**
   * Membership as of `index`, for snapshot metadata and compaction. Answerable for any
   * index from the log's start (firstIndex - 1) on; throws INVALID_ARGUMENT below it.
   */
  confStateAt(index: number): ConfState {
    return this.#raft.confStateAt(index);
  }

  hasReady(): boolean {
    const raft = this.#raft;
    if (!raft.config.asyncStorageWrites && this.#outstanding !== undefined) return false;
    const log = raft.log;
    return (
      !softStatesEqual(this.#softState(), this.#previousSoftState) ||
      !hardStatesEqual(this.#hardState(), this.#previousHardState) ||
      log.unstable.hasEntriesToSave() ||
      log.unstable.hasSnapshotToSave() ||
      log.hasNextCommittedEntries(!raft.config.asyncStorageWrites) ||
      raft.messages.length > 0 ||
      raft.appendsToFlush ||
      raft.readRoundDue() ||
      raft.readStates.length > 0 ||
      raft.failedReads.length > 0
    );
  }

  /**
   * Everything to persist, send and apply since the last Ready. Without asyncStorageWrites,
   * call advance() before the next ready(); with it, report saves and applies instead.
   */
  ready(): Ready {
    const raft = this.#raft;
    const asyncWrites = raft.config.asyncStorageWrites;
    assert(asyncWrites || this.#outstanding === undefined, 'ready() called again before advance()');
    raft.flushAppends();
    const softState = this.#softState();
    const hardState = this.#hardState();
    const hardStateChanged = !hardStatesEqual(hardState, this.#previousHardState);
    const entries = raft.log.unstable.takeEntriesToSave();
    const snapshot = raft.log.unstable.takeSnapshotToSave();
    const mustSync =
      entries.length > 0 || snapshot !== undefined || hardState.term !== this.#previousHardState.term || hardState.vote !== this.#previousHardState.vote;
    const committedEntries = raft.log.takeCommittedEntries(raft.config.committedBytesPerReadyMax, !asyncWrites);
    // Applying is reported by index only: count them as committed now, not at appliedTo().
    if (asyncWrites) raft.reduceUncommittedBytes(committedEntries);
    // Every field written out, absent ones as undefined: on Node 20 (V8 11.3) a literal that
    // spreads first and then adds fields is slow to build (bench/README.md, "A Ready built
    // by spreads"), and this one is built every turn of every node.
    const ready: Ready = {
      softState: softStatesEqual(softState, this.#previousSoftState) ? undefined : softState,
      hardState: hardStateChanged ? hardState : undefined,
      entries,
      snapshot,
      committedEntries,
      messages: raft.messages,
      readStates: raft.readStates,
      failedReads: raft.failedReads,
      mustSync,
    };
    raft.messages = [];
    raft.droppedMessageCount = 0;
    raft.readStates = [];
    raft.failedReads = [];
    this.#previousSoftState = softState;
    this.#previousHardState = hardState;
    if (!asyncWrites) this.#outstanding = ready;
    return ready;
  }

  /** The runtime has persisted, sent and applied `ready` (the object ready() returned). Synchronous storage writes only. */
  advance(ready: Ready): void {
    assert(!this.#raft.config.asyncStorageWrites, 'advance() is for synchronous storage writes: report persistedTo() and appliedTo() instead');
    assert(ready === this.#outstanding, 'advance() must get the Ready returned by the last ready()');
    this.#outstanding = undefined;
    if (ready.snapshot !== undefined) this.snapshotPersisted(ready.snapshot.metadata.index);
    const lastEntry = ready.entries[ready.entries.length - 1];
    if (lastEntry !== undefined) this.#raft.onEntriesPersisted(lastEntry.index, lastEntry.term);
    const lastCommitted = ready.committedEntries[ready.committedEntries.length - 1];
    if (lastCommitted !== undefined) {
      this.#applied(lastCommitted.index);
      this.#raft.reduceUncommittedBytes(ready.committedEntries);
    }
    this.#raft.trimConfHistory();
  }

  /**
   * Asynchronous storage writes: the saves handed out so far are durable up to the entry
   * (index, term). A leader counts its own copy toward commit only now. A report whose
   * term the log no longer holds at `index` (the entries were overwritten while being
   * saved) is ignored: the save that carries their replacement reports them.
   */
  persistedTo(index: number, term: number): void {
    this.#raft.onEntriesPersisted(index, term);
  }

  /** The snapshot of `index` handed out in a Ready is saved and the state machine restored from it. */
  snapshotPersisted(index: number): void {
    const log = this.#raft.log;
    log.unstable.stableSnapshotTo(index);
    // A newer snapshot may have replaced it meanwhile: the state machine holds `index` all the same.
    if (index > log.applied && index <= log.committed) log.appliedTo(index);
    this.#raft.trimConfHistory();
  }

  /** Asynchronous storage writes: committed entries handed out are applied up to `index`. */
  appliedTo(index: number): void {
    this.#applied(index);
    this.#raft.trimConfHistory();
  }

  #applied(index: number): void {
    const log = this.#raft.log;
    // An entry applied below a snapshot installed meanwhile is already covered by it.
    if (index > log.applied) log.appliedTo(index);
  }

  #softState(): SoftState {
    return { leaderId: this.#raft.leaderId, role: this.#raft.role };
  }

  #hardState(): HardState {
    return { term: this.#raft.term, vote: this.#raft.vote, commit: this.#raft.log.committed };
  }
}

function softStatesEqual(a: SoftState, b: SoftState): boolean {
  return a.leaderId === b.leaderId && a.role === b.role;
}

function hardStatesEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
