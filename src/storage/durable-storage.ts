/**
 * The durable Raft store: log segments, hard state and membership records, snapshot
 * files, behind the synchronous RaftStorage reads the core needs and one asynchronous
 * `save()` the runtime awaits once per Ready turn.
 *
 * Group commit: save() checks and encodes its request at once, queues it, and a single
 * flush loop writes everything queued as one frame with one write and one fdatasync
 * (fsync plus a directory fsync when it starts a new segment). Saves that arrive while a
 * flush is on the disk go together in the next one. All file I/O on this path is
 * asynchronous (libuv thread pool); reads for the core use readSync on the page cache.
 *
 * Layout of the data directory: LOCK, log/<sequence>.seg, snapshots/snapshot-<index>-<term>/.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ConfState, Entry, HardState, RaftStorage, Snapshot, SnapshotMetadata } from '../raft/types.js';
import { RaftStorageError } from '../raft/types.js';
import { ENTRY_OVERHEAD_BYTES } from '../raft/log-unstable.js';
import { StorageError, assert, storageErrorFromSystem } from './errors.js';
import { lockDirectory } from './directory-lock.js';
import { closeFile } from './file-io.js';
import type { LogState, SegmentInfo } from './log-state.js';
import { replayLog, type RecoveryReport } from './log-replay.js';
import { SegmentFiles } from './segment-files.js';
import { resolveStorageOptions, saveBytesMax, type StorageOptions } from './options.js';
import {
  ENTRY_RECORD_HEADER_BYTES,
  FRAME_HEADER_BYTES,
  SEGMENT_FILE_BYTES_MAX,
  RecordKind,
  decodeEntryRecord,
  encodeFrame,
  encodeMetadataRecord,
  verifyRecord,
} from './record-format.js';
import { planSave, type Operation, type PlanContext, type Projection, type SaveRequest } from './save-plan.js';
import { SnapshotStore } from './snapshot-store.js';

const EMPTY_DATA = new Uint8Array(0);
const EMPTY_CONF_STATE: ConfState = { voters: [], learners: [] };
/** compact() waits for the queue to drain; it gives up after this many rounds of new saves. */
const DRAIN_ROUNDS_MAX = 1000;

interface PendingSave {
  readonly operations: readonly Operation[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: StorageError) => void;
}

export interface StorageStats {
  /** Flushes (one write + one sync each) completed, and the saves they carried. */
  readonly flushCount: number;
  readonly savedCount: number;
  readonly segmentCount: number;
  /** Bytes of saves waiting for the disk. */
  readonly queuedBytes: number;
  /** The segment being appended to and its durable length (0 when there is none). */
  readonly activeSegmentSequence: number;
  readonly activeSegmentBytes: number;
}


/**
 * Whether a stored snapshot is state this node may start from. Every snapshot, taken here
 * or received from a leader, is of committed entries. One the log reaches at the same
 * term (or that is covered by the commit index, the compacted prefix or the installed
 * snapshot) agrees with this log by log matching, so it stays, even though the commit
 * index is saved lazily and may lag it after a crash. A received snapshot is written to
 * the store before its install record reaches the log; if that record never became
 * durable and the log does not reach the snapshot, the file must not be mistaken for state.
 */
function snapshotMatchesLog(state: LogState, metadata: SnapshotMetadata): boolean {
  const coveredIndex = Math.max(state.hardState.commit, state.installedSnapshot?.index ?? 0, state.compactIndex);
  return metadata.index <= coveredIndex || state.termAt(metadata.index) === metadata.term;
}

export class DurableStorage implements RaftStorage {
  private readonly queue: PendingSave[] = [];
  private queuedBytes = 0;
  private flushing = false;
  private flushScheduled = false;
  private idleWaiters: (() => void)[] = [];
  private projection: Projection;
  private closed = false;
  private healthyNow = true;
  private lastErrorSeen: StorageError | undefined;
  private readonly planContext: PlanContext;
  private readonly segmentFiles: SegmentFiles;
  private flushCount = 0;
  private savedCount = 0;

  private constructor(
    readonly directory: string,
    readonly options: StorageOptions,
    private readonly state: LogState,
    readonly snapshots: SnapshotStore,
    /** What open() repaired (torn tails cut off); the runtime should log it. */
    readonly recovery: RecoveryReport,
    private readonly unlock: () => void,
  ) {
    this.segmentFiles = new SegmentFiles(join(directory, 'log'), state);
    this.projection = this.durableProjection();
    this.planContext = {
      limits: {
        entryBytesMax: options.entryBytesMax,
        saveBytesMax: saveBytesMax(options),
        metadataRecordBytesMax: options.metadataRecordBytesMax,
        snapshotBytesMax: options.snapshotBytesMax,
      },
      settledTerm: (entryIndex) => (this.idle ? this.state.termAt(entryIndex) : undefined),
      hasSnapshotFile: (index, term) => this.snapshots.find(index, term) !== undefined,
    };
  }

  /** Opens (creating if needed) the store in `directory`; throws LOCKED if another process has it, CORRUPT on damage. */
  static async open(directory: string, overrides: Partial<StorageOptions> = {}): Promise<DurableStorage> {
    const options = resolveStorageOptions(overrides);
    try {
      await fs.promises.mkdir(join(directory, 'log'), { recursive: true });
    } catch (error) {
      throw storageErrorFromSystem(error, `creating data directory ${directory}`);
    }
    const unlock = lockDirectory(directory);
    try {
      const snapshots = await SnapshotStore.open(join(directory, 'snapshots'), {
        retainCount: options.snapshotRetainCount,
        snapshotBytesMax: options.snapshotBytesMax,
        contextBytesMax: options.snapshotContextBytesMax,
      });
      // Segments written with other options may be larger than these allow; only the format caps them.
      const { state, repairs } = await replayLog(join(directory, 'log'), SEGMENT_FILE_BYTES_MAX);
      const discarded = await snapshots.discardWhere((metadata) => !snapshotMatchesLog(state, metadata));
      const report: RecoveryReport = { repairs, discardedSnapshots: discarded.map((info) => info.metadata) };
      return new DurableStorage(directory, options, state, snapshots, report, unlock);
    } catch (error) {
      unlock();
      throw storageErrorFromSystem(error, `opening storage in ${directory}`);
    }
  }

  get logDirectory(): string {
    return join(this.directory, 'log');
  }

  /** No save is queued, scheduled or on the disk: the durable state is all there is. */
  private get idle(): boolean {
    return !this.flushing && !this.flushScheduled && this.queue.length === 0;
  }

  /** False after a failed write until a later one succeeds; for /readyz. */
  get healthy(): boolean {
    return this.healthyNow;
  }

  get lastError(): StorageError | undefined {
    return this.lastErrorSeen;
  }

  /** True for a node that has never stored anything (no hard state, membership, entries or snapshot). */
  isEmpty(): boolean {
    const state = this.state;
    return !state.hasHardState && state.confState === null && state.lastIndex === 0 && this.snapshots.latest() === undefined && this.idle;
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
    if (this.closed) return Promise.reject(new StorageError('CLOSED', `storage in ${this.directory} is closed`));
    const working: Projection = { ...this.projection };
    let plan: { operations: Operation[]; bytes: number };
    try {
      plan = planSave(request, working, this.planContext);
      this.checkQueueRoom(plan.bytes);
    } catch (error) {
      return Promise.reject(error);
    }
    this.projection = working;
    return this.enqueue(plan.operations, plan.bytes);
  }

  /**
   * Removes log entries up to and including `compactIndex`, which a snapshot must cover.
   * Whole segments whose live entries are all compacted are deleted.
   */
  async compact(compactIndex: number): Promise<void> {
    this.assertOpen();
    await this.drainQueue();
    this.assertOpen();
    const state = this.state;
    if (!Number.isSafeInteger(compactIndex) || compactIndex < 0) throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} must be a non-negative integer`);
    if (compactIndex <= state.compactIndex) return;
    if (compactIndex > state.lastIndex) throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} is beyond the last index ${state.lastIndex}`);
    const covered = Math.max(this.snapshots.latest()?.metadata.index ?? 0, state.installedSnapshot?.index ?? 0);
    if (compactIndex > covered) throw new StorageError('INVALID_ARGUMENT', `compact index ${compactIndex} is beyond the newest snapshot ${covered}; take a snapshot first`);
    const term = state.termAt(compactIndex);
    assert(term !== undefined, `term of ${compactIndex} is known`);
    const record = encodeMetadataRecord(RecordKind.compact, { index: compactIndex, term });
    this.checkQueueRoom(record.length);
    this.projection.compactIndex = Math.max(this.projection.compactIndex, compactIndex);
    await this.enqueue([{ kind: 'compact', index: compactIndex, term, record }], record.length);
  }

  /** Resolves when every save queued so far has been flushed (or failed). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Waits for queued saves, closes files, releases the lock. Later calls reject with CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.whenIdle();
    for (const segment of this.state.segments) await closeFile(segment.fd).catch(() => undefined);
    this.state.segments.length = 0;
    this.unlock();
  }

  // ---- RaftStorage: synchronous reads of the durable log ----

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    this.assertOpen();
    return { hardState: this.state.hardState, confState: this.state.confState ?? EMPTY_CONF_STATE };
  }

  firstIndex(): number {
    this.assertOpen();
    return this.state.compactIndex + 1;
  }

  lastIndex(): number {
    this.assertOpen();
    return this.state.lastIndex;
  }

  term(entryIndex: number): number {
    this.assertOpen();
    const state = this.state;
    if (entryIndex < state.compactIndex) throw new RaftStorageError('COMPACTED', `entry ${entryIndex} is compacted (snapshot at ${state.compactIndex})`);
    if (entryIndex > state.lastIndex) throw new RaftStorageError('UNAVAILABLE', `entry ${entryIndex} is beyond the last index ${state.lastIndex}`);
    const term = state.termAt(entryIndex);
    assert(term !== undefined, `term of ${entryIndex} is known`);
    return term;
  }

  /**
   * Entries in [low, high), stopping before maxBytes is exceeded (at least one entry).
   * An entry counts as its data plus ENTRY_OVERHEAD_BYTES, as the core's own limits do.
   */
  entries(low: number, high: number, maxBytes: number): Entry[] {
    this.assertOpen();
    const state = this.state;
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || low > high) {
      throw new StorageError('INVALID_ARGUMENT', `entries range [${low}, ${high}) is invalid`);
    }
    if (low <= state.compactIndex) throw new RaftStorageError('COMPACTED', `entry ${low} is compacted (snapshot at ${state.compactIndex})`);
    if (high > state.lastIndex + 1) throw new RaftStorageError('UNAVAILABLE', `entry ${high - 1} is beyond the last index ${state.lastIndex}`);
    let end = low;
    let totalBytes = 0;
    while (end < high) {
      const entryBytes = state.locations.recordBytesOf(end) - ENTRY_RECORD_HEADER_BYTES + ENTRY_OVERHEAD_BYTES;
      if (end > low && totalBytes + entryBytes > maxBytes) break;
      totalBytes += entryBytes;
      end++;
    }
    return this.readEntries(low, end);
  }

  /** The newest snapshot's metadata. Its data is left empty: stream the file from `snapshots`. */
  snapshot(): Snapshot {
    this.assertOpen();
    const stored = this.snapshots.latest()?.metadata;
    const installed = this.state.installedSnapshot;
    if (stored !== undefined && (installed === null || stored.index >= installed.index)) return { metadata: stored, data: EMPTY_DATA };
    if (installed !== null) return { metadata: installed, data: EMPTY_DATA };
    return { metadata: { index: 0, term: 0, confState: this.state.confState ?? EMPTY_CONF_STATE }, data: EMPTY_DATA };
  }

  /** Counters for metrics and tests. */
  stats(): StorageStats {
    const active = this.state.activeSegment;
    return {
      flushCount: this.flushCount,
      savedCount: this.savedCount,
      segmentCount: this.state.segments.length,
      queuedBytes: this.queuedBytes,
      activeSegmentSequence: active?.sequence ?? 0,
      activeSegmentBytes: active?.bytes ?? 0,
    };
  }

  /** How many segment files the log uses now (for tests and metrics). */
  segmentCount(): number {
    return this.state.segments.length;
  }

  // ---- reading ----

  private assertOpen(): void {
    if (this.closed) throw new StorageError('CLOSED', `storage in ${this.directory} is closed`);
  }

  private readEntries(low: number, end: number): Entry[] {
    const result: Entry[] = [];
    let next = low;
    while (next < end) {
      const first = this.state.locations.get(next);
      let last = next;
      let spanEnd = first.offset + first.recordBytes;
      while (last + 1 < end) {
        const candidate = this.state.locations.get(last + 1);
        const candidateEnd = candidate.offset + candidate.recordBytes;
        if (candidate.segmentSequence !== first.segmentSequence || candidate.offset < spanEnd) break;
        if (candidateEnd - first.offset > this.options.readChunkBytesMax) break;
        spanEnd = candidateEnd;
        last++;
      }
      this.readSpan(first.segmentSequence, first.offset, spanEnd, next, last, result);
      next = last + 1;
    }
    return result;
  }

  private segmentBySequence(sequence: number): SegmentInfo {
    const segments = this.state.segments;
    const position = sequence - segments[0]!.sequence;
    const segment = segments[position];
    assert(segment !== undefined && segment.sequence === sequence, `segment ${sequence} is open`);
    return segment;
  }

  private readSpan(sequence: number, start: number, end: number, firstIndex: number, lastIndex: number, result: Entry[]): void {
    const segment = this.segmentBySequence(sequence);
    const buffer = Buffer.allocUnsafe(end - start);
    try {
      let filled = 0;
      while (filled < buffer.length) {
        const count = fs.readSync(segment.fd, buffer, filled, buffer.length - filled, start + filled);
        if (count === 0) throw new StorageError('CORRUPT', `log segment ${segment.path} ends before byte offset ${end}`);
        filled += count;
      }
    } catch (error) {
      const failure = storageErrorFromSystem(error, `reading ${segment.path}`);
      this.markFailure(failure);
      throw failure;
    }
    for (let entryIndex = firstIndex; entryIndex <= lastIndex; entryIndex++) {
      const location = this.state.locations.get(entryIndex);
      const relative = location.offset - start;
      const verdict = verifyRecord(buffer, relative, relative + location.recordBytes);
      const entry = 'problem' in verdict ? undefined : decodeEntryRecord(buffer, relative);
      if (entry === undefined || entry.index !== entryIndex || entry.term !== location.term) {
        const failure = new StorageError('CORRUPT', `log segment ${segment.path} is corrupt at byte offset ${location.offset}: entry ${entryIndex} ${'problem' in verdict ? verdict.problem : 'has the wrong index or term'}`);
        this.markFailure(failure);
        throw failure;
      }
      result.push(entry);
    }
  }

  // ---- group commit ----

  private durableProjection(): Projection {
    const state = this.state;
    return { lastIndex: state.lastIndex, lastTerm: state.lastTerm, compactIndex: state.compactIndex, hardState: state.hardState };
  }

  /** Throws OVERLOADED if `bytes` more would exceed pendingBytesMax; called before the projection changes. */
  private checkQueueRoom(bytes: number): void {
    if (this.queuedBytes + bytes > this.options.pendingBytesMax) {
      throw new StorageError('OVERLOADED', `saves waiting for the disk (${this.queuedBytes} bytes) plus ${bytes} would exceed pendingBytesMax ${this.options.pendingBytesMax}`);
    }
  }

  private enqueue(operations: readonly Operation[], bytes: number): Promise<void> {
    assert(this.queuedBytes + bytes <= this.options.pendingBytesMax, 'queue room was checked');
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ operations, bytes, resolve, reject });
      this.queuedBytes += bytes;
      this.scheduleFlush();
    });
  }

  private scheduleFlush(): void {
    if (this.flushing || this.flushScheduled) return;
    this.flushScheduled = true;
    queueMicrotask(() => {
      this.flushScheduled = false;
      void this.flushLoop();
    });
  }

  private takeBatch(): PendingSave[] {
    const limit = this.planContext.limits.saveBytesMax;
    const batch: PendingSave[] = [];
    let bytes = 0;
    while (this.queue.length > 0) {
      const next = this.queue[0]!;
      if (batch.length > 0 && bytes + next.bytes > limit) break;
      batch.push(this.queue.shift()!);
      bytes += next.bytes;
      this.queuedBytes -= next.bytes;
    }
    return batch;
  }

  private async flushLoop(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.takeBatch();
        try {
          await this.flushBatch(batch);
        } catch (error) {
          this.failQueued(batch, storageErrorFromSystem(error, `saving to ${this.logDirectory}`));
          continue;
        }
        this.healthyNow = true;
        this.flushCount++;
        this.savedCount += batch.length;
        for (const save of batch) save.resolve();
      }
    } finally {
      this.flushing = false;
      const waiters = this.idleWaiters;
      this.idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  private failQueued(batch: readonly PendingSave[], failure: StorageError): void {
    this.markFailure(failure);
    const rejected = [...batch, ...this.queue.splice(0)];
    this.queuedBytes = 0;
    this.projection = this.durableProjection();
    for (const save of rejected) save.reject(failure);
  }

  private markFailure(failure: StorageError): void {
    this.healthyNow = false;
    this.lastErrorSeen = failure;
  }

  private async flushBatch(batch: readonly PendingSave[]): Promise<void> {
    const operations = batch.flatMap((save) => save.operations);
    if (operations.length === 0) return;
    for (const operation of operations) {
      if (operation.kind === 'snapshot' && operation.inlineData !== null) {
        await this.snapshots.writeBytes(operation.value, operation.inlineData);
      }
    }
    await this.segmentFiles.rollBackFailedWrite();
    let records = operations.map((operation) => operation.record);
    const active = this.state.activeSegment;
    let frameBytes = FRAME_HEADER_BYTES + records.reduce((sum, record) => sum + record.length, 0);
    const roll = active === undefined || (active.frameCount > 0 && active.bytes + frameBytes > this.options.segmentBytesMax);
    let checkpointBytes = 0;
    if (roll) {
      const checkpoint = encodeMetadataRecord(RecordKind.checkpoint, this.state.checkpoint());
      checkpointBytes = checkpoint.length;
      records = [checkpoint, ...records];
      frameBytes += checkpointBytes;
    }
    const frame = encodeFrame(records);
    assert(frame.length === frameBytes, 'frame length matches its records');
    const segment = roll ? await this.segmentFiles.writeNewSegment(frame) : await this.segmentFiles.appendFrame(active!, frame);
    this.applyOperations(segment, segment.bytes + FRAME_HEADER_BYTES + checkpointBytes, operations);
    segment.bytes += frame.length;
    segment.frameCount++;
    if (operations.some((operation) => operation.kind === 'compact' || operation.kind === 'snapshot')) {
      const failure = await this.segmentFiles.removeObsoleteSegments();
      // The save is durable; a segment that could not be deleted yet only costs disk space.
      if (failure !== undefined) this.lastErrorSeen = failure;
    }
  }

  private applyOperations(segment: SegmentInfo, firstRecordOffset: number, operations: readonly Operation[]): void {
    let offset = firstRecordOffset;
    for (const operation of operations) {
      switch (operation.kind) {
        case 'entry':
          this.state.applyEntry(operation.index, operation.term, segment, offset, operation.record.length);
          break;
        case 'hardState':
          this.state.applyHardState(operation.value);
          break;
        case 'confState':
          this.state.applyConfState(operation.value);
          break;
        case 'compact':
          this.state.applyCompact(operation.index, operation.term);
          break;
        case 'snapshot':
          this.state.applySnapshot(operation.value);
          break;
      }
      offset += operation.record.length;
    }
  }

  private async drainQueue(): Promise<void> {
    for (let round = 0; round < DRAIN_ROUNDS_MAX; round++) {
      if (this.idle) return;
      await this.whenIdle();
    }
    throw new StorageError('OVERLOADED', `compact could not wait for the save queue to drain after ${DRAIN_ROUNDS_MAX} rounds`);
  }
}
