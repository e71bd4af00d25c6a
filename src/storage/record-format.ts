/**
 * The on-disk format of log segments. Everything is little-endian.
 *
 * Segment file = header, then frames.
 *   header (24 bytes): magic "QLITESEG", formatVersion u32, segmentSequence u32, zero u32,
 *                      crc32c of the first 20 bytes.
 * Frame = the unit of one group-commit flush; all of its records are durable or none is.
 *   frame header (16 bytes): frameMagic u32, frameBytes u32 (including this header),
 *                            recordCount u32, frameCrc u32 = crc32c of the first 12 header
 *                            bytes extended with each record's crc in order.
 * Record: recordBytes u32 (including these 8 bytes), recordCrc u32 = crc32c of bytes
 *         [0, 4) extended with bytes [8, recordBytes); then kind u8 at offset 8.
 *   entry record: entryType u8 at 9, two zero bytes, index u64 at 12, term u64 at 20, data at 28.
 *   metadata records (hard state, conf state, compact, snapshot, checkpoint): three zero bytes,
 *   then UTF-8 JSON at 12.
 * The frame magic lets recovery tell a torn tail (no valid frame after the damage) from
 * corruption (a valid frame follows the damage).
 */
import type { ConfState, Entry, EntryType, HardState } from '../raft/types.js';
import { crc32c, crc32cUpdate, crc32cUpdateUint32 } from './crc32c.js';
import { assert } from '../common/assert.js';

const segmentMagic = 'QLITESEG';
const segmentFormatVersion = 1;
export const segmentHeaderBytes = 24;
/** No segment file can be larger: options keep segments far below it, lengths in frames are u32. */
export const segmentFileBytesMax = 0xffff_ffff;
export const frameMagic = 0x31464c51;
export const frameHeaderBytes = 16;
const recordPrefixBytes = 8;
export const entryRecordHeaderBytes = 28;
const metadataRecordHeaderBytes = 12;

export const RecordKind = {
  entry: 1,
  hardState: 2,
  confState: 3,
  compact: 4,
  snapshot: 5,
  checkpoint: 6,
} as const;
type RecordKindValue = (typeof RecordKind)[keyof typeof RecordKind];

const twoToThe32 = 0x1_0000_0000;

function writeUint64(buffer: Buffer, offset: number, value: number): void {
  assert(Number.isSafeInteger(value) && value >= 0, `u64 value ${value} is a safe non-negative integer`);
  buffer.writeUInt32LE(value % twoToThe32, offset);
  buffer.writeUInt32LE(Math.floor(value / twoToThe32), offset + 4);
}

function readUint64(buffer: Buffer, offset: number): number {
  return buffer.readUInt32LE(offset) + buffer.readUInt32LE(offset + 4) * twoToThe32;
}

function sealRecord(record: Buffer): Buffer {
  record.writeUInt32LE(record.length, 0);
  const crc = crc32cUpdate(crc32c(record, 0, 4), record, recordPrefixBytes);
  record.writeUInt32LE(crc, 4);
  return record;
}

function entryRecordBytes(dataBytes: number): number {
  return entryRecordHeaderBytes + dataBytes;
}

export function encodeEntryRecord(entry: Entry): Buffer {
  const record = Buffer.allocUnsafe(entryRecordBytes(entry.data.byteLength));
  record.writeUInt8(RecordKind.entry, 8);
  record.writeUInt8(entry.type === 'conf-change' ? 1 : 0, 9);
  record.writeUInt16LE(0, 10);
  writeUint64(record, 12, entry.index);
  writeUint64(record, 20, entry.term);
  record.set(entry.data, entryRecordHeaderBytes);
  return sealRecord(record);
}

export function encodeMetadataRecord(kind: RecordKindValue, value: unknown): Buffer {
  assert(kind !== RecordKind.entry, 'metadata record kind is not entry');
  const json = Buffer.from(JSON.stringify(value), 'utf8');
  const record = Buffer.allocUnsafe(metadataRecordHeaderBytes + json.length);
  record.writeUInt8(kind, 8);
  record.fill(0, 9, 12);
  json.copy(record, metadataRecordHeaderBytes);
  return sealRecord(record);
}

/** Checks a record's length and checksum at `offset`; returns its crc, or a reason it is bad. */
export function verifyRecord(buffer: Buffer, offset: number, limit: number): { crc: number } | { problem: string } {
  if (limit - offset < recordPrefixBytes + 1) return { problem: 'record header incomplete' };
  const recordBytes = buffer.readUInt32LE(offset);
  if (recordBytes < metadataRecordHeaderBytes) return { problem: `record length ${recordBytes} too small` };
  if (recordBytes > limit - offset) return { problem: `record length ${recordBytes} runs past its frame` };
  const expected = buffer.readUInt32LE(offset + 4);
  const actual = crc32cUpdate(crc32c(buffer, offset, offset + 4), buffer, offset + recordPrefixBytes, offset + recordBytes);
  if (expected !== actual) return { problem: `record checksum mismatch (stored ${expected}, computed ${actual})` };
  const kind = buffer.readUInt8(offset + 8);
  if (kind < RecordKind.entry || kind > RecordKind.checkpoint) return { problem: `unknown record kind ${kind}` };
  if (kind === RecordKind.entry && recordBytes < entryRecordHeaderBytes) return { problem: 'entry record too small' };
  return { crc: expected };
}

export function recordKindAt(buffer: Buffer, offset: number): RecordKindValue {
  return buffer.readUInt8(offset + 8) as RecordKindValue;
}

/** Decodes a verified entry record. The data is a copy, independent of `buffer`. */
export function decodeEntryRecord(buffer: Buffer, offset: number): Entry {
  const recordBytes = buffer.readUInt32LE(offset);
  const typeCode = buffer.readUInt8(offset + 9);
  const type: EntryType = typeCode === 1 ? 'conf-change' : 'normal';
  const data = new Uint8Array(recordBytes - entryRecordHeaderBytes);
  data.set(buffer.subarray(offset + entryRecordHeaderBytes, offset + recordBytes));
  return { index: readUint64(buffer, offset + 12), term: readUint64(buffer, offset + 20), type, data };
}

export function decodeEntryLocation(buffer: Buffer, offset: number): { index: number; term: number } {
  return { index: readUint64(buffer, offset + 12), term: readUint64(buffer, offset + 20) };
}

export function decodeMetadataRecord(buffer: Buffer, offset: number): unknown {
  const recordBytes = buffer.readUInt32LE(offset);
  return JSON.parse(buffer.toString('utf8', offset + metadataRecordHeaderBytes, offset + recordBytes));
}

/** Builds one frame from already sealed records: header, then the records back to back. */
export function encodeFrame(records: readonly Buffer[]): Buffer {
  let frameBytes = frameHeaderBytes;
  for (const record of records) frameBytes += record.length;
  const frame = Buffer.allocUnsafe(frameBytes);
  frame.writeUInt32LE(frameMagic, 0);
  frame.writeUInt32LE(frameBytes, 4);
  frame.writeUInt32LE(records.length, 8);
  let crc = crc32c(frame, 0, 12);
  let position = frameHeaderBytes;
  for (const record of records) {
    crc = crc32cUpdateUint32(crc, record.readUInt32LE(4));
    record.copy(frame, position);
    position += record.length;
  }
  frame.writeUInt32LE(crc, 12);
  return frame;
}

export function encodeSegmentHeader(segmentSequence: number): Buffer {
  const header = Buffer.alloc(segmentHeaderBytes);
  header.write(segmentMagic, 0, 'latin1');
  header.writeUInt32LE(segmentFormatVersion, 8);
  header.writeUInt32LE(segmentSequence, 12);
  header.writeUInt32LE(crc32c(header, 0, 20), 20);
  return header;
}

/** Returns the sequence number in a segment header, or a reason it is bad. */
export function verifySegmentHeader(buffer: Buffer): { segmentSequence: number } | { problem: string } {
  if (buffer.length < segmentHeaderBytes) return { problem: 'segment header incomplete' };
  if (buffer.toString('latin1', 0, 8) !== segmentMagic) return { problem: 'segment magic missing' };
  if (buffer.readUInt32LE(20) !== crc32c(buffer, 0, 20)) return { problem: 'segment header checksum mismatch' };
  const version = buffer.readUInt32LE(8);
  if (version !== segmentFormatVersion) return { problem: `unsupported segment format version ${version}` };
  return { segmentSequence: buffer.readUInt32LE(12) };
}

/** The state written at the start of every segment, so that older segments can be deleted. */
export interface CheckpointRecord {
  readonly hardState: HardState | null;
  readonly confState: ConfState | null;
  readonly compactIndex: number;
  readonly compactTerm: number;
  readonly installedSnapshot: SnapshotRecord | null;
}

export interface CompactRecord {
  readonly index: number;
  readonly term: number;
}

export interface SnapshotRecord {
  readonly index: number;
  readonly term: number;
  readonly confState: ConfState;
}
