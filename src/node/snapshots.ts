/**
 * Snapshots: taken by entry count or WAL size (checked every `snapshotIntervalMs`) beside
 * the Ready loop, with the log compacted behind them; each costs what changed since the
 * previous one (a delta of WAL frames on the store's chain; a base when the chain cannot
 * go on), and deltas fold into the chain's root in the background; materialised into one
 * file and streamed to followers too far behind for the log (snapshot-sending.ts);
 * received from the leader and installed; restored at start-up when the state machine is
 * behind the newest one.
 */
import { join } from 'node:path';
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';
import { StateMachineError } from '../state-machine/errors.js';
import type { Message, NodeId, SnapshotMetadata } from '../raft/types.js';
import type { MemberDirectory } from './member-directory.js';
import type { CapturedSnapshot, MemberAddresses, RaftCore, StoredSnapshot } from './ports.js';
import type { RuntimeState } from './runtime-state.js';
import { SnapshotSendBackoff } from './snapshot-send-backoff.js';
import { chainFor, isWholeFile, SnapshotSending } from './snapshot-sending.js';

/** Folds run one after another after a snapshot; a bound on one round (each fold takes one delta). */
const foldCountPerRoundMax = 64;

const emptyData = new Uint8Array(0);

export class Snapshots {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;
  readonly #sending: SnapshotSending;
  /** Failed transfers to a follower make the next ones wait (snapshot-send-backoff.ts). */
  readonly #sendBackoff = new SnapshotSendBackoff();
  #inFlight: Promise<void> | undefined;
  #folding: Promise<void> | undefined;
  /** While an installed snapshot is restored: no capture (it would only find the chain broken). */
  #installing = false;
  #lastSnapshotIndex = 0;

  constructor(state: RuntimeState, directory: MemberDirectory) {
    this.#state = state;
    this.#directory = directory;
    const { config, storage, stateMachine, files } = state;
    this.#sending = new SnapshotSending({ dataDirectory: config.dataDirectory, storage, stateMachine, files });
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
    await this.#recordProof(snapshot, await this.#restoreStateMachine(snapshot));
  }

  /** Start-up, once the core runs: checks the entry threshold every snapshotIntervalMs. */
  start(): void {
    const { storage, scheduler, config } = this.#state;
    this.#lastSnapshotIndex = storage.snapshots.latest()?.metadata.index ?? 0;
    this.#state.startTimer(scheduler.setInterval(() => this.#checkThreshold(), config.snapshotIntervalMs));
  }

  /** Resolves once no snapshot is being taken or folded; materialised files are removed. */
  async settled(): Promise<void> {
    await this.#inFlight;
    await this.#folding;
    await this.#sending.close();
  }

  // ---------------------------------------------------------------------------
  // Taking snapshots and compacting the log
  // ---------------------------------------------------------------------------

  #checkThreshold(): void {
    const { stateMachine, config } = this.#state;
    const behind = stateMachine.appliedIndex - this.#lastSnapshotIndex;
    const walFull = config.snapshotWalBytes > 0 && behind > 0 && stateMachine.walBytes() >= config.snapshotWalBytes;
    if (behind < config.snapshotThresholdEntries && !walFull) return;
    this.request();
  }

  /**
   * Starts a snapshot unless one is running. It runs beside the Ready loop (the state
   * machine copies the database off the event loop), so heartbeats and appends go on; the
   * copy reports the applied index it holds, and that index names the snapshot.
   */
  request(): void {
    if (this.#inFlight !== undefined || this.#installing || this.#state.core === undefined || this.#state.stopped) return;
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

  /**
   * `/reap`: folds the newest snapshot's deltas into its root (each fold checkpoints one
   * delta's WAL frames into the root's file), then removes every stored snapshot but the
   * newest and what its chain still needs. Resolves to how many it removed and folded.
   */
  async reap(): Promise<{ readonly snapshotsReaped: number; readonly walsCheckpointed: number }> {
    while (this.#folding !== undefined) await this.#folding;
    const folding = this.#foldAll();
    this.#folding = folding.then(
      () => undefined,
      () => undefined,
    );
    let walsCheckpointed: number;
    try {
      walsCheckpointed = await folding;
    } finally {
      this.#folding = undefined;
    }
    const snapshots = this.#state.storage.snapshots;
    const release = await snapshots.readLock();
    try {
      const newest = snapshots.latest();
      if (newest === undefined) return { snapshotsReaped: 0, walsCheckpointed };
      const kept = new Set(snapshots.chain(newest).map((link) => `${link.metadata.index}/${link.metadata.term}`));
      const discarded = await snapshots.discardWhere((metadata) => !kept.has(`${metadata.index}/${metadata.term}`));
      return { snapshotsReaped: discarded.length, walsCheckpointed };
    } finally {
      release();
    }
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
    const { core, stateMachine, storage, config, files } = this.#state;
    if (core === undefined || stateMachine.appliedIndex <= this.#lastSnapshotIndex) return;
    const head = storage.snapshots.latest();
    const temporaryPath = join(config.dataDirectory, `snapshot-${process.pid}-${stateMachine.appliedIndex}`);
    const target = { dataPath: `${temporaryPath}.tmp`, internalPath: `${temporaryPath}.internal.tmp` };
    const started = this.#state.scheduler.monotonicMs();
    try {
      const captured = await stateMachine.captureSnapshot(target, head?.proof);
      // A snapshot installed from the leader meanwhile supersedes this one.
      if (captured.appliedIndex <= this.#lastSnapshotIndex || this.#state.stopped) return;
      await this.#store(core, captured, target, head);
      this.#lastSnapshotIndex = captured.appliedIndex;
      this.#state.counters.add('store', 'num_snapshots');
      await this.#compactLog(core, captured.appliedIndex - trailingEntries);
      const fields = {
        event: 'snapshot',
        index: captured.appliedIndex,
        format: captured.format,
        durationMs: Math.round(this.#state.scheduler.monotonicMs() - started),
      };
      this.#state.logger.info({ ...fields, eventLoopMs: captured.eventLoopMs, dataBytes: captured.dataBytes }, 'snapshot taken');
    } finally {
      await files.remove(target.dataPath);
      await files.remove(target.internalPath);
    }
    this.#foldInBackground();
  }

  /** Moves a capture's files into the store as a snapshot: a delta names the snapshot it continues. */
  async #store(
    core: RaftCore,
    captured: CapturedSnapshot,
    target: { dataPath: string; internalPath: string },
    head: StoredSnapshot | undefined,
  ): Promise<void> {
    const { storage, members, files } = this.#state;
    const index = captured.appliedIndex;
    const metadata = { index, term: storage.term(index), confState: core.confStateAt(index) };
    const sideFiles = captured.format === 'full' ? [] : ['internal'];
    const parent = captured.format === 'delta' ? head?.metadata : undefined;
    assert(captured.format !== 'delta' || parent !== undefined, 'a delta continues the newest snapshot');
    const layout = {
      format: captured.format,
      files: sideFiles,
      ...(parent === undefined ? {} : { parent: { index: parent.index, term: parent.term } }),
      ...(captured.proof === undefined ? {} : { proof: captured.proof }),
    };
    const writer = await storage.snapshots.begin(metadata, members.toRecord(), layout);
    try {
      await files.rename(target.dataPath, writer.dataPath);
      for (const name of sideFiles) await files.rename(target.internalPath, writer.pathOf(name));
    } catch (error) {
      await writer.abort();
      throw error;
    }
    await writer.commit();
  }

  /** Folds deltas into their root, one at a time, beside everything else; a failure is logged and tried after the next snapshot. */
  #foldInBackground(): void {
    if (this.#folding !== undefined || this.#state.stopped) return;
    this.#folding = this.#foldAll()
      .then(() => undefined)
      .catch((error: unknown) => this.#state.logger.warn({ event: 'snapshot-fold-failed', error: String(error) }, 'folding a snapshot delta failed'))
      .finally(() => {
        this.#folding = undefined;
      });
  }

  /** Resolves to how many deltas it folded. */
  async #foldAll(): Promise<number> {
    const { storage, stateMachine } = this.#state;
    // A fold that threw part way (a full disk) is finished first: until it is, none begins.
    await storage.snapshots.settleFold();
    let folded = 0;
    for (let round = 0; round < foldCountPerRoundMax && !this.#state.stopped; round++) {
      const fold = storage.snapshots.beginFold();
      if (fold === undefined) return folded;
      try {
        // A WAL an earlier fold left beside the root goes in first: a root takes one WAL at a time.
        await stateMachine.absorbSnapshotWal(fold.rootDataPath);
        const rootDataPath = await fold.place();
        await stateMachine.absorbSnapshotWal(rootDataPath);
        folded += 1;
      } finally {
        fold.release();
      }
    }
    return folded;
  }

  /**
   * Drops the log through `compactIndex`. The membership as of that index is saved first:
   * replaying conf changes over a newer base gives the same membership (each change sets
   * one node's role outright), so a crash between the two steps is harmless.
   *
   * The bound is the core's first index, not the storage's: when the core restored a newer
   * snapshot from the leader while this one was taken, that snapshot's save may still be on
   * its way to the disk, and the membership as of `compactIndex`, saved after it, would
   * become the log's base membership at the snapshot's index (R6, test/sim/FINDINGS.md).
   * The core reads the same storage, so its first index is never below the storage's.
   */
  async #compactLog(core: RaftCore, compactIndex: number): Promise<void> {
    const storage = this.#state.storage;
    if (compactIndex < core.firstIndex()) return;
    await storage.save({ confState: core.confStateAt(compactIndex) });
    await storage.compact(compactIndex);
  }

  // ---------------------------------------------------------------------------
  // Sending to a lagging follower
  // ---------------------------------------------------------------------------

  /** Streams the snapshot a MsgSnap names to its follower (materialised first if it is a chain); the core hears how it went. */
  send(message: Message): void {
    const { storage, logger, scheduler } = this.#state;
    const wanted = message.snapshot?.metadata;
    const stored = wanted === undefined ? undefined : storage.snapshots.find(wanted.index, wanted.term);
    const core = this.#state.core;
    // While the follower's last transfers failed, its MsgSnap fails at once (the core asks again at its next heartbeat answer).
    if (stored === undefined || core === undefined || !this.#sendBackoff.mayStart(message.to, scheduler.monotonicMs())) {
      core?.reportSnapshot(message.to, 'failure');
      return;
    }
    logger.info({ event: 'snapshot-send', to: message.to, index: stored.metadata.index }, 'sending snapshot to a lagging follower');
    this.#stream(message, stored).then(
      () => {
        const failures = this.#sendBackoff.succeeded(message.to);
        if (failures > 0) logger.info({ event: 'snapshot-send-recovered', to: message.to, failures }, 'snapshot transfer succeeded after failures');
        this.#state.core?.reportSnapshot(message.to, 'finish');
        this.#state.wake();
      },
      (error: unknown) => {
        const note = this.#sendBackoff.failed(message.to, scheduler.monotonicMs());
        if (note.logIt) {
          logger.warn(
            { event: 'snapshot-send-failed', to: message.to, error: String(error), failures: note.failures, retryInMs: note.retryInMs },
            'snapshot transfer failed',
          );
        }
        this.#state.core?.reportSnapshot(message.to, 'failure');
        this.#state.wake();
      },
    );
  }

  async #stream(message: Message, stored: StoredSnapshot): Promise<void> {
    const file = await this.#sending.fileFor(stored);
    let succeeded = false;
    try {
      const snapshot = { metadata: stored.metadata, data: emptyData };
      const envelope = { message: { ...message, snapshot }, context: stored.context };
      // The same snapshot is the same file (materialised again, it has the same bytes): a failed transfer resumes.
      const resumeKey = `snapshot-${stored.metadata.index}-${stored.metadata.term}`;
      await this.#state.transport.sendSnapshot(message.to, envelope, file.path, { resumeKey });
      succeeded = true;
    } finally {
      await file.release(succeeded);
    }
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
    this.#installing = true;
    try {
      const proof = await this.#restoreStateMachine(stored);
      this.#state.logger.info({ event: 'snapshot-installed', index: metadata.index }, 'installed snapshot from the leader');
      await this.#recordProof(stored, proof);
    } finally {
      this.#installing = false;
    }
  }

  /** A whole file restored byte for byte becomes the root later deltas build on (a crash before this only costs the next snapshot a full copy). */
  async #recordProof(snapshot: StoredSnapshot, proof: string | undefined): Promise<void> {
    if (proof === undefined) return;
    await this.#state.storage.snapshots.recordProof(snapshot.metadata.index, snapshot.metadata.term, proof);
  }

  /** Restores the state machine from a stored snapshot (its files stay in the store); resolves to the state machine's proof, if any. */
  async #restoreStateMachine(snapshot: StoredSnapshot): Promise<string | undefined> {
    const { stateMachine, storage } = this.#state;
    // No fold changes the chain's files while they are read.
    const release = await storage.snapshots.readLock();
    let restored: Awaited<ReturnType<typeof stateMachine.restore>>;
    try {
      // Found again under the lock: a fold that ran meanwhile moves a root to its delta's directory.
      const current = storage.snapshots.find(snapshot.metadata.index, snapshot.metadata.term) ?? snapshot;
      const links = storage.snapshots.chain(current);
      restored = await stateMachine.restore(isWholeFile(links) ? current.dataPath : chainFor(links));
    } finally {
      release();
    }
    assert(
      stateMachine.appliedIndex === snapshot.metadata.index,
      `restored snapshot ${snapshot.metadata.index} but the state machine reports ${stateMachine.appliedIndex}`,
    );
    this.#state.counters.add('store', 'num_restores');
    this.#directory.learnFromSnapshotContext(snapshot.context);
    this.#lastSnapshotIndex = snapshot.metadata.index;
    this.#state.appliedWaiters.advance(snapshot.metadata.index);
    return restored.proof;
  }
}
