/**
 * Rebuilds the LogState from the segment files on open. Every frame's checksums are
 * verified. Damage in the last segment with no valid frame after it is a torn tail from
 * a crash mid-write: it is cut off (and reported). Any other damage is corruption: open
 * fails with CORRUPT naming the file and byte offset, and nothing is changed on disk.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import type { ConfState, HardState, SnapshotMetadata } from '../raft/types.js';
import { StorageError, storageErrorFromSystem } from './errors.js';
import { closeFile, fullSync, openFile, syncDirectory, truncateFile } from './file-io.js';
import { LogState, type SegmentInfo } from './log-state.js';
import {
  RecordKind,
  decodeEntryLocation,
  decodeMetadataRecord,
  recordKindAt,
  type CheckpointRecord,
  type CompactRecord,
  type SnapshotRecord,
} from './record-format.js';
import { scanSegment, type ScannedFrame } from './segment-scan.js';

const segmentFilePattern = /^(\d{20})\.seg$/;

export function segmentFileName(sequence: number): string {
  return `${String(sequence).padStart(20, '0')}.seg`;
}

/** What replay repaired: a torn tail cut off the last segment, or a torn new segment removed. */
interface LogRepair {
  readonly file: string;
  readonly offset: number;
  readonly problem: string;
  readonly droppedBytes: number;
}

/** What open() repaired or discarded; the runtime should log it. */
export interface RecoveryReport {
  readonly repairs: readonly LogRepair[];
  /** Received snapshots whose install never became durable (the log does not reach them at their term), removed. */
  readonly discardedSnapshots: readonly SnapshotMetadata[];
}

function corrupt(path: string, offset: number, problem: string): StorageError {
  return new StorageError('CORRUPT', `log segment ${path} is corrupt at byte offset ${offset}: ${problem}`);
}

async function readSegmentFile(path: string, fileBytesMax: number): Promise<Buffer> {
  const size = (await fs.promises.stat(path)).size;
  if (size > fileBytesMax) throw corrupt(path, fileBytesMax, `file is ${size} bytes, more than any segment can be (${fileBytesMax})`);
  return fs.promises.readFile(path);
}

async function cutTornTail(path: string, validBytes: number): Promise<void> {
  const fd = await openFile(path, 'r+');
  try {
    await truncateFile(fd, validBytes);
    await fullSync(fd);
  } finally {
    await closeFile(fd);
  }
}

function expectShape(ok: boolean, path: string, offset: number, what: string): void {
  if (!ok) throw corrupt(path, offset, `${what} record has an invalid shape`);
}

function isInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isHardState(value: unknown): value is HardState {
  const candidate = value as HardState | null;
  return typeof candidate === 'object' && candidate !== null && isInteger(candidate.term) && isInteger(candidate.commit) && typeof candidate.vote === 'string';
}

function isConfState(value: unknown): value is ConfState {
  const candidate = value as ConfState | null;
  return typeof candidate === 'object' && candidate !== null && Array.isArray(candidate.voters) && Array.isArray(candidate.learners);
}

function isSnapshotRecord(value: unknown): value is SnapshotRecord {
  const candidate = value as SnapshotRecord | null;
  return typeof candidate === 'object' && candidate !== null && isInteger(candidate.index) && isInteger(candidate.term) && isConfState(candidate.confState);
}

function applyRecord(state: LogState, segment: SegmentInfo, buffer: Buffer, offset: number): void {
  const kind = recordKindAt(buffer, offset);
  if (kind === RecordKind.entry) {
    const { index, term } = decodeEntryLocation(buffer, offset);
    const last = state.locations.last;
    if (last !== undefined && index > last + 1) throw corrupt(segment.path, offset, `entry ${index} leaves a gap after ${last}`);
    state.applyEntry(index, term, segment, offset, buffer.readUInt32LE(offset));
    return;
  }
  const value = decodeMetadataRecord(buffer, offset);
  switch (kind) {
    case RecordKind.hardState:
      expectShape(isHardState(value), segment.path, offset, 'hard state');
      state.applyHardState(value as HardState);
      return;
    case RecordKind.confState:
      expectShape(isConfState(value), segment.path, offset, 'conf state');
      state.applyConfState(value as ConfState);
      return;
    case RecordKind.compact: {
      const compact = value as CompactRecord;
      expectShape(isInteger(compact?.index) && isInteger(compact.term), segment.path, offset, 'compact');
      state.applyCompact(compact.index, compact.term);
      return;
    }
    case RecordKind.snapshot:
      expectShape(isSnapshotRecord(value), segment.path, offset, 'snapshot');
      state.applySnapshot(value as SnapshotRecord);
      return;
    case RecordKind.checkpoint: {
      const checkpoint = value as CheckpointRecord;
      const ok = typeof checkpoint === 'object' && checkpoint !== null && isInteger(checkpoint.compactIndex) && isInteger(checkpoint.compactTerm);
      expectShape(ok, segment.path, offset, 'checkpoint');
      state.applyCheckpoint(checkpoint);
      return;
    }
    default:
      throw corrupt(segment.path, offset, `unknown record kind ${String(kind)}`);
  }
}

function replayFrames(state: LogState, segment: SegmentInfo, buffer: Buffer, frames: readonly ScannedFrame[]): void {
  const firstRecord = frames[0]?.recordOffsets[0];
  if (firstRecord === undefined || recordKindAt(buffer, firstRecord) !== RecordKind.checkpoint) {
    throw corrupt(segment.path, frames[0]?.offset ?? 0, 'segment does not begin with a checkpoint record');
  }
  for (const frame of frames) {
    for (const recordOffset of frame.recordOffsets) applyRecord(state, segment, buffer, recordOffset);
  }
}

interface SegmentOutcome {
  readonly buffer: Buffer;
  readonly frames: readonly ScannedFrame[];
  readonly validBytes: number;
  readonly fileBytes: number;
}

/** Scans one segment; repairs a torn tail of the last one; returns undefined if the last one held nothing durable. */
async function loadSegment(path: string, sequence: number, isLast: boolean, fileBytesMax: number, repairs: LogRepair[]): Promise<SegmentOutcome | undefined> {
  const buffer = await readSegmentFile(path, fileBytesMax);
  const scan = scanSegment(buffer);
  if (scan.damage !== undefined && (!isLast || scan.validFrameAfterDamage)) throw corrupt(path, scan.damage.offset, scan.damage.problem);
  // Only the active segment is preallocated: a rolled one is cut to its frames first (segment-files.ts).
  if (scan.zeroTailBytes > 0 && !isLast) throw corrupt(path, scan.validBytes, 'zeros after the last frame of a rolled segment');
  if (scan.damage === undefined && scan.frames.length === 0 && !isLast) throw corrupt(path, scan.validBytes, 'segment holds no frames');
  if (scan.segmentSequence !== undefined && scan.segmentSequence !== sequence) {
    throw corrupt(path, 12, `header says segment ${scan.segmentSequence}, file name says ${sequence}`);
  }
  if (scan.frames.length === 0) {
    await fs.promises.unlink(path);
    repairs.push({ file: path, offset: 0, problem: scan.damage?.problem ?? 'segment holds no frames', droppedBytes: buffer.length });
    return undefined;
  }
  if (scan.damage !== undefined) {
    await cutTornTail(path, scan.validBytes);
    repairs.push({ file: path, offset: scan.damage.offset, problem: scan.damage.problem, droppedBytes: buffer.length - scan.validBytes });
  }
  const fileBytes = scan.damage === undefined ? buffer.length : scan.validBytes;
  return { buffer, frames: scan.frames, validBytes: scan.validBytes, fileBytes };
}

function checkReplayedState(state: LogState, logDirectory: string): void {
  const first = state.locations.first;
  if (first !== undefined && first !== state.compactIndex + 1) {
    throw new StorageError('CORRUPT', `log in ${logDirectory} is missing entries ${state.compactIndex + 1}..${first - 1}`);
  }
  if (state.hardState.commit > state.lastIndex) {
    throw new StorageError('CORRUPT', `log in ${logDirectory} ends at ${state.lastIndex} but its hard state says ${state.hardState.commit} is committed`);
  }
}

export async function replayLog(logDirectory: string, segmentBytesMax: number): Promise<{ state: LogState; repairs: readonly LogRepair[] }> {
  const names = (await fs.promises.readdir(logDirectory)).filter((name) => segmentFilePattern.test(name)).sort();
  const state = new LogState();
  const repairs: LogRepair[] = [];
  try {
    for (const [position, name] of names.entries()) {
      const sequence = Number(segmentFilePattern.exec(name)![1]);
      const path = join(logDirectory, name);
      const previous = state.activeSegment;
      if (previous !== undefined && sequence !== previous.sequence + 1) throw corrupt(path, 0, `segment ${previous.sequence + 1} is missing before it`);
      const outcome = await loadSegment(path, sequence, position === names.length - 1, segmentBytesMax, repairs);
      if (outcome === undefined) continue;
      const fd = await openFile(path, 'r+');
      const segment: SegmentInfo = {
        sequence,
        path,
        fd,
        bytes: outcome.validBytes,
        fileBytes: outcome.fileBytes,
        frameCount: outcome.frames.length,
        entryIndexMax: 0,
      };
      state.segments.push(segment);
      replayFrames(state, segment, outcome.buffer, outcome.frames);
    }
    checkReplayedState(state, logDirectory);
    if (repairs.length > 0) await syncDirectory(logDirectory);
  } catch (error) {
    for (const segment of state.segments) fs.closeSync(segment.fd);
    throw storageErrorFromSystem(error, `opening the log in ${logDirectory}`);
  }
  return { state, repairs };
}
