/**
 * SQLite's write-ahead log read as SQLite's own recovery reads it, so that a snapshot can
 * carry the frames written since the previous one (a delta) and another file can take
 * them as its WAL.
 *
 * The format (sqlite.org/fileformat2.html, "The Write-Ahead Log"): a 32-byte header
 * (magic, version, page size, checkpoint sequence, salt-1, salt-2, checksum), then frames
 * of a 24-byte header (page number, database size in pages for a commit frame or 0,
 * salt-1, salt-2, checksum) and one page. A frame is valid when its salts are the
 * header's and its checksum continues the running one; the log holds what the last valid
 * commit frame ends. Bytes after it (a rolled-back transaction's spilled pages, frames of
 * an earlier generation with other salts) are never part of the log.
 *
 * The salts also name the WAL's generation: SQLite gives the log new salts whenever it
 * starts it again from the beginning (after a checkpoint copied every frame, or a new
 * file). So "same salts" means "no frame written since then was dropped", the proof a
 * delta chain relies on (snapshot-capture.ts).
 *
 * Imported by the snapshot worker thread too: no import.meta, no top-level await, nothing
 * else of the state machine.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

const headerBytes = 32;
const frameHeaderBytes = 24;
const magicLittleEndian = 0x377f0682;
const magicBigEndian = 0x377f0683;
/** Frames read per pass when copying (with 4 KiB pages: 1 MiB and a bit). */
const framesPerRead = 256;

interface WalHeader {
  readonly pageBytes: number;
  /** salt-1 and salt-2 as 16 hex digits: the WAL's generation. */
  readonly salts: string;
}

/** Where a scan of the log stopped: the end of its last valid commit frame, and the running checksum there. */
export interface WalPosition {
  readonly header: WalHeader;
  readonly bigEndian: boolean;
  /** Byte offset just past the last valid commit frame (32 when the log holds none). */
  readonly endOffset: number;
  readonly checksum: readonly [number, number];
  /** Committed frames up to endOffset. */
  readonly frameCount: number;
}

/** SQLite's WAL checksum over `bytes` (a multiple of 8), continuing from `seed`. */
function checksumOf(bytes: Buffer, start: number, end: number, bigEndian: boolean, seed: readonly [number, number]): [number, number] {
  let first = seed[0];
  let second = seed[1];
  for (let offset = start; offset < end; offset += 8) {
    const word0 = bigEndian ? bytes.readUInt32BE(offset) : bytes.readUInt32LE(offset);
    const word1 = bigEndian ? bytes.readUInt32BE(offset + 4) : bytes.readUInt32LE(offset + 4);
    first = (first + word0 + second) >>> 0;
    second = (second + word1 + first) >>> 0;
  }
  return [first, second];
}

function readFully(descriptor: number, buffer: Buffer, length: number, position: number): number {
  let done = 0;
  while (done < length) {
    const read = readSync(descriptor, buffer, done, length - done, position + done);
    if (read === 0) break;
    done += read;
  }
  return done;
}

/** The header of the WAL open at `descriptor`, or undefined when it has none (empty, or not a valid header). */
function readHeader(descriptor: number): { readonly header: WalHeader; readonly bigEndian: boolean; readonly checksum: [number, number] } | undefined {
  const bytes = Buffer.alloc(headerBytes);
  if (readFully(descriptor, bytes, headerBytes, 0) < headerBytes) return undefined;
  const magic = bytes.readUInt32BE(0);
  if (magic !== magicLittleEndian && magic !== magicBigEndian) return undefined;
  const bigEndian = magic === magicBigEndian;
  const checksum = checksumOf(bytes, 0, 24, bigEndian, [0, 0]);
  if (checksum[0] !== bytes.readUInt32BE(24) || checksum[1] !== bytes.readUInt32BE(28)) return undefined;
  const pageBytes = bytes.readUInt32BE(8);
  if (pageBytes < 512 || pageBytes > 65536 || (pageBytes & (pageBytes - 1)) !== 0) return undefined;
  return { header: { pageBytes, salts: bytes.subarray(16, 24).toString('hex') }, bigEndian, checksum };
}

/** The header of the WAL file at `path`; undefined when the file is missing, empty or not a WAL. */
export function readWalHeader(path: string): WalHeader | undefined {
  let descriptor: number;
  try {
    descriptor = openSync(path, 'r');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return readHeader(descriptor)?.header;
  } finally {
    closeSync(descriptor);
  }
}

/** The WAL file's size in bytes (0 when it does not exist). */
export function walFileBytes(path: string): number {
  try {
    const descriptor = openSync(path, 'r');
    try {
      return fstatSync(descriptor).size;
    } finally {
      closeSync(descriptor);
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw error;
  }
}

/** Where a scan stands: the last commit seen, and the frames read since (valid, not yet committed). */
interface Scan {
  endOffset: number;
  checksum: readonly [number, number];
  frameCount: number;
  scanOffset: number;
  scanChecksum: readonly [number, number];
  pendingFrames: number;
}

/** Validates the whole frames in `buffer` (read at scan.scanOffset), advancing `scan`; returns how many were valid. */
function scanFrames(buffer: Buffer, wholeFrames: number, position: WalPosition, salts: Buffer, scan: Scan): number {
  const pageBytes = position.header.pageBytes;
  const frameBytes = frameHeaderBytes + pageBytes;
  let valid = 0;
  for (; valid < wholeFrames; valid++) {
    const start = valid * frameBytes;
    if (!buffer.subarray(start + 8, start + 16).equals(salts)) break;
    const afterHeader = checksumOf(buffer, start, start + 8, position.bigEndian, scan.scanChecksum);
    const next = checksumOf(buffer, start + frameHeaderBytes, start + frameBytes, position.bigEndian, afterHeader);
    if (next[0] !== buffer.readUInt32BE(start + 16) || next[1] !== buffer.readUInt32BE(start + 20)) break;
    scan.scanChecksum = next;
    scan.pendingFrames++;
    if (buffer.readUInt32BE(start + 4) !== 0) {
      scan.frameCount += scan.pendingFrames;
      scan.pendingFrames = 0;
      scan.endOffset = scan.scanOffset + start + frameBytes;
      scan.checksum = next;
    }
  }
  return valid;
}

/** Continues a scan of valid frames from `position`, appending them to `target` as they are read; returns the new position. */
function copyFrames(source: number, target: number, position: WalPosition): WalPosition {
  const frameBytes = frameHeaderBytes + position.header.pageBytes;
  const buffer = Buffer.alloc(frameBytes * framesPerRead);
  const salts = Buffer.from(position.header.salts, 'hex');
  // Frames read but not yet ended by a commit frame are written too, and cut off if no commit follows.
  const scan: Scan = { ...position, scanOffset: position.endOffset, scanChecksum: position.checksum, pendingFrames: 0 };
  for (;;) {
    const read = readFully(source, buffer, buffer.length, scan.scanOffset);
    const valid = scanFrames(buffer, Math.floor(read / frameBytes), position, salts, scan);
    if (valid > 0) writeAll(target, buffer, valid * frameBytes, scan.scanOffset);
    scan.scanOffset += valid * frameBytes;
    if (valid < framesPerRead) break;
  }
  ftruncateSync(target, scan.endOffset);
  return { header: position.header, bigEndian: position.bigEndian, endOffset: scan.endOffset, checksum: scan.checksum, frameCount: scan.frameCount };
}

function writeAll(descriptor: number, buffer: Buffer, length: number, position: number): void {
  let done = 0;
  while (done < length) done += writeSync(descriptor, buffer, done, length - done, position + done);
}

/**
 * Copies the committed frames of the WAL at `sourcePath` into `targetPath` (a WAL file
 * another database can take), fsynced. From the start (`from` undefined: the target is
 * created and gets the header) or, continuing an earlier copy, from `from` (the target
 * must hold exactly what that copy wrote). `expectedSalts`: refuse a log of another
 * generation. Returns where the copy ended; undefined when the source has no log.
 */
export function copyWal(sourcePath: string, targetPath: string, from: WalPosition | undefined, expectedSalts?: string): WalPosition | undefined {
  const source = openSync(sourcePath, 'r');
  try {
    const start = from ?? startOfLog(source);
    if (start === undefined) return undefined;
    if (expectedSalts !== undefined && start.header.salts !== expectedSalts) {
      throw new Error(`the WAL is of generation ${start.header.salts}, not ${expectedSalts}`);
    }
    const target = openSync(targetPath, from === undefined ? 'wx' : 'r+');
    try {
      if (from === undefined) {
        const header = Buffer.alloc(headerBytes);
        readFully(source, header, headerBytes, 0);
        writeAll(target, header, headerBytes, 0);
      } else if (fstatSync(target).size !== from.endOffset) {
        throw new Error(`${targetPath} holds ${fstatSync(target).size} bytes, the copy it continues ended at ${from.endOffset}`);
      }
      const position = copyFrames(source, target, start);
      fsyncSync(target);
      return position;
    } finally {
      closeSync(target);
    }
  } finally {
    closeSync(source);
  }
}

function startOfLog(descriptor: number): WalPosition | undefined {
  const read = readHeader(descriptor);
  if (read === undefined) return undefined;
  return { header: read.header, bigEndian: read.bigEndian, endOffset: headerBytes, checksum: read.checksum, frameCount: 0 };
}
