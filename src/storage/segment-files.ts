/**
 * The segment files on disk, as the group-commit flush uses them: append a frame to the
 * active segment (write + fdatasync), start a new segment (create + write + fsync +
 * directory fsync), undo a failed write before anything else is written, and delete
 * old segments whose live entries are all compacted.
 *
 * Preallocation (preallocationBytes > 0): the active segment is kept written with zeros,
 * and fsynced, up to preallocationBytes past its last frame, in the background between
 * flushes. A frame then overwrites bytes the file already has, and its fdatasync need not
 * commit a new file size to the journal. Replay takes a tail of zeros for room, not damage
 * (segment-scan.ts); a segment is cut back to its frames before the next one starts.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { type StorageError, storageErrorFromSystem } from './errors.js';
import { closeFile, dataSync, fullSync, openFile, syncDirectory, truncateFile, writeFully, writeFullySync } from './file-io.js';
import type { LogState, SegmentInfo } from './log-state.js';
import { segmentFileName } from './log-replay.js';
import { encodeSegmentHeader } from './record-format.js';

/**
 * Frames up to this size are copied into the page cache on the event loop (microseconds)
 * rather than through the thread pool, saving one round trip per group commit; larger
 * ones go through the pool so a big batch never holds up the loop.
 */
export const inlineWriteBytesMax = 64 * 1024;

/** A write that failed and whose bytes could not yet be removed; cleared before any new write. */
type PendingRollback = { readonly kind: 'truncate'; readonly segment: SegmentInfo } | { readonly kind: 'unlink'; readonly path: string };

export class SegmentFiles {
  #pendingRollback: PendingRollback | null = null;
  readonly #state: LogState;
  readonly #preallocationBytes: number;
  readonly #segmentBytesMax: number;
  /** The zero fill running in the background, if any; a frame that reaches into its range waits for it. */
  #filling: Promise<void> | undefined;

  constructor(
    readonly logDirectory: string,
    state: LogState,
    sizes: { readonly preallocationBytes: number; readonly segmentBytesMax: number },
  ) {
    this.#state = state;
    this.#preallocationBytes = sizes.preallocationBytes;
    this.#segmentBytesMax = sizes.segmentBytesMax;
  }

  /**
   * After a flush: when less than half of the preallocated room is left past the active
   * segment's frames, zero-fills it again up to preallocationBytes ahead (never past
   * segmentBytesMax), in the background. A failed fill only costs speed: it is dropped.
   */
  preallocate(segment: SegmentInfo): void {
    if (this.#preallocationBytes === 0 || this.#filling !== undefined || this.#pendingRollback !== null) return;
    if (segment.fileBytes - segment.bytes >= this.#preallocationBytes / 2) return;
    const from = Math.max(segment.fileBytes, segment.bytes);
    const to = Math.min(segment.bytes + this.#preallocationBytes, this.#segmentBytesMax);
    if (to <= from) return;
    const fill = async (): Promise<void> => {
      await writeFully(segment.fd, Buffer.alloc(to - from), from);
      await dataSync(segment.fd);
      segment.fileBytes = Math.max(segment.fileBytes, to);
    };
    this.#filling = fill()
      .catch(() => undefined)
      .finally(() => {
        this.#filling = undefined;
      });
  }

  /** Resolves once no zero fill runs (before the files close: a write must never reach a reused descriptor). */
  async settled(): Promise<void> {
    await this.#filling;
  }

  /** Waits for a zero fill whose range `end` reaches into: the frame must not be overwritten by it. */
  async #waitForFill(segment: SegmentInfo, end: number): Promise<void> {
    if (this.#filling !== undefined && end > segment.fileBytes) await this.#filling;
  }

  /** Before the next segment starts: cuts the active one back to its frames (replay refuses zeros in a rolled segment). */
  async trimActive(): Promise<void> {
    const segment = this.#state.activeSegment;
    if (segment === undefined) return;
    await this.#filling;
    if (segment.fileBytes <= segment.bytes) return;
    await truncateFile(segment.fd, segment.bytes);
    await dataSync(segment.fd);
    segment.fileBytes = segment.bytes;
  }

  /** Appends a frame to the active segment and fdatasyncs; on failure cuts the segment back. */
  async appendFrame(segment: SegmentInfo, frame: Buffer): Promise<SegmentInfo> {
    try {
      await this.#waitForFill(segment, segment.bytes + frame.length);
      if (frame.length <= inlineWriteBytesMax) writeFullySync(segment.fd, frame, segment.bytes);
      else await writeFully(segment.fd, frame, segment.bytes);
      await dataSync(segment.fd);
      return segment;
    } catch (error) {
      this.#pendingRollback = { kind: 'truncate', segment };
      await this.rollBackFailedWrite().catch(() => undefined);
      throw error;
    }
  }

  /** Creates the next segment holding header + frame; fsyncs it and the directory; on failure removes it. */
  async writeNewSegment(frame: Buffer): Promise<SegmentInfo> {
    const sequence = (this.#state.activeSegment?.sequence ?? 0) + 1;
    const path = join(this.logDirectory, segmentFileName(sequence));
    const bytes = Buffer.concat([encodeSegmentHeader(sequence), frame]);
    let fd: number | undefined;
    try {
      fd = await openFile(path, 'wx+');
      await writeFully(fd, bytes, 0);
      await fullSync(fd);
      await syncDirectory(this.logDirectory);
    } catch (error) {
      if (fd !== undefined) await closeFile(fd).catch(() => undefined);
      this.#pendingRollback = { kind: 'unlink', path };
      await this.rollBackFailedWrite().catch(() => undefined);
      throw error;
    }
    const segment: SegmentInfo = { sequence, path, fd, bytes: bytes.length - frame.length, fileBytes: bytes.length, frameCount: 0, entryIndexMax: 0 };
    this.#state.segments.push(segment);
    return segment;
  }

  /** Removes the bytes of a failed write before anything else is written (throws if it still cannot). */
  async rollBackFailedWrite(): Promise<void> {
    const rollback = this.#pendingRollback;
    if (rollback === null) return;
    if (rollback.kind === 'truncate') {
      await this.#filling;
      await truncateFile(rollback.segment.fd, rollback.segment.bytes);
      await dataSync(rollback.segment.fd);
      rollback.segment.fileBytes = rollback.segment.bytes;
    } else {
      await fs.promises.rm(rollback.path, { force: true });
      await syncDirectory(this.logDirectory);
    }
    this.#pendingRollback = null;
  }

  /** Deletes the oldest segments while every live entry in them is compacted. */
  async removeObsoleteSegments(): Promise<StorageError | undefined> {
    const segments = this.#state.segments;
    let removed = 0;
    try {
      while (segments.length > 1 && segments[0]!.entryIndexMax <= this.#state.compactIndex) {
        const oldest = segments[0]!;
        await fs.promises.unlink(oldest.path);
        segments.shift();
        removed++;
        await closeFile(oldest.fd).catch(() => undefined);
      }
      if (removed > 0) await syncDirectory(this.logDirectory);
    } catch (error) {
      return storageErrorFromSystem(error, `removing compacted segments in ${this.logDirectory}`);
    }
    return undefined;
  }
}
