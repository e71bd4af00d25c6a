/**
 * A small growable byte writer and a bounds-checked reader, shared by the command codec
 * and the stored-result codec. Little-endian throughout. The reader throws a
 * StateMachineError('BAD_COMMAND') on truncated input instead of reading garbage.
 */
import { isUtf8 } from 'node:buffer';
import { StateMachineError } from './errors.js';
import { assert } from '../common/assert.js';
import { isSqlReal, realValue } from '../common/real-values.js';
import type { SqlResultValue, SqlValue } from './types.js';

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;

/** Value tags on the wire. Numbers are fixed forever: old entries must stay readable. */
const valueTag = {
  null: 0,
  integer: 1,
  float: 2,
  text: 3,
  blob: 4,
  true: 5,
  false: 6,
} as const;

export class ByteWriter {
  #buffer: Uint8Array;
  #view: DataView;
  /** The same bytes as #buffer, for Buffer's in-place UTF-8 write. */
  #bytes: Buffer;
  #length = 0;
  readonly #bytesMax: number;
  readonly #limitError: (bytes: number) => Error;

  constructor(bytesMax: number, limitError: (bytes: number) => Error) {
    assert(Number.isSafeInteger(bytesMax) && bytesMax > 0, 'bytesMax is a positive integer');
    this.#bytesMax = bytesMax;
    this.#limitError = limitError;
    this.#buffer = new Uint8Array(Math.min(256, bytesMax));
    this.#view = new DataView(this.#buffer.buffer);
    this.#bytes = Buffer.from(this.#buffer.buffer);
  }

  #reserve(byteCount: number): number {
    const offset = this.#length;
    const needed = offset + byteCount;
    if (needed > this.#bytesMax) throw this.#limitError(needed);
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.min(this.#bytesMax, Math.max(needed, this.#buffer.length * 2)));
      grown.set(this.#buffer.subarray(0, offset));
      this.#buffer = grown;
      this.#view = new DataView(grown.buffer);
      this.#bytes = Buffer.from(grown.buffer);
    }
    this.#length = needed;
    return offset;
  }

  u8(value: number): void {
    const offset = this.#reserve(1);
    this.#buffer[offset] = value;
  }

  u32(value: number): void {
    const offset = this.#reserve(4);
    this.#view.setUint32(offset, value, true);
  }

  i64(value: bigint): void {
    const offset = this.#reserve(8);
    this.#view.setBigInt64(offset, value, true);
  }

  u64(value: bigint): void {
    const offset = this.#reserve(8);
    this.#view.setBigUint64(offset, value, true);
  }

  f64(value: number): void {
    const offset = this.#reserve(8);
    this.#view.setFloat64(offset, value, true);
  }

  bytes(value: Uint8Array): void {
    this.u32(value.length);
    const offset = this.#reserve(value.length);
    this.#buffer.set(value, offset);
  }

  /**
   * Writes UTF-8 with a u32 length prefix. The caller checks well-formedness first.
   * Encoded in place, at its exact length: no copy of each string's bytes.
   */
  text(value: string): void {
    const byteLength = Buffer.byteLength(value, 'utf8');
    const offset = this.#reserve(4 + byteLength);
    this.#view.setUint32(offset, byteLength, true);
    this.#bytes.write(value, offset + 4, byteLength, 'utf8');
  }

  finish(): Uint8Array {
    return this.#buffer.slice(0, this.#length);
  }
}

/**
 * What a read is for, used only in error messages: a string, or an object that builds the
 * string (made once per decode, asked only on error, so the hot path builds no text).
 */
export type ReadLabel = string | { describe(): string };

export function describeLabel(label: ReadLabel): string {
  return typeof label === 'string' ? label : label.describe();
}

/** Spans up to this long are compared byte by byte in JavaScript; longer ones by Buffer.compare. */
const shortCompareBytesMax = 256;

export class ByteReader {
  #offset = 0;
  readonly #view: DataView;
  readonly #buffer: Buffer;
  readonly #data: Uint8Array;

  constructor(data: Uint8Array) {
    this.#data = data;
    this.#view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    this.#buffer = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }

  get remaining(): number {
    return this.#data.length - this.#offset;
  }

  #take(byteCount: number, what: ReadLabel): number {
    if (byteCount > this.#data.length - this.#offset) {
      throw new StateMachineError('BAD_COMMAND', `truncated command: ${describeLabel(what)} needs ${byteCount} bytes, ${this.remaining} left`);
    }
    const offset = this.#offset;
    this.#offset += byteCount;
    return offset;
  }

  u8(what: ReadLabel): number {
    return this.#view.getUint8(this.#take(1, what));
  }

  u32(what: ReadLabel): number {
    return this.#view.getUint32(this.#take(4, what), true);
  }

  i64(what: ReadLabel): bigint {
    return this.#view.getBigInt64(this.#take(8, what), true);
  }

  /** A signed 64-bit integer as a number when it is safe, else a bigint (no bigint allocated in the common case). */
  integer(what: ReadLabel): number | bigint {
    const offset = this.#take(8, what);
    const high = this.#view.getInt32(offset + 4, true);
    if (high >= -0x200000 && high < 0x200000) return high * 0x100000000 + this.#view.getUint32(offset, true);
    return this.#view.getBigInt64(offset, true);
  }

  u64(what: ReadLabel): bigint {
    return this.#view.getBigUint64(this.#take(8, what), true);
  }

  f64(what: ReadLabel): number {
    return this.#view.getFloat64(this.#take(8, what), true);
  }

  /** The offset and length of the next length-prefixed bytes, checked against `bytesMax`. */
  #span(what: ReadLabel, bytesMax: number): number {
    const length = this.u32(what);
    if (length > bytesMax) {
      throw new StateMachineError('BAD_COMMAND', `${describeLabel(what)} is ${length} bytes, more than the bound ${bytesMax}`);
    }
    return this.#take(length, what);
  }

  /** A copy: the caller may keep it after the command's buffer is reused. */
  bytes(what: ReadLabel, bytesMax: number): Uint8Array {
    const start = this.#span(what, bytesMax);
    return this.#data.slice(start, this.#offset);
  }

  /** UTF-8 text, validated. */
  text(what: ReadLabel, bytesMax: number): string {
    const start = this.#span(what, bytesMax);
    return this.#decodeText(what, start, this.#offset);
  }

  /**
   * UTF-8 text and where it lies. `previous` is the span of the last text this reader
   * returned: when the bytes are equal the same string object comes back (statements in a
   * batch usually share SQL, and one string keeps its hash cached for cache lookups).
   */
  textSpan(what: ReadLabel, bytesMax: number, previous?: TextSpan): TextSpan {
    const start = this.#span(what, bytesMax);
    const end = this.#offset;
    if (previous !== undefined && this.#equalBytes(previous.start, previous.end, start, end)) {
      return { start, end, text: previous.text };
    }
    return { start, end, text: this.#decodeText(what, start, end) };
  }

  #decodeText(what: ReadLabel, start: number, end: number): string {
    // ASCII is the common case: latin1 decodes it exactly and faster than the UTF-8 decoder.
    if (isAscii(this.#data, start, end)) return this.#buffer.toString('latin1', start, end);
    if (!isUtf8(this.#data.subarray(start, end))) {
      throw new StateMachineError('BAD_COMMAND', `${describeLabel(what)} is not valid UTF-8`);
    }
    return this.#buffer.toString('utf8', start, end);
  }

  /** Whether two spans of the command hold the same bytes (a loop for short spans: cheaper than a native call). */
  #equalBytes(leftStart: number, leftEnd: number, rightStart: number, rightEnd: number): boolean {
    const length = leftEnd - leftStart;
    if (length !== rightEnd - rightStart) return false;
    if (length > shortCompareBytesMax) return this.#buffer.compare(this.#buffer, leftStart, leftEnd, rightStart, rightEnd) === 0;
    const data = this.#data;
    for (let offset = 0; offset < length; offset++) {
      if (data[leftStart + offset] !== data[rightStart + offset]) return false;
    }
    return true;
  }
}

export interface TextSpan {
  readonly start: number;
  readonly end: number;
  readonly text: string;
}

function isAscii(data: Uint8Array, start: number, end: number): boolean {
  for (let position = start; position < end; position++) if ((data[position] as number) >= 0x80) return false;
  return true;
}

/** Integers keep full 64-bit precision: numbers when safe, bigints beyond 2^53. */
const safeIntegerMin = BigInt(Number.MIN_SAFE_INTEGER);
const safeIntegerMax = BigInt(Number.MAX_SAFE_INTEGER);

export function normalizeInteger(value: bigint): number | bigint {
  return value >= safeIntegerMin && value <= safeIntegerMax ? Number(value) : value;
}

const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** False when the string holds a lone UTF-16 surrogate, which has no UTF-8 encoding. */
export function isWellFormedText(value: string): boolean {
  return !loneSurrogate.test(value);
}

/** Checks a value can go on the wire; throws INVALID_VALUE with `where` in the message. */
export function checkValue(value: SqlValue, where: string, bytesMax: number): void {
  if (typeof value === 'string') checkTextValue(value, where, bytesMax);
  else if (value instanceof Uint8Array) checkByteCount(value.length, where, bytesMax);
  else if (typeof value === 'bigint') checkInt64(value, where);
  else if (typeof value === 'number') checkNumber(value, where);
  else if (isSqlReal(value)) {
    // Any other object is no parameter value: only `{ real: number }` is.
    if (typeof value.real !== 'number') throw new StateMachineError('INVALID_VALUE', `${where}: unsupported value type object`);
    checkNumber(value.real, where);
  } else if (value !== null && typeof value !== 'boolean') {
    throw new StateMachineError('INVALID_VALUE', `${where}: unsupported value type ${typeof value}`);
  }
}

function checkNumber(value: number, where: string): void {
  if (Number.isNaN(value)) throw new StateMachineError('INVALID_VALUE', `${where}: NaN cannot be stored`);
}

function checkTextValue(value: string, where: string, bytesMax: number): void {
  if (!isWellFormedText(value)) throw new StateMachineError('INVALID_VALUE', `${where}: text is not valid Unicode (lone surrogate)`);
  checkByteCount(Buffer.byteLength(value, 'utf8'), where, bytesMax);
}

function checkByteCount(byteCount: number, where: string, bytesMax: number): void {
  if (byteCount > bytesMax) throw new StateMachineError('COMMAND_TOO_LARGE', `${where}: ${byteCount} bytes, more than the bound ${bytesMax}`);
}

function checkInt64(value: bigint, where: string): void {
  if (value < int64Min || value > int64Max) throw new StateMachineError('INVALID_VALUE', `${where}: integer ${value} does not fit in 64 bits`);
}

export function writeValue(writer: ByteWriter, value: SqlValue | SqlResultValue): void {
  if (value === null) writer.u8(valueTag.null);
  else if (value === true) writer.u8(valueTag.true);
  else if (value === false) writer.u8(valueTag.false);
  else if (typeof value === 'bigint') {
    writer.u8(valueTag.integer);
    writer.i64(value);
  } else if (typeof value === 'number') {
    // A safe integer is an SQL INTEGER (rqlite maps JSON integers to 64-bit integers).
    if (Number.isSafeInteger(value)) {
      writer.u8(valueTag.integer);
      writer.i64(BigInt(value));
    } else {
      writer.u8(valueTag.float);
      writer.f64(value);
    }
  } else if (typeof value === 'string') {
    writer.u8(valueTag.text);
    writer.text(value);
  } else if (value instanceof Uint8Array) {
    writer.u8(valueTag.blob);
    writer.bytes(value);
  } else {
    writer.u8(valueTag.float);
    writer.f64(value.real);
  }
}

/**
 * Reads a value. With `wholeRealsTagged` (commands of version 2) a float that is a safe
 * integer is a REAL and comes back as `{ real }`; without it (version 1 commands, stored
 * results) as a plain number, as builds before version 2 read it.
 */
export function readValue(reader: ByteReader, what: ReadLabel, bytesMax: number, wholeRealsTagged = false): SqlValue {
  const tag = reader.u8(what);
  switch (tag) {
    case valueTag.null:
      return null;
    case valueTag.true:
      return true;
    case valueTag.false:
      return false;
    case valueTag.integer:
      return reader.integer(what);
    case valueTag.float:
      return wholeRealsTagged ? realValue(reader.f64(what)) : reader.f64(what);
    case valueTag.text:
      return reader.text(what, bytesMax);
    case valueTag.blob:
      return reader.bytes(what, bytesMax);
    default:
      throw new StateMachineError('BAD_COMMAND', `${describeLabel(what)}: unknown value tag ${tag}`);
  }
}
