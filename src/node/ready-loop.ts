/**
 * The Ready loop: one turn at a time, in the order the core documents: persist
 * (snapshot, entries, hard state) → send → apply committed entries → advance. A turn takes
 * everything that accumulated since the last one, so proposals that arrive while a
 * persist is in flight go to disk together in the next turn (group commit). A leader's
 * appends go out before its own fsync when the core allows it, and a leader applies
 * entries that were already durable while the turn's new ones are being saved.
 *
 * An environmental failure halts the turn at its step and retries it (halt.ts); anything
 * else is a broken invariant: the runtime stops hard and reports it through `onFatal`.
 */
import type { Entry, HardState, Message, Ready } from '../raft/types.js';
import type { Applier } from './apply.js';
import { retryWhileHalted } from './halt.js';
import type { Leadership } from './leadership.js';
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

export class ReadyLoop {
  readonly #state: RuntimeState;
  readonly #parts: ReadyLoopParts;
  #turnScheduled = false;
  #turnRunning: Promise<void> | undefined;
  #persistedTerm = 0;
  #persistedVote = '';
  /** The commit index as last saved, and the newest one known but not yet saved (it rides on the next save). */
  #savedCommit = 0;
  #unsavedCommit = 0;

  constructor(state: RuntimeState, parts: ReadyLoopParts) {
    this.#state = state;
    this.#parts = parts;
    state.onWake(() => this.#wake());
  }

  /** Start-up: the hard state as stored, before the core starts. */
  startFrom(hardState: HardState): void {
    this.#persistedTerm = hardState.term;
    this.#persistedVote = hardState.vote;
    this.#savedCommit = hardState.commit;
    this.#unsavedCommit = hardState.commit;
  }

  /** Resolves once no turn is running. */
  async settled(): Promise<void> {
    await this.#turnRunning;
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
        if (state.core?.hasReady() === true) this.#wake();
      });
    });
  }

  async #turn(): Promise<void> {
    const state = this.#state;
    const core = state.core;
    if (core === undefined || state.stopped) return;
    try {
      if (core.hasReady()) await this.#processReady(core, core.ready());
    } catch (error) {
      if (state.stopped) return; // a retry loop gave up because the node is stopping
      // Not an environmental failure (those are retried): a broken invariant. Stop hard.
      state.stopped = true;
      state.cancelTimers();
      state.logger.error({ event: 'fatal', error: String(error), stack: (error as Error).stack }, 'ready loop failed');
      state.onFatal(error instanceof Error ? error : new Error(String(error)));
      return;
    }
  }

  async #processReady(core: RaftCore, ready: Ready): Promise<void> {
    const state = this.#state;
    if (ready.softState !== undefined) this.#parts.leadership.onSoftState(ready.softState.leaderId, ready.softState.role);
    const sendEarly = ready.hardState === undefined || (ready.hardState.term === this.#persistedTerm && ready.hardState.vote === this.#persistedVote);
    const early = sendEarly ? ready.messages.filter((message) => message.type === 'MsgApp') : [];
    const late = sendEarly ? ready.messages.filter((message) => message.type !== 'MsgApp') : ready.messages;
    this.#send(early);
    const applyWhilePersisting = this.#committedAlreadyDurable(ready);
    const persisting = this.#persist(ready);
    if (applyWhilePersisting.length > 0) await this.#applyWhile(applyWhilePersisting, persisting);
    await persisting;
    this.#send(late);
    if (ready.snapshot !== undefined) await this.#parts.snapshots.install(ready.snapshot.metadata);
    await this.#parts.applier.applyEntries(ready.committedEntries.slice(applyWhilePersisting.length));
    for (const readState of ready.readStates) state.reads.confirmed(readState.context, readState.index);
    for (const context of ready.failedReads) {
      state.reads.failed(context, state.notLeaderError('leadership lost before the read was confirmed'));
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
    if (this.#state.role !== 'leader' || firstNew === undefined || ready.snapshot !== undefined) return [];
    const durableLastIndex = Math.min(this.#state.storage.lastIndex(), firstNew.index - 1);
    let count = 0;
    while (count < ready.committedEntries.length && (ready.committedEntries[count] as Entry).index <= durableLastIndex) count += 1;
    return ready.committedEntries.slice(0, count);
  }

  async #applyWhile(entries: readonly Entry[], persisting: Promise<void>): Promise<void> {
    // Let the store's flush start its write first (it begins in a microtask chain).
    await nextTurn(this.#state.scheduler);
    try {
      await this.#parts.applier.applyEntries(entries);
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
    await retryWhileHalted(this.#state, 'persist the log', () => this.#state.storage.save(request));
    if (hardState !== undefined) {
      this.#persistedTerm = hardState.term;
      this.#persistedVote = hardState.vote;
      this.#savedCommit = hardState.commit;
    }
    // Only a conf change carries addresses: the common save of data entries skips this.
    // members.json may meet a full disk too: halt and retry, as for the log itself.
    if (ready.entries.some((entry) => entry.type === 'conf-change')) {
      await retryWhileHalted(this.#state, 'record member addresses', () => this.#parts.directory.learnFromEntries(ready.entries));
    }
  }

  /** The persisted term and vote with the newest commit index, when that moved since the last save (entry saves only). */
  #hardStateWithUnsavedCommit(ready: Ready): HardState | undefined {
    if (this.#unsavedCommit <= this.#savedCommit || ready.snapshot !== undefined) return undefined;
    return { term: this.#persistedTerm, vote: this.#persistedVote, commit: this.#unsavedCommit };
  }

  /** On stop: saves a commit index that has not ridden on a save yet (best effort: startCore repairs it anyway). */
  async saveUnsavedCommit(): Promise<void> {
    if (this.#unsavedCommit <= this.#savedCommit || this.#state.haltError !== undefined) return;
    const hardState = { term: this.#persistedTerm, vote: this.#persistedVote, commit: this.#unsavedCommit };
    try {
      await this.#state.storage.save({ hardState });
      this.#savedCommit = hardState.commit;
    } catch (error) {
      this.#state.logger.warn({ event: 'commit-index-save-failed', error: String(error) }, 'saving the commit index on stop failed');
    }
  }

  #send(messages: readonly Message[]): void {
    const plain: Message[] = [];
    for (const message of messages) {
      if (message.type === 'MsgSnap') this.#parts.snapshots.send(message);
      else plain.push(message);
    }
    if (plain.length > 0) this.#state.transport.send(plain);
  }
}
