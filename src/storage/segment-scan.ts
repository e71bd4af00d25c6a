/**
 * Reads a segment file's bytes back into frames, checking every checksum, and tells a
 * torn tail (damage with no valid frame after it: a crash mid-write) from corruption
 * (damage followed by a valid frame: bytes changed after they were durable).
 */
import { frameHeaderBytes, frameMagic, segmentHeaderBytes, verifyRecord, verifySegmentHeader } from './record-format.js';
import { crc32c, crc32cUpdateUint32 } from './crc32c.js';

export interface ScannedFrame {
  readonly offset: number;
  readonly frameBytes: number;
  /** Byte offsets (within the file) of the frame's records, in order. */
  readonly recordOffsets: readonly number[];
}

interface SegmentScan {
  /** Sequence from the header, or undefined if the header is damaged. */
  readonly segmentSequence: number | undefined;
  readonly frames: readonly ScannedFrame[];
  /** Where the good bytes end (header plus whole valid frames). */
  readonly validBytes: number;
  /** The first damage found, if any. */
  readonly damage?: { readonly offset: number; readonly problem: string };
  /** Whether a valid frame exists after the damage (then it is corruption, not a torn tail). */
  readonly validFrameAfterDamage: boolean;
  /** Zeros after the last frame, up to the end of the file: preallocated room, not damage. */
  readonly zeroTailBytes: number;
}

const frameMagicBytes = (() => {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32LE(frameMagic, 0);
  return bytes;
})();

/** Checks one frame at `offset`: magic, length, record count, each record's and the frame's checksum. */
function verifyFrame(buffer: Buffer, offset: number): ScannedFrame | { problem: string } {
  if (buffer.length - offset < frameHeaderBytes) return { problem: 'frame header incomplete' };
  if (buffer.readUInt32LE(offset) !== frameMagic) return { problem: 'frame magic missing' };
  const frameBytes = buffer.readUInt32LE(offset + 4);
  const recordCount = buffer.readUInt32LE(offset + 8);
  if (frameBytes < frameHeaderBytes) return { problem: `frame length ${frameBytes} too small` };
  if (frameBytes > buffer.length - offset) return { problem: `frame length ${frameBytes} runs past the end of the file` };
  let crc = crc32c(buffer, offset, offset + 12);
  const recordOffsets: number[] = [];
  const frameEnd = offset + frameBytes;
  let position = offset + frameHeaderBytes;
  while (position < frameEnd) {
    if (recordOffsets.length >= recordCount) return { problem: 'frame holds more records than its header says' };
    const verdict = verifyRecord(buffer, position, frameEnd);
    if ('problem' in verdict) return { problem: `record ${recordOffsets.length} at byte ${position}: ${verdict.problem}` };
    crc = crc32cUpdateUint32(crc, verdict.crc);
    recordOffsets.push(position);
    position += buffer.readUInt32LE(position);
  }
  if (recordOffsets.length !== recordCount) return { problem: `frame holds ${recordOffsets.length} records, header says ${recordCount}` };
  if (crc !== buffer.readUInt32LE(offset + 12)) return { problem: 'frame checksum mismatch' };
  return { offset, frameBytes, recordOffsets };
}

/** Whether any valid frame starts at or after `from` (found by its magic, then fully verified). */
function hasValidFrameFrom(buffer: Buffer, from: number): boolean {
  let position = buffer.indexOf(frameMagicBytes, from);
  while (position >= 0) {
    if (!('problem' in verifyFrame(buffer, position))) return true;
    position = buffer.indexOf(frameMagicBytes, position + 1);
  }
  return false;
}

/** Whether every byte from `from` to the end is zero (a frame never starts with one: its magic). */
function isZeroFrom(buffer: Buffer, from: number): boolean {
  for (let position = from; position < buffer.length; position++) if (buffer[position] !== 0) return false;
  return true;
}

export function scanSegment(buffer: Buffer): SegmentScan {
  const header = verifySegmentHeader(buffer);
  if ('problem' in header) {
    return {
      segmentSequence: undefined,
      frames: [],
      validBytes: 0,
      damage: { offset: 0, problem: header.problem },
      validFrameAfterDamage: hasValidFrameFrom(buffer, 0),
      zeroTailBytes: 0,
    };
  }
  const frames: ScannedFrame[] = [];
  let position = segmentHeaderBytes;
  while (position < buffer.length) {
    const verdict = verifyFrame(buffer, position);
    if ('problem' in verdict && isZeroFrom(buffer, position)) {
      return { segmentSequence: header.segmentSequence, frames, validBytes: position, validFrameAfterDamage: false, zeroTailBytes: buffer.length - position };
    }
    if ('problem' in verdict) {
      return {
        segmentSequence: header.segmentSequence,
        frames,
        validBytes: position,
        damage: { offset: position, problem: verdict.problem },
        validFrameAfterDamage: hasValidFrameFrom(buffer, position + 1),
        zeroTailBytes: 0,
      };
    }
    frames.push(verdict);
    position += verdict.frameBytes;
  }
  return { segmentSequence: header.segmentSequence, frames, validBytes: position, validFrameAfterDamage: false, zeroTailBytes: 0 };
}
