/**
 * The frames of `GET /db/stream` (docs/REPLICA.md): what a node sends an embedded replica,
 * one after another on one long HTTP response. Each frame is a 13-byte head — its kind
 * (one byte), an index (8 bytes, big-endian) and the payload's length (4 bytes,
 * big-endian) — then the payload:
 *
 * - `entry` (0x45 'E'): the committed entry at `index`, its data as the state machine
 *   applies it (empty for a no-op or a membership change);
 * - `heartbeat` (0x48 'H'): the node's applied index; every entry up to it was sent before;
 * - `error` (0x58 'X'): the stream ends; the payload is `{"code", "error"}` as UTF-8 JSON.
 *
 * Length-prefixed rather than NDJSON: entry data is binary and passes unchanged.
 */
import { assert } from './assert.js';

export type LogStreamFrame =
  | { readonly kind: 'entry'; readonly index: number; readonly data: Uint8Array }
  | { readonly kind: 'heartbeat'; readonly index: number }
  | { readonly kind: 'error'; readonly code: string; readonly message: string };

const logStreamFrameHeadBytes = 13;

/** The largest payload a reader accepts: an entry's data is bounded far below it (src/node config). */
const logStreamPayloadBytesMax = 256 * 1024 * 1024;

const kindBytes = { entry: 0x45, heartbeat: 0x48, error: 0x58 } as const;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export function encodeLogStreamFrame(frame: LogStreamFrame): Uint8Array {
  const payload =
    frame.kind === 'entry'
      ? frame.data
      : frame.kind === 'error'
        ? utf8Encoder.encode(JSON.stringify({ code: frame.code, error: frame.message }))
        : new Uint8Array(0);
  const index = frame.kind === 'error' ? 0 : frame.index;
  assert(Number.isSafeInteger(index) && index >= 0, `a frame's index is a non-negative integer, got ${index}`);
  const bytes = new Uint8Array(logStreamFrameHeadBytes + payload.byteLength);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, kindBytes[frame.kind]);
  view.setBigUint64(1, BigInt(index));
  view.setUint32(9, payload.byteLength);
  bytes.set(payload, logStreamFrameHeadBytes);
  return bytes;
}

/**
 * Splits a byte stream into frames, whatever the chunks' boundaries: `push` a chunk, take
 * the frames it completed. Throws on a frame that cannot be one (an unknown kind, a length
 * past `logStreamPayloadBytesMax`): the stream is then broken and must be dropped.
 */
export class LogStreamFrameReader {
  #pending: Uint8Array[] = [];
  #pendingBytes = 0;

  /** Bytes received that do not make a whole frame yet. */
  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  push(chunk: Uint8Array): LogStreamFrame[] {
    this.#pending.push(chunk);
    this.#pendingBytes += chunk.byteLength;
    const frames: LogStreamFrame[] = [];
    let buffer = this.#pending.length === 1 ? chunk : concatenate(this.#pending, this.#pendingBytes);
    let offset = 0;
    while (buffer.byteLength - offset >= logStreamFrameHeadBytes) {
      const view = new DataView(buffer.buffer, buffer.byteOffset + offset, logStreamFrameHeadBytes);
      const payloadBytes = view.getUint32(9);
      if (payloadBytes > logStreamPayloadBytesMax) throw new Error(`a log stream frame of ${payloadBytes} bytes is over ${logStreamPayloadBytesMax}`);
      if (buffer.byteLength - offset < logStreamFrameHeadBytes + payloadBytes) break;
      const payload = buffer.subarray(offset + logStreamFrameHeadBytes, offset + logStreamFrameHeadBytes + payloadBytes);
      frames.push(decodeFrame(view.getUint8(0), Number(view.getBigUint64(1)), payload));
      offset += logStreamFrameHeadBytes + payloadBytes;
    }
    buffer = buffer.subarray(offset);
    this.#pending = buffer.byteLength === 0 ? [] : [buffer];
    this.#pendingBytes = buffer.byteLength;
    return frames;
  }
}

function decodeFrame(kind: number, index: number, payload: Uint8Array): LogStreamFrame {
  if (kind === kindBytes.entry) return { kind: 'entry', index, data: payload.slice() };
  if (kind === kindBytes.heartbeat) return { kind: 'heartbeat', index };
  if (kind === kindBytes.error) {
    const parsed = JSON.parse(utf8Decoder.decode(payload)) as { code?: unknown; error?: unknown };
    return { kind: 'error', code: String(parsed.code), message: String(parsed.error) };
  }
  throw new Error(`unknown log stream frame kind 0x${kind.toString(16)}`);
}

function concatenate(parts: readonly Uint8Array[], byteCount: number): Uint8Array {
  const joined = new Uint8Array(byteCount);
  let offset = 0;
  for (const part of parts) {
    joined.set(part, offset);
    offset += part.byteLength;
  }
  return joined;
}
