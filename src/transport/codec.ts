/**
 * The wire format. Every frame is `[u32 big-endian length][u8 kind][payload]`, where
 * `length` counts the kind byte and the payload and is at most `frameBytesMax`.
 * Payloads are MessagePack (msgpackr) with binary kept as Uint8Array (copied out of
 * the frame, so a small value never pins a large frame) and bigint preserved at any
 * size. Snapshot chunks carry raw bytes. A MESSAGES payload is a concatenation of
 * individually encoded Raft messages, so each message is encoded once, when it is
 * queued, and its size is known exactly for the queue's byte bound.
 */
import { C1, Packr } from 'msgpackr';
import { TransportError } from './errors.js';

export const protocolVersion = 1;

/**
 * What this node can do beyond protocol version 1, announced in the handshake (an older
 * peer announces nothing and ignores the field): 'snapshot-resume' receives a snapshot
 * transfer that continues from what it already holds (snapshot-receiver.ts).
 */
export const protocolFeatures: readonly string[] = ['snapshot-resume'];

export const FrameKind = {
  hello: 1,
  helloAccepted: 2,
  helloRejected: 3,
  messages: 4,
  call: 5,
  reply: 6,
  snapshotBegin: 7,
  snapshotChunk: 8,
  snapshotEnd: 9,
  snapshotResult: 10,
  /** Receiver → sender, for a resumable transfer: how much of it the receiver already holds. */
  snapshotOffer: 11,
  /** Sender → receiver, after an offer: where the chunks that follow start. */
  snapshotSeek: 12,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

const frameKinds: ReadonlySet<number> = new Set(Object.values(FrameKind));

/** Bytes before the payload: the length prefix and the kind byte. */
export const frameHeaderBytes = 5;
const lengthPrefixBytes = 4;

export interface Frame {
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

const packr = new Packr({
  useRecords: false,
  useBigIntExtension: true,
  int64AsType: 'bigint',
  copyBuffers: true,
  mapsAsObjects: true,
  // Refuse the reference extensions (0x69, 0x70) a peer could send: with them a few hundred
  // bytes describe a DAG whose every path the checks below would walk, 2^depth of them.
  structuredClone: false,
});

export function encodeValue(value: unknown): Buffer {
  return packr.pack(value);
}

/** Decodes exactly one value; trailing bytes, truncation or the reserved 0xC1 byte are MALFORMED_FRAME. */
export function decodeValue(bytes: Uint8Array): unknown {
  let value: unknown;
  try {
    value = packr.unpack(asPlainView(bytes));
  } catch (error) {
    throw new TransportError('MALFORMED_FRAME', `frame payload is not valid MessagePack: ${describe(error)}`, {
      cause: error,
    });
  }
  requireNoReservedMarker(value, 0);
  return value;
}

/** Decodes a concatenation of values (a MESSAGES payload). */
export function decodeValues(bytes: Uint8Array): unknown[] {
  const values: unknown[] = [];
  let endOfPrevious = 0;
  try {
    packr.unpackMultiple(asPlainView(bytes), (value: unknown, start = 0, end = 0) => {
      // msgpackr's bundled-strings extension (0x62) moves the read position by an amount the
      // data names: pointed backwards, the same bytes would be read again forever.
      if (start !== endOfPrevious || end <= start) throw new Error(`a value at byte ${start} ends at byte ${end}`);
      endOfPrevious = end;
      values.push(value);
    });
  } catch (error) {
    throw new TransportError('MALFORMED_FRAME', `messages payload is not valid MessagePack: ${describe(error)}`, {
      cause: error,
    });
  }
  for (const value of values) requireNoReservedMarker(value, 0);
  return values;
}

/** Plain data is at most this deep; deeper input is refused rather than walked. */
const valueDepthMax = 64;

/** msgpackr decodes the never-used byte 0xC1 to a marker object instead of failing; refuse it anywhere in a value. */
function requireNoReservedMarker(value: unknown, depth: number): void {
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return;
  if (value === C1) throw new TransportError('MALFORMED_FRAME', 'frame payload holds the reserved MessagePack byte 0xC1');
  if (depth >= valueDepthMax) throw new TransportError('MALFORMED_FRAME', `frame payload nests deeper than ${valueDepthMax} levels`);
  const children = Array.isArray(value) ? value : Object.values(value);
  for (const child of children) requireNoReservedMarker(child, depth + 1);
}

/** Decoding from a plain Uint8Array view makes msgpackr return Uint8Array, not Buffer, for binary. */
function asPlainView(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** One frame from payload parts (concatenated); throws FRAME_TOO_LARGE above the bound. */
export function encodeFrame(kind: FrameKind, parts: readonly Uint8Array[], frameBytesMax: number): Buffer {
  let payloadBytes = 0;
  for (const part of parts) payloadBytes += part.byteLength;
  const length = 1 + payloadBytes;
  if (length > frameBytesMax) {
    throw new TransportError('FRAME_TOO_LARGE', `frame of ${length} bytes exceeds frameBytesMax ${frameBytesMax}`);
  }
  const frame = Buffer.allocUnsafe(lengthPrefixBytes + length);
  frame.writeUInt32BE(length, 0);
  frame.writeUInt8(kind, lengthPrefixBytes);
  let offset = frameHeaderBytes;
  for (const part of parts) {
    frame.set(part, offset);
    offset += part.byteLength;
  }
  return frame;
}

export function encodeValueFrame(kind: FrameKind, value: unknown, frameBytesMax: number): Buffer {
  return encodeFrame(kind, [encodeValue(value)], frameBytesMax);
}

/**
 * Cuts a byte stream into frames. Holds at most one partial frame (at most
 * frameBytesMax + header bytes). Throws FRAME_TOO_LARGE or MALFORMED_FRAME as soon as
 * a header is wrong, before buffering the body; after an error the stream is unusable.
 */
export class FrameDecoder {
  readonly #frameBytesMax: number;
  #chunks: Buffer[] = [];
  #bufferedBytes = 0;
  #failed = false;

  constructor(frameBytesMax: number) {
    if (!Number.isInteger(frameBytesMax) || frameBytesMax < 1 || frameBytesMax > 0xffffffff) {
      throw new RangeError(`frameBytesMax must be an integer in [1, 2^32-1], got ${frameBytesMax}`);
    }
    this.#frameBytesMax = frameBytesMax;
  }

  /** Feeds bytes; returns the frames they complete, in order. */
  push(chunk: Buffer): Frame[] {
    if (this.#failed) throw new Error('FrameDecoder used after it reported an error');
    this.#chunks.push(chunk);
    this.#bufferedBytes += chunk.byteLength;
    const frames: Frame[] = [];
    // Each iteration consumes one whole frame, so the loop is bounded by the bytes held.
    while (this.#bufferedBytes >= lengthPrefixBytes + 1) {
      const length = this.#peekLength();
      if (this.#bufferedBytes < lengthPrefixBytes + length) break;
      const bytes = this.#take(lengthPrefixBytes + length);
      const kind = bytes[lengthPrefixBytes] as number;
      frames.push({ kind: kind as FrameKind, payload: bytes.subarray(frameHeaderBytes) });
    }
    return frames;
  }

  #peekLength(): number {
    const head = this.#contiguous(frameHeaderBytes);
    const length = head.readUInt32BE(0);
    const kind = head[lengthPrefixBytes] as number;
    if (length === 0 || length > this.#frameBytesMax) {
      this.#failed = true;
      throw new TransportError(
        length === 0 ? 'MALFORMED_FRAME' : 'FRAME_TOO_LARGE',
        length === 0 ? 'frame with length 0' : `incoming frame of ${length} bytes exceeds frameBytesMax ${this.#frameBytesMax}`,
      );
    }
    if (!frameKinds.has(kind)) {
      this.#failed = true;
      throw new TransportError('MALFORMED_FRAME', `unknown frame kind ${kind}`);
    }
    return length;
  }

  /** Makes the first `byteCount` buffered bytes one Buffer (merging chunks) and returns it. */
  #contiguous(byteCount: number): Buffer {
    const first = this.#chunks[0] as Buffer;
    if (first.byteLength >= byteCount) return first;
    const merged = Buffer.concat(this.#chunks);
    this.#chunks = [merged];
    return merged;
  }

  #take(byteCount: number): Buffer {
    const merged = this.#contiguous(byteCount);
    const taken = merged.subarray(0, byteCount);
    const rest = merged.subarray(byteCount);
    this.#chunks = rest.byteLength > 0 ? [rest] : [];
    this.#bufferedBytes -= byteCount;
    return taken;
  }
}
