/**
 * The durable Raft store: log segments, hard state and membership records, snapshot
 * files, behind the synchronous RaftStorage reads the core needs and one asynchronous
 * `save()` the runtime awaits once per Ready turn.
 *
 * Group commit (group-commit.ts): save() checks and encodes its request at once, queues
 * it, and a single flush loop writes everything queued as one frame with one write and
 * one fdatasync (fsync plus a directory fsync when it starts a new segment; see
 * log-writer.ts). Saves that arrive while a flush is on the disk go together in the
 * next one. All file I/O on this path is asynchronous (libuv thread pool); reads for
 * the core (log-reader.ts) use readSync on the page cache. Opening and recovery are in
 * open-store.ts.
 *
 * Layout of the data directory: LOCK, log/<sequence>.seg, snapshots/snapshot-<index>-<term>/.
 */
import { join } from 'node:path';
import type { ConfState, Entry, HardState, RaftStorage, Snapshot } from '../raft/types.js';
import { StorageError } from './errors.js';
import { assert } from '../common/assert.js';
import { closeFile } from './file-io.js';
import { GroupCommitQueue } from './group-commit.js';
import type { RecoveryReport } from './log-replay.js';
import { LogReader } from './log-reader.js';
import { RecentEntries } from './recent-entries.js';
import type { LogState } from './log-state.js';
import { LogWriter } from './log-writer.js';
import { openStore } from './open-store.js';
import { resolveStorageOptions, saveBytesMax, type StorageOptions } from './options.js';
import { RecordKind, encodeMetadataRecord } from './record-format.js';
import { planSave, type Operation, type PlanContext, type Projection, type SaveRequest } from './save-plan.js';
import { SegmentFiles } from './segment-files.js';
import type { SnapshotStore } from './snapshot-store.js';

interface StorageStats {
  /** Flushes (one write + one sync each) completed, and the saves they carried. */
  readonly flushCount: number;
  readonly savedCount: number;
  readonly segmentCount: number;
  /** Bytes of saves waiting for the disk. */
  readonly queuedBytes: number;
  /** The segment being appended to and its durable length (0 when there is none). */
  readonly activeSegmentSequence: number;
  readonly activeSegmentBytes: number;
  /** The active segment file's length: past its durable length, preallocated zeros. */
  readonly activeSegmentFileBytes: number;
}

export class DurableStorage implements RaftStorage {
  /** The durable state as the saves queued so far will leave it; save() plans against it. */
  #projection: Projection;
  #closed = false;
  #healthyNow = true;
  #lastErrorSeen: StorageError | undefined;
  readonly #planContext: PlanContext;
  readonly #commits: GroupCommitQueue;
  readonly #reader: LogReader;
  readonly #segmentFiles: SegmentFiles;
  readonly #state: LogState;
  readonly #unlock: () => void;

  private constructor(
    readonly directory: string,
    readonly options: StorageOptions,
    state: LogState,
    readonly snapshots: SnapshotStore,
    /** What open() repaired (torn tails cut off); the runtime should log it. */
    readonly recovery: RecoveryReport,
    unlock: () => void,
  ) {
    this.#state = state;
    this.#unlock = unlock;
    const segmentFiles = new SegmentFiles(join(directory, 'log'), state, options);
    this.#segmentFiles = segmentFiles;
    const recent = new RecentEntries(options.recentEntriesBytesMax);
    const writer = new LogWriter(state, segmentFiles, snapshots, recent, options.segmentBytesMax, (failure) => {
      this.#lastErrorSeen = failure;
    });
    this.#reader = new LogReader(state, snapshots, recent, options.readChunkBytesMax, (failure) => this.#markFailure(failure));
    this.#projection = this.#durableProjection();
    this.#planContext = {
      limits: {
        entryBytesMax: options.entryBytesMax,
        saveBytesMax: saveBytesMax(options),
        metadataRecordBytesMax: options.metadataRecordBytesMax,
        snapshotBytesMax: options.snapshotBytesMax,
      },
      settledTerm: (entryIndex) => (this.#commits.idle ? this.#state.termAt(entryIndex) : undefined),
      hasSnapshotFile: (index, term) => this.snapshots.find(index, term) !== undefined,
    };
    this.#commits = new GroupCommitQueue({
      pendingBytesMax: options.pendingBytesMax,
      saveBytesMax: this.#planContext.limits.saveBytesMax,
      logDirectory: this.logDirectory,
      write: (operations) => writer.write(operations),
      onFlushed: () => {
        this.#healthyNow = true;
      },
      onFlushFailed: (failure) => {
        this.#markFailure(failure);
        this.#projection = this.#durableProjection();
      },
    });
  }

  /** Opens (creating if needed) the store in `directory`; throws LOCKED if another process has it, CORRUPT on damage. */
  static async open(directory: string, overrides: Partial<StorageOptions> = {}): Promise<DurableStorage> {
    const options = resolveStorageOptions(overrides);
    return openStore(directory, options, ({ state, snapshots, report, unlock }) => new DurableStorage(directory, options, state, snapshots, report, unlock));
  }

  get logDirectory(): string {
    return join(this.directory, 'log');
  }

  /** False after a failed write until a later one succeeds; for /readyz. */
  get healthy(): boolean {
    return this.#healthyNow;
  }

  get lastError(): StorageError | undefined {
    return this.#lastErrorSeen;
  }

  /** True for a node that has never stored anything (no hard state, membership, entries or snapshot). */
  isEmpty(): boolean {
    const state = this.#state;
    return !state.hasHardState && state.confState === null && state.lastIndex === 0 && this.snapshots.latest() === undefined && this.#commits.idle;
  }

  /** Initialises a fresh store with its first membership (a one-node cluster, or the expected peers). */
  async bootstrap(confState: ConfState): Promise<void> {
    if (!this.isEmpty()) throw new StorageError('INVALID_ARGUMENT', `storage in ${this.directory} already has state; bootstrap is for a fresh node`);
    await this.save({ confState });
  }

  /**
   * Persists hard state, entries, an installed snapshot and membership, in one group
   * commit with whatever else is queued. Resolves once durable; rejects with
   * StorageError (INVALID_ARGUMENT / TOO_LARGE before anything is written, DISK_FULL /
   * IO_ERROR if the disk failed: then nothing of this save is stored and it may be retried).
   * A save queued behind a failed one is rejected with the same error.
   */
  save(request: SaveRequest): Promise<void> {
    if (this.#closed) return Promise.reject(new StorageError('CLOSED', `storage in ${this.directory} is closed`));
    const working: Projection = { ...this.#projection };
    let plan: { operations: Operation[]; bytes: number };
    try {
      plan = planSave(request, working, this.#planContext);
      this.#commits.checkRoom(plan.bytes);
    } catch (error) {
      return Promise.reject(error);
    }
    this.#projection = working;
    return this.#commits.enqueue(plan.operations, plan.bytes);
  }

  /**
   * Removes log entries up to and including `compactIndex`, which a snapshot must cover.
   * Whole segments whose live entries are all compacted are deleted.
   */
  async compact(compactIndex: number): Promise<void> {
    this.#assertOpen();
    await this.#commits.drain();
    this.#assertOpen();
    const state = this.#state;
    if (!Number.isSafeInteger(compactIndex) || compactIndex < 0)
      throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} must be a non-negative integer`);
    if (compactIndex <= state.compactIndex) return;
    if (compactIndex > state.lastIndex) throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} is beyond the last index ${state.lastIndex}`);
    const covered = Math.max(this.snapshots.latest()?.metadata.index ?? 0, state.installedSnapshot?.index ?? 0);
    if (compactIndex > covered)
      throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} is beyond the newest snapshot ${covered}; take a snapshot first`);
    const term = state.termAt(compactIndex);
    assert(term !== undefined, `term of ${compactIndex} is known`);
    const record = encodeMetadataRecord(RecordKind.compact, { index: compactIndex, term });
    this.#commits.checkRoom(record.length);
    this.#projection.compactIndex = Math.max(this.#projection.compactIndex, compactIndex);
    await this.#commits.enqueue([{ kind: 'compact', index: compactIndex, term, record }], record.length);
  }

  /** Resolves when every save queued so far has been flushed (or failed). */
  whenIdle(): Promise<void> {
    return this.#commits.whenIdle();
  }

  /** Waits for queued saves, closes files, releases the lock. Later calls reject with CLOSED. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.whenIdle();
    await this.#segmentFiles.settled();
    for (const segment of this.#state.segments) await closeFile(segment.fd).catch(() => undefined);
    this.#state.segments.length = 0;
    this.#unlock();
  }

  // ---- RaftStorage: synchronous reads of the durable log (log-reader.ts) ----

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    this.#assertOpen();
    return this.#reader.initialState();
  }

  firstIndex(): number {
    this.#assertOpen();
    return this.#reader.firstIndex();
  }

  lastIndex(): number {
    this.#assertOpen();
    return this.#reader.lastIndex();
  }

  term(entryIndex: number): number {
    this.#assertOpen();
    return this.#reader.term(entryIndex);
  }

  /**
   * Entries in [low, high), stopping before bytesMax is exceeded (at least one entry).
   * An entry counts as its data plus entryOverheadBytes, as the core's own limits do.
   */
  entries(low: number, high: number, bytesMax: number): Entry[] {
    this.#assertOpen();
    return this.#reader.entries(low, high, bytesMax);
  }

  /** The newest snapshot's metadata. Its data is left empty: stream the file from `snapshots`. */
  snapshot(): Snapshot {
    this.#assertOpen();
    return this.#reader.snapshot();
  }

  /** Counters for metrics and tests. */
  stats(): StorageStats {
    const active = this.#state.activeSegment;
    return {
      flushCount: this.#commits.flushCount,
      savedCount: this.#commits.savedCount,
      segmentCount: this.#state.segments.length,
      queuedBytes: this.#commits.queuedBytes,
      activeSegmentSequence: active?.sequence ?? 0,
      activeSegmentBytes: active?.bytes ?? 0,
      activeSegmentFileBytes: active?.fileBytes ?? 0,
    };
  }

  /** How many segment files the log uses now (for tests and metrics). */
  segmentCount(): number {
    return this.#state.segments.length;
  }

  #assertOpen(): void {
    if (this.#closed) throw new StorageError('CLOSED', `storage in ${this.directory} is closed`);
  }

  #markFailure(failure: StorageError): void {
    this.#healthyNow = false;
    this.#lastErrorSeen = failure;
  }

  #durableProjection(): Projection {
    const state = this.#state;
    return { lastIndex: state.lastIndex, lastTerm: state.lastTerm, compactIndex: state.compactIndex, hardState: state.hardState };
  }
}
