/**
 * The runtime's `NodeStorage` port over a simulated disk, behaving as the real store
 * (src/storage durable-storage.ts) does where the runtime can tell:
 *
 * - `save()` checks the request with the real store's own planner (`planSave`: the same
 *   refusals, INVALID_ARGUMENT / TOO_LARGE before anything is written), queues it, and one
 *   flush at a time lands everything queued after a simulated fsync (group commit). Reads
 *   (the core's RaftStorage) see only what landed. A failed flush (a full disk, when the
 *   scenario injects one) stores nothing and rejects every queued save with DISK_FULL.
 * - `compact()` waits for the queue to drain and refuses to compact past the newest
 *   snapshot, as the real one does.
 * - Snapshots: begin → the producer writes `dataPath` → commit (published whole after a
 *   simulated fsync) or abort.
 * - A crash keeps what landed; a flush or snapshot commit on the disk at that moment
 *   lands or not (the scenario's coin: a write() that reached the page cache survives a
 *   process crash). Opening again applies the real store's recovery rule to the snapshots.
 */
import type { ConfState, Entry, HardState, Snapshot, SnapshotMetadata } from '../../src/raft/types.js';
import type { NodeStorage, SnapshotWriting, StoredSnapshot } from '../../src/node/ports.js';
import { StorageError } from '../../src/storage/errors.js';
import { resolveStorageOptions, saveBytesMax } from '../../src/storage/options.js';
import { planSave, type PlanContext, type Projection, type SaveRequest } from '../../src/storage/save-plan.js';
import { validateSnapshotMetadata } from '../../src/storage/snapshot-store.js';
import type { DurableTwin } from './durable-twin.js';
import { emptyConfState } from './durable-twin.js';
import type { ProcessLife, SimulatedClock } from './sim-clock.js';
import type { SimulatedDisk } from './sim-disk.js';
import type { SnapshotStoreTwin } from './snapshot-store-twin.js';

/** What the simulator watches land on a node's disk (the safety monitor's inputs). */
export interface StorageObserver {
  /** Entries just landed (after the entry of `previousTerm`, if the log knew it). */
  entriesPersisted(previousTerm: number | undefined, entries: readonly Entry[]): void;
  hardStatePersisted(next: HardState, previous: HardState): void;
  snapshotInstalled(metadata: SnapshotMetadata): void;
  snapshotStored(stored: StoredSnapshot): void;
  compacted(index: number): void;
}

/** The disk's behaviour, drawn from the scenario. */
export interface DiskBehaviour {
  /** How long one fsync takes (virtual ms). */
  latencyMs(): number;
  /** Whether this write fails as a full disk does. */
  diskFull(): boolean;
  /** At a crash, whether a write on the disk at that moment lands. */
  inFlightWriteLands(): boolean;
}

type TwinOperation =
  | { readonly kind: 'entries'; readonly entries: readonly Entry[] }
  | { readonly kind: 'hardState'; readonly value: HardState }
  | { readonly kind: 'confState'; readonly value: ConfState }
  | { readonly kind: 'compact'; readonly index: number; readonly term: number }
  | { readonly kind: 'snapshot'; readonly value: SnapshotMetadata };

interface PendingSave {
  readonly operations: readonly TwinOperation[];
  readonly resolve: () => void;
  readonly reject: (error: StorageError) => void;
}

/** What a store is opened over: the durable parts of a node and the process it serves. */
export interface StorageParts {
  readonly log: DurableTwin;
  readonly store: SnapshotStoreTwin;
  readonly disk: SimulatedDisk;
  readonly clock: SimulatedClock;
  readonly life: ProcessLife;
  readonly behaviour: DiskBehaviour;
  readonly observer: StorageObserver;
}

const options = resolveStorageOptions();
const emptyData = new Uint8Array(0);

/**
 * The store's recovery rule at open, the same as `snapshotMatchesLog` in
 * src/storage/durable-storage.ts (not exported there; storage-twin.test.ts checks this copy
 * against the real store): a snapshot stays if the commit index, the installed snapshot or
 * the compaction point covers it, or if the log reaches it at its term.
 */
export function snapshotMatchesLog(log: DurableTwin, metadata: SnapshotMetadata): boolean {
  const coveredIndex = Math.max(log.hardState.commit, log.installedSnapshot?.index ?? 0, log.compactIndex);
  return metadata.index <= coveredIndex || log.termAt(metadata.index) === metadata.term;
}

/** The planted bug: the store's rule before bb86da3, which ignored a log that reaches the snapshot. */
function snapshotWithinCommit(log: DurableTwin, metadata: SnapshotMetadata): boolean {
  return metadata.index <= Math.max(log.hardState.commit, log.installedSnapshot?.index ?? 0, log.compactIndex);
}

export class StorageTwin implements NodeStorage {
  readonly #queue: PendingSave[] = [];
  #flushing: readonly PendingSave[] | undefined;
  #flushScheduled = false;
  #idleWaiters: (() => void)[] = [];
  #projection: Projection;
  #closed = false;
  #healthy = true;
  readonly #planContext: PlanContext;
  /** Snapshot commits on the disk now: at a crash each lands or not. */
  readonly #committing = new Set<() => void>();
  readonly snapshots: NodeStorage['snapshots'];

  private constructor(
    private readonly log: DurableTwin,
    private readonly store: SnapshotStoreTwin,
    private readonly disk: SimulatedDisk,
    private readonly clock: SimulatedClock,
    private readonly life: ProcessLife,
    private readonly behaviour: DiskBehaviour,
    private readonly observer: StorageObserver,
  ) {
    this.#projection = this.#durableProjection();
    this.#planContext = {
      limits: {
        entryBytesMax: options.entryBytesMax,
        saveBytesMax: saveBytesMax(options),
        metadataRecordBytesMax: options.metadataRecordBytesMax,
        snapshotBytesMax: options.snapshotBytesMax,
      },
      settledTerm: (index) => (this.#idle ? this.log.termAt(index) : undefined),
      hasSnapshotFile: (index, term) => this.store.find(index, term) !== undefined,
    };
    this.snapshots = {
      latest: () => this.store.latest(),
      find: (index, term) => this.store.find(index, term),
      // The simulated state machine takes whole-file snapshots only: every chain is one 'full' snapshot.
      chain: (snapshot) => [snapshot],
      begin: (metadata, context, layout) => this.#begin(metadata, context, layout?.format ?? 'full'),
      recordProof: (index, term, proof) => Promise.resolve(this.store.recordProof(index, term, proof)),
      readLock: () => Promise.resolve(() => undefined),
      beginFold: () => undefined,
      settleFold: async () => undefined,
      discardWhere: (unusable) => Promise.resolve(this.store.discardWhere(unusable)),
    };
  }

  /** Opens the store after a start or a crash: removes unfinished snapshot writes and applies the recovery rule. */
  static open(parts: StorageParts): { storage: StorageTwin; discardedSnapshots: SnapshotMetadata[] } {
    const { log, store } = parts;
    store.removeTemporaryDirectories();
    const keep = log.faults.discardSnapshotsBeyondCommit === true ? snapshotWithinCommit : snapshotMatchesLog;
    const discardedSnapshots = store.discardWhere((metadata) => !keep(log, metadata));
    if (log.faults.unguardedSnapshotRetention !== true) store.guardRetention((metadata) => snapshotMatchesLog(log, metadata));
    const storage = new StorageTwin(log, store, parts.disk, parts.clock, parts.life, parts.behaviour, parts.observer);
    return { storage, discardedSnapshots };
  }

  get #idle(): boolean {
    return this.#flushing === undefined && !this.#flushScheduled && this.#queue.length === 0;
  }

  get healthy(): boolean {
    return this.#healthy;
  }

  isEmpty(): boolean {
    const log = this.log;
    return !log.hasHardState && log.confState === null && log.lastIndex() === 0 && this.store.latest() === undefined && this.#idle;
  }

  async bootstrap(confState: ConfState): Promise<void> {
    if (!this.isEmpty()) throw new StorageError('INVALID_ARGUMENT', 'storage already has state; bootstrap is for a fresh node');
    await this.save({ confState });
  }

  save(request: SaveRequest): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageError('CLOSED', 'storage is closed'));
    const working: Projection = { ...this.#projection };
    let operations: TwinOperation[];
    try {
      operations = this.#operationsOf(request, planSave(request, working, this.#planContext).operations);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#projection = working;
    return this.#enqueue(operations);
  }

  /** The planner's checked operations, carrying the values themselves rather than their encoded records. */
  #operationsOf(request: SaveRequest, planned: ReturnType<typeof planSave>['operations']): TwinOperation[] {
    const operations: TwinOperation[] = [];
    const byIndex = new Map((request.entries ?? []).map((entry) => [entry.index, entry]));
    let entries: Entry[] = [];
    for (const operation of planned) {
      if (operation.kind === 'entry') {
        entries.push(byIndex.get(operation.index) as Entry);
        continue;
      }
      if (entries.length > 0) operations.push({ kind: 'entries', entries });
      entries = [];
      if (operation.kind === 'hardState') operations.push({ kind: 'hardState', value: operation.value });
      else if (operation.kind === 'confState') operations.push({ kind: 'confState', value: operation.value });
      else if (operation.kind === 'compact') operations.push({ kind: 'compact', index: operation.index, term: operation.term });
      else {
        // The runtime streams snapshot data through the snapshot store, never inline.
        if (operation.inlineData !== null) throw new StorageError('INVALID_ARGUMENT', 'snapshot data must come through the snapshot store');
        operations.push({ kind: 'snapshot', value: { index: operation.value.index, term: operation.value.term, confState: operation.value.confState } });
      }
    }
    if (entries.length > 0) operations.push({ kind: 'entries', entries });
    return operations;
  }

  async compact(compactIndex: number): Promise<void> {
    this.#assertOpen();
    while (!this.#idle) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
    this.#assertOpen();
    const log = this.log;
    if (!Number.isSafeInteger(compactIndex) || compactIndex < 0) {
      throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} must be a non-negative integer`);
    }
    if (compactIndex <= log.compactIndex) return;
    if (compactIndex > log.lastIndex()) throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} is beyond the last index ${log.lastIndex()}`);
    const covered = Math.max(this.store.latest()?.metadata.index ?? 0, log.installedSnapshot?.index ?? 0);
    if (compactIndex > covered) {
      throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} is beyond the newest snapshot ${covered}; take a snapshot first`);
    }
    const term = log.termAt(compactIndex) as number;
    this.#projection.compactIndex = Math.max(this.#projection.compactIndex, compactIndex);
    await this.#enqueue([{ kind: 'compact', index: compactIndex, term }]);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    while (!this.#idle) await new Promise<void>((resolve) => this.#idleWaiters.push(resolve));
  }

  /** The process died: what is on the disk now lands or not; what is queued is lost. */
  crash(): void {
    this.#closed = true;
    const flushing = this.#flushing;
    if (flushing !== undefined && this.behaviour.inFlightWriteLands()) this.#land(flushing);
    for (const land of this.#committing) if (this.behaviour.inFlightWriteLands()) land();
    this.#committing.clear();
    this.#flushing = undefined;
    this.#queue.length = 0;
  }

  // ---- RaftStorage: the durable log ----

  initialState(): { hardState: HardState; confState: ConfState } {
    this.#assertOpen();
    return { hardState: this.log.hardState, confState: this.log.confState ?? emptyConfState };
  }

  firstIndex(): number {
    return this.log.firstIndex();
  }

  lastIndex(): number {
    return this.log.lastIndex();
  }

  term(index: number): number {
    return this.log.term(index);
  }

  entries(low: number, high: number, maxBytes: number): Entry[] {
    return this.log.entries(low, high, maxBytes);
  }

  /** The newest snapshot's metadata (data is streamed from the snapshot store). */
  snapshot(): Snapshot {
    const stored = this.store.latest()?.metadata;
    const installed = this.log.installedSnapshot;
    if (stored !== undefined && (installed === null || stored.index >= installed.index)) return { metadata: stored, data: emptyData };
    if (installed !== null) return { metadata: installed, data: emptyData };
    return { metadata: { index: 0, term: 0, confState: this.log.confState ?? emptyConfState }, data: emptyData };
  }

  // ---- group commit ----

  #durableProjection(): Projection {
    const log = this.log;
    return { lastIndex: log.lastIndex(), lastTerm: log.lastTerm(), compactIndex: log.compactIndex, hardState: log.hardState };
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError('CLOSED', 'storage is closed');
  }

  #enqueue(operations: readonly TwinOperation[]): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ operations, resolve, reject });
      this.#scheduleFlush();
    });
  }

  /** As the real store: the flush starts in a microtask, so saves made in one synchronous run go to disk together. */
  #scheduleFlush(): void {
    if (this.#flushing !== undefined || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      if (!this.life.alive || this.#queue.length === 0) return;
      const batch = this.#queue.splice(0);
      this.#flushing = batch;
      this.clock.schedule(this.behaviour.latencyMs(), () => this.#finishFlush(batch), this.life);
    });
  }

  #finishFlush(batch: readonly PendingSave[]): void {
    this.#flushing = undefined;
    if (this.behaviour.diskFull()) {
      const failure = new StorageError('DISK_FULL', 'disk full while saving (simulated)');
      this.#healthy = false;
      const rejected = [...batch, ...this.#queue.splice(0)];
      this.#projection = this.#durableProjection();
      for (const save of rejected) save.reject(failure);
    } else {
      this.#land(batch);
      this.#healthy = true;
      for (const save of batch) save.resolve();
    }
    if (this.#queue.length > 0) this.#scheduleFlush();
    if (this.#idle) for (const resolve of this.#idleWaiters.splice(0)) resolve();
  }

  /** The saves reach the durable log, in order; the simulator's monitor watches each part land. */
  #land(batch: readonly PendingSave[]): void {
    const log = this.log;
    for (const save of batch) {
      for (const operation of save.operations) {
        switch (operation.kind) {
          case 'entries': {
            const previousTerm = log.termAt((operation.entries[0] as Entry).index - 1);
            log.applyEntries(operation.entries);
            this.observer.entriesPersisted(previousTerm, operation.entries);
            break;
          }
          case 'hardState':
            this.observer.hardStatePersisted(operation.value, log.hardState);
            log.applyHardState(operation.value);
            break;
          case 'confState':
            log.applyConfState(operation.value);
            break;
          case 'compact':
            log.applyCompact(operation.index, operation.term);
            this.observer.compacted(operation.index);
            break;
          case 'snapshot':
            this.observer.snapshotInstalled(operation.value);
            log.applySnapshot(operation.value);
            break;
        }
      }
    }
  }

  // ---- snapshots ----

  async #begin(metadata: SnapshotMetadata, context: unknown, format: string): Promise<SnapshotWriting> {
    if (format !== 'full') throw new StorageError('INVALID_ARGUMENT', `the simulated store keeps whole-file snapshots, not ${format}`);
    const valid = validateSnapshotMetadata(metadata, 'snapshot');
    const contextJson = JSON.stringify(context ?? null);
    if (contextJson === undefined || Buffer.byteLength(contextJson) > options.snapshotContextBytesMax) {
      throw new StorageError('TOO_LARGE', `snapshot context must be JSON of at most ${options.snapshotContextBytesMax} bytes`);
    }
    const storedContext: unknown = JSON.parse(contextJson);
    const directory = this.store.temporaryDirectory();
    const dataPath = this.store.dataPathIn(directory);
    let finished = false;
    return {
      dataPath,
      pathOf: (name) => {
        throw new Error(`no side file ${name} in a whole-file snapshot`);
      },
      commit: () => {
        if (finished) return Promise.reject(new Error('snapshot writer already finished'));
        finished = true;
        return this.#commitSnapshot(valid, storedContext, directory, dataPath);
      },
      abort: async () => {
        if (finished) return;
        finished = true;
        this.disk.removeUnder(`${directory}/`);
      },
    };
  }

  #commitSnapshot(metadata: SnapshotMetadata, context: unknown, directory: string, dataPath: string): Promise<StoredSnapshot> {
    return new Promise<StoredSnapshot>((resolve, reject) => {
      let published: StoredSnapshot | undefined;
      const land = (): void => {
        if (!this.disk.has(dataPath)) return;
        published = this.store.publish(metadata, context, directory);
        this.observer.snapshotStored(published);
      };
      this.#committing.add(land);
      this.clock.schedule(
        this.behaviour.latencyMs(),
        () => {
          this.#committing.delete(land);
          if (!this.disk.has(dataPath)) return reject(new StorageError('IO_ERROR', `snapshot data ${dataPath} was never written`));
          if (this.behaviour.diskFull()) {
            this.disk.removeUnder(`${directory}/`);
            return reject(new StorageError('DISK_FULL', 'disk full while committing a snapshot (simulated)'));
          }
          land();
          resolve(published as StoredSnapshot);
        },
        this.life,
      );
    });
  }
}
