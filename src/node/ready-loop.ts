/**
 * The Ready loop, with asynchronous storage writes (see the Ready type): a turn takes what
 * the core accumulated, sends what may go now, queues the save (log-saves.ts) and the
 * apply, and ends; the next turn need not wait for either. So a leader's next batch goes
 * out while the previous one is on its disk, and a follower applies batch k while batch
 * k+1 is saved. What depends on durability waits for the save that covers it: the core
 * counts the leader's own copy only when persistedTo() reports it, and acknowledgements
 * (append and vote responses) leave only after the save of their turn, and every save
 * before it, completes. While a term or vote handed out is not durable, nothing leaves.
 *
 * Committed entries the core hands out are durable here already; they apply in order on
 * their own chain. A received snapshot is a barrier: its turn waits for the earlier
 * applies and its save, installs it, and only then reports it.
 *
 * An environmental failure halts the step and retries it (halt.ts); anything else is a
 * broken invariant: the runtime stops hard and reports it through `onFatal`.
 */
import { isDurabilityAcknowledgement } from '../raft/message-shape.js';
import type { Entry, HardState, Message, Ready } from '../raft/types.js';
import type { SendTiming } from '../transport/types.js';
import type { Applier } from './apply.js';
import { retryWhileHalted } from './halt.js';
import type { Leadership } from './leadership.js';
import { LogSaves } from './log-saves.js';
import type { MemberDirectory } from './member-directory.js';
import type { RaftCore } from './ports.js';
import type { RuntimeState } from './runtime-state.js';
import { nextTurn } from './scheduler.js';
import type { Snapshots } from './snapshots.js';

interface ReadyLoopParts {
  readonly applier: Applier;
  readonly snapshots: Snapshots;
  readonly leadership: Leadership;
  readonly directory: MemberDirectory;
}

type SaveRequest = Parameters<RuntimeState['storage']['save']>[0];

/**
 * How long the followers a read round asked may take to answer before the voters it
 * skipped are asked too. On loopback and in a LAN an answer takes a fraction of this; a
 * scavenge or a descheduled process takes about this or more.
 */
const readRoundHedgeMs = 1;

export class ReadyLoop {
  readonly #state: RuntimeState;
  readonly #parts: ReadyLoopParts;
  readonly #saves: LogSaves;
  #turnScheduled = false;
  #turnRunning: Promise<void> | undefined;
  /** Term and vote as durable, and as last handed out to be saved (a save may carry them now). */
  #persistedTerm = 0;
  #persistedVote = '';
  #handedOutTerm = 0;
  #handedOutVote = '';
  /** The commit index as last saved, and the newest one known but not yet saved (it rides on the next save). */
  #savedCommit = 0;
  #unsavedCommit = 0;
  /** Committed entries apply here, one Ready's after another, beside the saves. */
  #applyTail: Promise<void> = Promise.resolve();
  /** The last read round a hedge was set for (#armReadRoundHedge): one timer per round. */
  #readRoundHedged = 0;
  #applyingEntryCount = 0;

  constructor(state: RuntimeState, parts: ReadyLoopParts) {
    this.#state = state;
    this.#parts = parts;
    this.#saves = new LogSaves(state);
    state.onWake(() => this.#wake());
  }

  /** Start-up: the hard state as stored, before the core starts. */
  startFrom(hardState: HardState): void {
    this.#persistedTerm = hardState.term;
    this.#persistedVote = hardState.vote;
    this.#handedOutTerm = hardState.term;
    this.#handedOutVote = hardState.vote;
    this.#savedCommit = hardState.commit;
    this.#unsavedCommit = hardState.commit;
  }

  /** Resolves once no turn, save or apply is running. */
  async settled(): Promise<void> {
    for (;;) {
      const applying = this.#applyTail;
      await this.#turnRunning;
      await this.#saves.settled();
      await applying.catch(() => undefined);
      if (this.#turnRunning === undefined && this.#saves.pendingCount === 0 && applying === this.#applyTail) return;
    }
  }

  #wake(): void {
    const state = this.#state;
    if (this.#turnScheduled || state.stopped) return;
    this.#turnScheduled = true;
    state.scheduler.setImmediate(() => {
      this.#turnScheduled = false;
      if (this.#turnRunning !== undefined) return; // the running turn wakes again when it ends
      this.#turnRunning = this.#turn().finally(() => {
        this.#turnRunning = undefined;
        if (!state.stopped && state.core?.hasReady() === true) this.#wake();
      });
    });
  }

  async #turn(): Promise<void> {
    const core = this.#state.core;
    if (core === undefined || this.#state.stopped) return;
    try {
      if (core.hasReady()) await this.#processReady(core, core.ready());
      this.#armReadRoundHedge(core);
      await this.#waitForRoom();
    } catch (error) {
      this.#fail(error);
    }
  }

  /**
   * A read round asks only the followers a quorum needs (src/raft sendReadRound); if they
   * have not answered within readRoundHedgeMs, the voters it skipped are asked too, so a
   * follower that is descheduled, collecting garbage or stopped holds reads that long,
   * not until the next heartbeat tick.
   */
  #armReadRoundHedge(core: RaftCore): void {
    const state = this.#state;
    const round = core.readRoundToHedge();
    if (round === 0 || round === this.#readRoundHedged) return;
    this.#readRoundHedged = round;
    // Not cancelled when the round is answered: the core hedges only the round it names, so a late timer does nothing.
    state.scheduler.setTimeout(() => {
      if (state.stopped || state.core !== core) return;
      core.hedgeReadRound(round);
      if (core.hasReady()) state.wake();
    }, readRoundHedgeMs);
  }

  /** A broken invariant (environmental failures are retried where they happen): stop hard. */
  #fail(error: unknown): void {
    const state = this.#state;
    if (state.stopped) return; // a retry loop gave up because the node is stopping
    state.stopped = true;
    state.cancelTimers();
    state.logger.error({ event: 'fatal', error: String(error), stack: (error as Error).stack }, 'ready loop failed');
    state.onFatal(error instanceof Error ? error : new Error(String(error)));
  }

  async #processReady(core: RaftCore, ready: Ready): Promise<void> {
    const state = this.#state;
    if (ready.softState !== undefined) this.#parts.leadership.onSoftState(ready.softState.leaderId, ready.softState.role);
    if (ready.hardState !== undefined) {
      this.#handedOutTerm = ready.hardState.term;
      this.#handedOutVote = ready.hardState.vote;
    }
    const { now, afterSave } = this.#splitMessages(ready.messages);
    // Messages leave when this turn returns, before the save it starts is written. A
    // leader's turn that saves entries sends its appends at the loop's next turn instead,
    // behind its own log write: under load the leader's copy is often part of the commit's
    // quorum (64 clients measured 0.95x when appends left first). A follower's messages (a
    // heartbeat's answer beside entries it saves) and a read round's heartbeat leave at once.
    const appending = ready.entries.length > 0 && state.role === 'leader';
    this.#send(now, appending ? 'next-turn' : 'callback');
    if (ready.snapshot !== undefined) await this.#applyTail; // installing replaces what those applies write
    const request = this.#saveRequest(ready);
    const saved = this.#saves.enqueue(request, entriesBytes(ready.entries), () => this.#onSaved(core, ready, request, afterSave));
    saved.catch((error: unknown) => this.#fail(error));
    if (ready.snapshot !== undefined) {
      await saved;
      const metadata = ready.snapshot.metadata;
      // A full disk while staging the copy halts the node and retries; it must not kill it (found by the fault suite).
      await retryWhileHalted(state, `install the snapshot at ${metadata.index}`, () => this.#parts.snapshots.install(metadata));
      core.snapshotPersisted(ready.snapshot.metadata.index);
    }
    this.#apply(core, ready.committedEntries, request !== undefined);
    for (const readState of ready.readStates) state.reads.confirmed(readState.context, readState.index);
    for (const context of ready.failedReads) {
      state.reads.failed(context, state.notLeaderError('leadership lost before the read was confirmed'));
    }
  }

  /**
   * What may leave now and what only after this turn's save: acknowledgements of
   * durability wait for it, and everything waits while a term or vote handed out is not durable.
   */
  #splitMessages(messages: readonly Message[]): { readonly now: readonly Message[]; readonly afterSave: readonly Message[] } {
    if (this.#handedOutTerm !== this.#persistedTerm || this.#handedOutVote !== this.#persistedVote) return { now: [], afterSave: messages };
    const now: Message[] = [];
    const afterSave: Message[] = [];
    for (const message of messages) (isDurabilityAcknowledgement(message) ? afterSave : now).push(message);
    return { now, afterSave };
  }

  /** Runs once the save of `ready` (none: `request` undefined) and every one before it are durable. */
  async #onSaved(core: RaftCore, ready: Ready, request: SaveRequest | undefined, afterSave: readonly Message[]): Promise<void> {
    const hardState = request?.hardState;
    if (hardState !== undefined) {
      this.#persistedTerm = hardState.term;
      this.#persistedVote = hardState.vote;
      this.#savedCommit = Math.max(this.#savedCommit, hardState.commit);
    }
    // Only a conf change carries addresses: the common save of data entries skips this.
    // members.json may meet a full disk too: halt and retry, as for the log itself.
    if (ready.entries.some((entry) => entry.type === 'conf-change')) {
      await retryWhileHalted(this.#state, 'record member addresses', () => this.#parts.directory.learnFromEntries(ready.entries));
    }
    if (this.#state.stopped) return;
    const last = ready.entries[ready.entries.length - 1];
    if (last !== undefined) core.persistedTo(last.index, last.term);
    this.#send(afterSave);
    this.#state.wake();
  }

  /** Applies `entries` after those handed out before them, without holding up the next turn. */
  #apply(core: RaftCore, entries: readonly Entry[], saving: boolean): void {
    const last = entries[entries.length - 1];
    if (last === undefined) return;
    this.#applyingEntryCount += entries.length;
    this.#applyTail = this.#applyTail.then(async () => {
      // Applying is synchronous CPU work: let this turn's save reach the disk and its messages the sockets first.
      if (saving) await nextTurn(this.#state.scheduler);
      const startedMs = this.#state.scheduler.monotonicMs();
      try {
        await this.#parts.applier.applyEntries(entries);
        this.#state.metrics.applySeconds.observe((this.#state.scheduler.monotonicMs() - startedMs) / 1000);
      } finally {
        this.#applyingEntryCount -= entries.length;
      }
      if (!this.#state.stopped) core.appliedTo(last.index);
    });
    this.#applyTail.catch((error: unknown) => this.#fail(error));
  }

  /** Keeps the save and apply queues bounded: a turn that finds them long waits before the next. */
  async #waitForRoom(): Promise<void> {
    const { savingBytesMax, applyingEntryCountMax } = this.#state.config;
    if (this.#saves.pendingBytes > savingBytesMax) await this.#saves.settled();
    if (this.#applyingEntryCount > applyingEntryCountMax) await this.#applyTail;
  }

  /** What `ready` asks to save, or undefined when nothing needs the disk now. */
  #saveRequest(ready: Ready): SaveRequest | undefined {
    if (ready.hardState !== undefined) this.#unsavedCommit = Math.max(this.#unsavedCommit, ready.hardState.commit);
    if (ready.hardState === undefined && ready.entries.length === 0 && ready.snapshot === undefined) return undefined;
    if (!ready.mustSync && ready.entries.length === 0 && ready.snapshot === undefined) {
      // Only the commit index moved: it need not be durable (it is recomputed after a
      // crash, and startCore raises it to the applied index), so it rides on the next save
      // instead of adding an fsync to every write's path, ahead of the next write's entries.
      return undefined;
    }
    const hardState = ready.hardState ?? this.#hardStateWithUnsavedCommit(ready);
    return {
      entries: ready.entries,
      ...(hardState === undefined ? {} : { hardState }),
      ...(ready.snapshot === undefined ? {} : { snapshot: ready.snapshot }),
    };
  }

  /** The handed-out term and vote with the newest commit index, when that moved since the last save (entry saves only). */
  #hardStateWithUnsavedCommit(ready: Ready): HardState | undefined {
    if (this.#unsavedCommit <= this.#savedCommit || ready.snapshot !== undefined) return undefined;
    return { term: this.#handedOutTerm, vote: this.#handedOutVote, commit: this.#unsavedCommit };
  }

  /** On stop: saves a commit index that has not ridden on a save yet (best effort: startCore repairs it anyway). */
  async saveUnsavedCommit(): Promise<void> {
    if (this.#unsavedCommit <= this.#savedCommit || this.#state.haltError !== undefined) return;
    const hardState = { term: this.#handedOutTerm, vote: this.#handedOutVote, commit: this.#unsavedCommit };
    try {
      await this.#state.storage.save({ hardState });
      this.#savedCommit = hardState.commit;
    } catch (error) {
      this.#state.logger.warn({ event: 'commit-index-save-failed', error: String(error) }, 'saving the commit index on stop failed');
    }
  }

  #send(messages: readonly Message[], timing: SendTiming = 'callback'): void {
    const plain: Message[] = [];
    for (const message of messages) {
      if (message.type === 'MsgSnap') this.#parts.snapshots.send(message);
      else plain.push(message);
    }
    if (plain.length > 0) this.#state.transport.send(plain, timing);
  }
}

function entriesBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.data.byteLength;
  return total;
}
