/** The named bounds of the storage layer, with their defaults and consistency checks. */
import { StorageError } from './errors.js';
import { entryRecordHeaderBytes, frameHeaderBytes, segmentFileBytesMax } from './record-format.js';

export interface StorageOptions {
  /** A segment file rolls over once the next frame would take it past this size. */
  readonly segmentBytesMax: number;
  /** Largest entry data accepted by save(). */
  readonly entryBytesMax: number;
  /** Largest frame (one group-commit write). One save() must fit in one frame. */
  readonly flushBytesMax: number;
  /** Bytes of saves waiting for the disk before save() answers OVERLOADED. */
  readonly pendingBytesMax: number;
  /** Largest encoded metadata record (hard state, membership, checkpoint). */
  readonly metadataRecordBytesMax: number;
  /** Largest single read from a segment when serving entries(). */
  readonly readChunkBytesMax: number;
  /**
   * The newest saved entries held in memory for entries() (recent-entries.ts), in bytes
   * of data plus a per-entry overhead; 0 holds none and every read goes to the segments.
   */
  readonly recentEntriesBytesMax: number;
  /** Snapshots kept (newest first). */
  readonly snapshotRetainCount: number;
  readonly snapshotBytesMax: number;
  readonly snapshotContextBytesMax: number;
  /**
   * How far past its last frame the active segment is kept written with zeros and
   * fsynced (0: not at all). An fdatasync that only overwrites such bytes need not commit
   * the file's new size to the file system journal, so each group commit's sync costs less.
   */
  readonly preallocationBytes: number;
}

export const defaultStorageOptions: StorageOptions = {
  segmentBytesMax: 64 * 1024 * 1024,
  entryBytesMax: 8 * 1024 * 1024,
  flushBytesMax: 32 * 1024 * 1024,
  pendingBytesMax: 256 * 1024 * 1024,
  metadataRecordBytesMax: 1024 * 1024,
  readChunkBytesMax: 4 * 1024 * 1024,
  recentEntriesBytesMax: 1024 * 1024,
  snapshotRetainCount: 2,
  snapshotBytesMax: 64 * 1024 * 1024 * 1024,
  snapshotContextBytesMax: 1024 * 1024,
  preallocationBytes: 0,
};

/** What a node's log uses (DurableStorage.open's callers pass it): preallocated segments. */
export const nodePreallocationBytes = 1024 * 1024;

/** The largest encoded save: a frame minus its header and room for a checkpoint record. */
export function saveBytesMax(options: StorageOptions): number {
  return options.flushBytesMax - frameHeaderBytes - options.metadataRecordBytesMax;
}

export function resolveStorageOptions(overrides: Partial<StorageOptions> = {}): StorageOptions {
  const options: StorageOptions = { ...defaultStorageOptions, ...overrides };
  for (const [name, value] of Object.entries(options)) {
    const valueMin = name === 'preallocationBytes' || name === 'recentEntriesBytesMax' ? 0 : 1;
    if (!Number.isSafeInteger(value) || value < valueMin) {
      throw new StorageError('INVALID_ARGUMENT', `storage option ${name} must be an integer of at least ${valueMin}, got ${String(value)}`);
    }
  }
  const entryRecordBytesMax = entryRecordHeaderBytes + options.entryBytesMax;
  if (saveBytesMax(options) < entryRecordBytesMax) {
    throw new StorageError('INVALID_ARGUMENT', `flushBytesMax ${options.flushBytesMax} must hold one entry of entryBytesMax plus a checkpoint`);
  }
  if (options.flushBytesMax > 0xffff_ffff) {
    throw new StorageError('INVALID_ARGUMENT', `flushBytesMax ${options.flushBytesMax} exceeds the 4 GiB frame limit`);
  }
  if (options.pendingBytesMax < options.flushBytesMax) {
    throw new StorageError('INVALID_ARGUMENT', `pendingBytesMax ${options.pendingBytesMax} must be at least flushBytesMax`);
  }
  if (options.segmentBytesMax > segmentFileBytesMax - options.flushBytesMax) {
    throw new StorageError('INVALID_ARGUMENT', `segmentBytesMax ${options.segmentBytesMax} is too large`);
  }
  return options;
}
