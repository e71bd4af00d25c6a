/**
 * Writes one group commit to the log: snapshot data that came inline goes to the
 * snapshot store first, then all records go as one frame to the active segment (or to
 * a new segment, which starts with a checkpoint of the log state, when the active one
 * would outgrow segmentBytesMax). Only once the frame is durable does the in-memory
 * log state learn of the records, and the recent entries hold them (recent-entries.ts).
 */
import type { StorageError } from './errors.js';
import { assert } from '../common/assert.js';
import type { LogState, SegmentInfo } from './log-state.js';
import { entryRecordHeaderBytes, frameHeaderBytes, RecordKind, encodeFrame, encodeMetadataRecord } from './record-format.js';
import type { RecentEntries } from './recent-entries.js';
import type { Operation } from './save-plan.js';
import type { SegmentFiles } from './segment-files.js';
import type { SnapshotStore } from './snapshot-store.js';

export class LogWriter {
  readonly #state: LogState;
  readonly #segmentFiles: SegmentFiles;
  readonly #snapshots: SnapshotStore;
  readonly #recent: RecentEntries;
  readonly #segmentBytesMax: number;
  /** Old segments could not be deleted after a durable save: it only costs disk space, but is worth reporting. */
  readonly #onCleanupFailure: (failure: StorageError) => void;

  constructor(
    state: LogState,
    segmentFiles: SegmentFiles,
    snapshots: SnapshotStore,
    recent: RecentEntries,
    segmentBytesMax: number,
    onCleanupFailure: (failure: StorageError) => void,
  ) {
    this.#state = state;
    this.#segmentFiles = segmentFiles;
    this.#snapshots = snapshots;
    this.#recent = recent;
    this.#segmentBytesMax = segmentBytesMax;
    this.#onCleanupFailure = onCleanupFailure;
  }

  async write(operations: readonly Operation[]): Promise<void> {
    if (operations.length === 0) return;
    for (const operation of operations) {
      if (operation.kind === 'snapshot' && operation.inlineData !== null) {
        await this.#snapshots.writeBytes(operation.value, operation.inlineData);
      }
    }
    await this.#segmentFiles.rollBackFailedWrite();
    let records = operations.map((operation) => operation.record);
    const active = this.#state.activeSegment;
    let frameBytes = frameHeaderBytes + records.reduce((sum, record) => sum + record.length, 0);
    const roll = active === undefined || (active.frameCount > 0 && active.bytes + frameBytes > this.#segmentBytesMax);
    let checkpointBytes = 0;
    if (roll) {
      const checkpoint = encodeMetadataRecord(RecordKind.checkpoint, this.#state.checkpoint());
      checkpointBytes = checkpoint.length;
      records = [checkpoint, ...records];
      frameBytes += checkpointBytes;
    }
    const frame = encodeFrame(records);
    assert(frame.length === frameBytes, 'frame length matches its records');
    if (roll) await this.#segmentFiles.trimActive();
    const segment = roll ? await this.#segmentFiles.writeNewSegment(frame) : await this.#segmentFiles.appendFrame(active!, frame);
    this.#applyOperations(segment, segment.bytes + frameHeaderBytes + checkpointBytes, operations);
    segment.bytes += frame.length;
    segment.fileBytes = Math.max(segment.fileBytes, segment.bytes);
    segment.frameCount++;
    this.#segmentFiles.preallocate(segment);
    if (operations.some((operation) => operation.kind === 'compact' || operation.kind === 'snapshot')) {
      const failure = await this.#segmentFiles.removeObsoleteSegments();
      // The save is durable; a segment that could not be deleted yet only costs disk space.
      if (failure !== undefined) this.#onCleanupFailure(failure);
    }
  }

  #applyOperations(segment: SegmentInfo, firstRecordOffset: number, operations: readonly Operation[]): void {
    let offset = firstRecordOffset;
    for (const operation of operations) {
      switch (operation.kind) {
        case 'entry': {
          const record = operation.record;
          this.#state.applyEntry(operation.index, operation.term, segment, offset, record.length);
          // A copy, not a view: a small record lies in Node's shared 8 KiB buffer pool, and a
          // view would keep the whole slab alive for as long as the entry is held.
          const data = new Uint8Array(record.subarray(entryRecordHeaderBytes));
          this.#recent.put({ index: operation.index, term: operation.term, type: operation.entryType, data }, segment.sequence, offset, record.length);
          break;
        }
        case 'hardState':
          this.#state.applyHardState(operation.value);
          break;
        case 'confState':
          this.#state.applyConfState(operation.value);
          break;
        case 'compact':
          this.#state.applyCompact(operation.index, operation.term);
          break;
        case 'snapshot':
          this.#state.applySnapshot(operation.value);
          this.#recent.clear();
          break;
      }
      offset += operation.record.length;
    }
  }
}
