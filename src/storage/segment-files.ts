/**
 * The segment files on disk, as the group-commit flush uses them: append a frame to the
 * active segment (write + fdatasync), start a new segment (create + write + fsync +
 * directory fsync), undo a failed write before anything else is written, and delete
 * old segments whose live entries are all compacted.
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

  constructor(
    readonly logDirectory: string,
    state: LogState,
  ) {
    this.#state = state;
  }

  /** Appends a frame to the active segment and fdatasyncs; on failure cuts the segment back. */
  async appendFrame(segment: SegmentInfo, frame: Buffer): Promise<SegmentInfo> {
    try {
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
    const segment: SegmentInfo = { sequence, path, fd, bytes: bytes.length - frame.length, frameCount: 0, entryIndexMax: 0 };
    this.#state.segments.push(segment);
    return segment;
  }

  /** Removes the bytes of a failed write before anything else is written (throws if it still cannot). */
  async rollBackFailedWrite(): Promise<void> {
    const rollback = this.#pendingRollback;
    if (rollback === null) return;
    if (rollback.kind === 'truncate') {
      await truncateFile(rollback.segment.fd, rollback.segment.bytes);
      await dataSync(rollback.segment.fd);
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
