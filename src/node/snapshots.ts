/**
 * Snapshots: taken by entry count (checked every `snapshotIntervalMs`) beside the Ready
 * loop, with the log compacted behind them; streamed as files to followers too far
 * behind for the log; received from the leader and installed; and restored at start-up
 * when the state machine is behind the newest one.
 */
import { join } from 'node:path';
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';
import { StateMachineError } from '../state-machine/errors.js';
import type { Message, NodeId, SnapshotMetadata } from '../raft/types.js';
import type { MemberDirectory } from './member-directory.js';
import type { MemberAddresses, RaftCore, StoredSnapshot } from './ports.js';
import type { RuntimeState } from './runtime-state.js';

const emptyData = new Uint8Array(0);

export class Snapshots {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;
  #inFlight: Promise<void> | undefined;
  #lastSnapshotIndex = 0;

  constructor(state: RuntimeState, directory: MemberDirectory) {
    this.#state = state;
    this.#directory = directory;
  }

  /** The newest snapshot this node took or installed. */
  get lastSnapshotIndex(): number {
    return this.#lastSnapshotIndex;
  }

  // ---------------------------------------------------------------------------
  // Start-up and stop
  // ---------------------------------------------------------------------------

  /** Start-up, before the core: restores the state machine from the newest snapshot if it is behind. */
  async restoreIfBehind(): Promise<void> {
    const { storage, stateMachine, logger } = this.#state;
    const snapshot = storage.snapshots.latest();
    if (snapshot === undefined || snapshot.metadata.index <= stateMachine.appliedIndex) return;
    logger.info(
      { event: 'snapshot-restore', index: snapshot.metadata.index, applied: stateMachine.appliedIndex },
      'state machine behind the newest snapshot: restoring it',
    );
    await this.#restoreStateMachine(snapshot);
  }

  /** Start-up, once the core runs: checks the entry threshold every snapshotIntervalMs. */
  start(): void {
    const { storage, scheduler, config } = this.#state;
    this.#lastSnapshotIndex = storage.snapshots.latest()?.metadata.index ?? 0;
    this.#state.startTimer(scheduler.setInterval(() => this.#checkThreshold(), config.snapshotIntervalMs));
  }

  /** Resolves once no snapshot is being taken. */
  async settled(): Promise<void> {
    await this.#inFlight;
  }

  // ---------------------------------------------------------------------------
  // Taking snapshots and compacting the log
  // ---------------------------------------------------------------------------

  #checkThreshold(): void {
    if (this.#state.stateMachine.appliedIndex - this.#lastSnapshotIndex < this.#state.config.snapshotThresholdEntries) return;
    this.request();
  }

  /**
   * Starts a snapshot unless one is running. It runs beside the Ready loop (the state
   * machine copies the database off the event loop), so heartbeats and appends go on; the
   * copy reports the applied index it holds, and that index names the snapshot.
   */
  request(): void {
    if (this.#inFlight !== undefined || this.#state.core === undefined || this.#state.stopped) return;
    this.#inFlight = this.#takeSafely().finally(() => {
      this.#inFlight = undefined;
    });
  }

  /**
   * `/snapshot`: a snapshot now (once any running one ended), the log then compacted to its
   * index less `trailingEntries`. False when nothing was applied since the newest snapshot.
   * A failure is the caller's (LOAD_IN_PROGRESS while a load is staged: none may fall inside one).
   */
  async takeNow(trailingEntries: number): Promise<boolean> {
    while (this.#inFlight !== undefined) await this.#inFlight;
    if (this.#state.core === undefined || this.#state.stopped) throw new ServiceError('UNAVAILABLE', 'node not running');
    if (this.#state.stateMachine.appliedIndex <= this.#lastSnapshotIndex) return false;
    const taking = this.#take(trailingEntries);
    this.#inFlight = taking.then(
      () => undefined,
      () => undefined,
    );
    try {
      await taking;
    } finally {
      this.#inFlight = undefined;
    }
    return true;
  }

  /** `/reap`: removes every stored snapshot older than the newest this node took or installed; resolves to how many. */
  async reap(): Promise<number> {
    const newest = this.#lastSnapshotIndex;
    const discarded = await this.#state.storage.snapshots.discardWhere?.((metadata) => metadata.index < newest);
    return discarded?.length ?? 0;
  }

  /** A failed snapshot (disk full, say) is logged and tried again at the next interval; the log just stays longer. */
  async #takeSafely(): Promise<void> {
    try {
      await this.#take();
    } catch (error) {
      if (error instanceof StateMachineError && error.code === 'LOAD_IN_PROGRESS') {
        // Not a failure: no snapshot may fall inside a load; the next interval tries again.
        this.#state.logger.debug({ event: 'snapshot-deferred', reason: error.message }, 'snapshot deferred: a load is staged');
        return;
      }
      this.#state.counters.add('store', 'num_snapshots_failed');
      this.#state.logger.error({ event: 'snapshot-failed', error: String(error) }, 'snapshot failed; will retry');
    }
  }

  async #take(trailingEntries = this.#state.config.snapshotTrailingEntries): Promise<void> {
    const { core, stateMachine, storage, config, members, logger, files } = this.#state;
    if (core === undefined || stateMachine.appliedIndex <= this.#lastSnapshotIndex) return;
    const temporaryPath = join(config.dataDirectory, `snapshot-${process.pid}-${stateMachine.appliedIndex}.tmp`);
    try {
      const copy = await stateMachine.snapshot(temporaryPath);
      const index = copy.appliedIndex;
      // A snapshot installed from the leader meanwhile supersedes this copy.
      if (index <= this.#lastSnapshotIndex || this.#state.stopped) return;
      const metadata = { index, term: storage.term(index), confState: core.confStateAt(index) };
      const writer = await storage.snapshots.begin(metadata, members.toRecord());
      try {
        await files.rename(temporaryPath, writer.dataPath);
      } catch (error) {
        await writer.abort();
        throw error;
      }
      await writer.commit();
      this.#lastSnapshotIndex = index;
      this.#state.counters.add('store', 'num_snapshots');
      await this.#compactLog(core, index - trailingEntries);
      logger.info({ event: 'snapshot', index, term: metadata.term }, 'snapshot taken');
    } finally {
      await files.remove(temporaryPath);
    }
  }

  /**
   * Drops the log through `compactIndex`. The membership as of that index is saved first:
   * replaying conf changes over a newer base gives the same membership (each change sets
   * one node's role outright), so a crash between the two steps is harmless.
   */
  async #compactLog(core: RaftCore, compactIndex: number): Promise<void> {
    const storage = this.#state.storage;
    if (compactIndex < storage.firstIndex()) return;
    await storage.save({ confState: core.confStateAt(compactIndex) });
    await storage.compact(compactIndex);
  }

  // ---------------------------------------------------------------------------
  // Sending to a lagging follower
  // ---------------------------------------------------------------------------

  /** Streams the snapshot a MsgSnap names to its follower; the core hears how it went. */
  send(message: Message): void {
    const { storage, transport, logger } = this.#state;
    const wanted = message.snapshot?.metadata;
    const stored = wanted === undefined ? undefined : storage.snapshots.find(wanted.index, wanted.term);
    const core = this.#state.core;
    if (stored === undefined || core === undefined) {
      core?.reportSnapshot(message.to, 'failure');
      return;
    }
    const snapshot = { metadata: stored.metadata, data: emptyData };
    const envelope = { message: { ...message, snapshot }, context: stored.context };
    logger.info({ event: 'snapshot-send', to: message.to, index: stored.metadata.index }, 'sending snapshot to a lagging follower');
    transport.sendSnapshot(message.to, envelope, stored.dataPath).then(
      () => {
        this.#state.core?.reportSnapshot(message.to, 'finish');
        this.#state.wake();
      },
      (error: unknown) => {
        logger.warn({ event: 'snapshot-send-failed', to: message.to, error: String(error) }, 'snapshot transfer failed');
        this.#state.core?.reportSnapshot(message.to, 'failure');
        this.#state.wake();
      },
    );
  }

  // ---------------------------------------------------------------------------
  // Receiving from the leader
  // ---------------------------------------------------------------------------

  /** The transport received a snapshot file: store it, then hand its MsgSnap to the core. */
  async receive(metadata: unknown, temporaryFilePath: string): Promise<void> {
    const state = this.#state;
    if (state.core === undefined || state.stopped) throw new ServiceError('UNAVAILABLE', 'node not running');
    const envelope = metadata as { message?: Message; context?: Record<NodeId, MemberAddresses> };
    const message = envelope.message;
    const snapshot = message?.snapshot;
    if (message === undefined || snapshot === undefined || message.type !== 'MsgSnap') {
      throw new ServiceError('BAD_REQUEST', 'snapshot transfer without a MsgSnap message');
    }
    const writer = await state.storage.snapshots.begin(snapshot.metadata, envelope.context ?? {});
    try {
      await state.files.rename(temporaryFilePath, writer.dataPath);
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
    state.logger.info({ event: 'snapshot-received', index: snapshot.metadata.index, from: message.from }, 'snapshot received');
    state.heardFromLeader();
    state.core.step(message);
    state.wake();
  }

  /** The Ready loop: the core installed a received snapshot; the state machine follows. */
  async install(metadata: SnapshotMetadata): Promise<void> {
    const stored = this.#state.storage.snapshots.find(metadata.index, metadata.term);
    assert(stored !== undefined, `snapshot ${metadata.index}/${metadata.term} installed but not in the store`);
    await this.#restoreStateMachine(stored);
    this.#state.logger.info({ event: 'snapshot-installed', index: metadata.index }, 'installed snapshot from the leader');
  }

  /** Restores the state machine from a stored snapshot (the file stays in the store). */
  async #restoreStateMachine(snapshot: StoredSnapshot): Promise<void> {
    const stateMachine = this.#state.stateMachine;
    await stateMachine.restore(snapshot.dataPath);
    assert(
      stateMachine.appliedIndex === snapshot.metadata.index,
      `restored snapshot ${snapshot.metadata.index} but the state machine reports ${stateMachine.appliedIndex}`,
    );
    this.#state.counters.add('store', 'num_restores');
    this.#directory.learnFromSnapshotContext(snapshot.context);
    this.#lastSnapshotIndex = snapshot.metadata.index;
    this.#state.appliedWaiters.advance(snapshot.metadata.index);
  }
}
