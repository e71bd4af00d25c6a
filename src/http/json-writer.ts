/**
 * A JSON writer for response bodies. Beyond `JSON.stringify` it writes bigints as
 * exact JSON integers, BLOBs (Uint8Array) as base64 strings or byte arrays (a
 * `BlobAsText` as the Go string rqlite makes of it), Go maps with their keys in Go's
 * order (`GoMap`), rows as such maps without building them first (`AssociativeRows`),
 * and it yields the text in
 * chunks of about `chunkCharacters` so a large result set streams to the socket
 * instead of becoming one giant string. `pretty` indents with four spaces, as Go's
 * `json.MarshalIndent(v, "", "    ")` does in rqlite.
 *
 * Object properties whose value is `undefined` are left out (that is how shaping code
 * says "omitted when empty"). Non-finite floats, which JSON cannot express, are
 * written as null.
 */

import { BlobAsText, compareGoStrings, goJsonStringOfBytes } from './go-json.js';

type ScalarOutput = null | boolean | number | bigint | string | Uint8Array;

export type JsonOutput =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | AssociativeRows
  | GoMap
  | readonly JsonOutput[]
  | { readonly [key: string]: JsonOutput | undefined };

/**
 * Rows written as `[{column: value, …}, …]`, each a Go map as rqlite writes it: keys
 * sorted by their UTF-8 bytes, a repeated column name keeping its last value.
 */
export class AssociativeRows {
  constructor(
    readonly columns: readonly string[],
    readonly rows: readonly (readonly JsonOutput[])[],
  ) {}
}

/** One Go map (`{key: value}`): keys sorted by their UTF-8 bytes; a repeated key keeps its last value. */
export class GoMap {
  constructor(
    readonly keys: readonly string[],
    readonly values: readonly JsonOutput[],
  ) {}
}

interface JsonWriteOptions {
  readonly pretty: boolean;
  /** `?blob_array`: BLOBs as arrays of byte values instead of base64. */
  readonly blobAsArray: boolean;
  /** Yield once the pending text reaches this many characters. */
  readonly chunkCharacters: number;
}

const jsonChunkCharactersDefault = 64 * 1024;

/** The whole document as one string (for small bodies and tests). */
export function writeJsonString(value: JsonOutput, options: Partial<JsonWriteOptions> = {}): string {
  let text = '';
  for (const chunk of writeJsonChunks(value, options)) text += chunk;
  return text;
}

export function* writeJsonChunks(value: JsonOutput, options: Partial<JsonWriteOptions> = {}): Generator<string, void, undefined> {
  const writer = new JsonWriter({
    pretty: options.pretty ?? false,
    blobAsArray: options.blobAsArray ?? false,
    chunkCharacters: options.chunkCharacters ?? jsonChunkCharactersDefault,
  });
  yield* writer.writeValue(value, 0);
  if (writer.pending.length > 0) yield writer.pending;
}

class JsonWriter {
  pending = '';
  readonly #options: JsonWriteOptions;

  constructor(options: JsonWriteOptions) {
    this.#options = options;
  }

  *writeValue(value: JsonOutput, depth: number): Generator<string, void, undefined> {
    if (this.pending.length >= this.#options.chunkCharacters) {
      yield this.pending;
      this.pending = '';
    }
    if (isScalar(value)) {
      this.pending += this.#scalar(value, depth);
    } else if (value instanceof AssociativeRows) {
      yield* this.#writeAssociativeRows(value, depth);
    } else if (value instanceof GoMap) {
      yield* this.#writeGoMap(value, depth);
    } else if (isArray(value)) {
      yield* this.#writeArray(value, depth);
    } else {
      yield* this.#writeObject(value, depth);
    }
  }

  #scalar(value: ScalarOutput, depth: number): string {
    if (value === null) return 'null';
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value);
      case 'number':
        return Number.isFinite(value) ? String(value) : 'null';
      case 'bigint':
        return value.toString();
      case 'boolean':
        return value ? 'true' : 'false';
      default:
        return this.#blob(value, depth);
    }
  }

  #blob(bytes: Uint8Array, depth: number): string {
    if (bytes instanceof BlobAsText) return goJsonStringOfBytes(bytes);
    if (this.#options.blobAsArray) return this.#byteArray(bytes, depth);
    return `"${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64')}"`;
  }

  #byteArray(bytes: Uint8Array, depth: number): string {
    if (bytes.length === 0) return '[]';
    if (!this.#options.pretty) return `[${bytes.join(',')}]`;
    return `[${this.#newline(depth + 1)}${bytes.join(`,${this.#newline(depth + 1)}`)}${this.#newline(depth)}]`;
  }

  #newline(depth: number): string {
    return this.#options.pretty ? `\n${'    '.repeat(depth)}` : '';
  }

  *#writeArray(items: readonly JsonOutput[], depth: number): Generator<string, void, undefined> {
    if (items.length === 0) {
      this.pending += '[]';
      return;
    }
    this.pending += '[';
    for (let index = 0; index < items.length; index++) {
      if (index > 0) this.pending += ',';
      this.pending += this.#newline(depth + 1);
      const item = items[index] as JsonOutput;
      if (!this.#appendFlat(item, depth + 1)) yield* this.writeValue(item, depth + 1);
      if (this.pending.length >= this.#options.chunkCharacters) {
        yield this.pending;
        this.pending = '';
      }
    }
    this.pending += `${this.#newline(depth)}]`;
  }

  /**
   * Appends a scalar or an array of scalars (a row, a result's columns and types) without a
   * generator per value, the hot path of a result; false for anything else.
   */
  #appendFlat(value: JsonOutput, depth: number): boolean {
    if (isScalar(value)) this.pending += this.#scalar(value, depth);
    else if (isScalarArray(value)) this.#appendScalarArray(value, depth);
    else return false;
    return true;
  }

  #appendScalarArray(items: readonly ScalarOutput[], depth: number): void {
    if (items.length === 0) {
      this.pending += '[]';
      return;
    }
    const inner = this.#newline(depth + 1);
    let text = '[';
    for (let index = 0; index < items.length; index++) {
      if (index > 0) text += ',';
      text += inner + this.#scalar(items[index] as ScalarOutput, depth + 1);
    }
    this.pending += `${text}${this.#newline(depth)}]`;
  }

  *#writeObject(object: { readonly [key: string]: JsonOutput | undefined }, depth: number): Generator<string, void, undefined> {
    const separator = this.#options.pretty ? ': ' : ':';
    let written = 0;
    this.pending += '{';
    for (const key of Object.keys(object)) {
      const value = object[key];
      if (value === undefined) continue;
      if (written > 0) this.pending += ',';
      this.pending += `${this.#newline(depth + 1)}${JSON.stringify(key)}${separator}`;
      if (!this.#appendFlat(value, depth + 1)) yield* this.writeValue(value, depth + 1);
      written++;
    }
    this.pending += written === 0 ? '}' : `${this.#newline(depth)}}`;
  }

  /** Each row is written straight from its array; no row object is built. */
  *#writeAssociativeRows(value: AssociativeRows, depth: number): Generator<string, void, undefined> {
    if (value.rows.length === 0) {
      this.pending += '[]';
      return;
    }
    const keys = goMapKeys(value.columns);
    this.pending += '[';
    for (let index = 0; index < value.rows.length; index++) {
      if (index > 0) this.pending += ',';
      this.pending += this.#newline(depth + 1);
      const row = value.rows[index] ?? [];
      if (isScalarArray(row)) this.#appendRowObject(keys, row, depth + 1);
      else yield* this.#writeGoMap(new GoMap(value.columns, row), depth + 1);
      if (this.pending.length >= this.#options.chunkCharacters) {
        yield this.pending;
        this.pending = '';
      }
    }
    this.pending += `${this.#newline(depth)}]`;
  }

  #appendRowObject(keys: readonly ColumnKey[], row: readonly ScalarOutput[], depth: number): void {
    if (keys.length === 0) {
      this.pending += '{}';
      return;
    }
    const inner = this.#newline(depth + 1);
    const separator = this.#options.pretty ? ': ' : ':';
    let text = '{';
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as ColumnKey;
      if (index > 0) text += ',';
      text += `${inner}${key.quoted}${separator}${this.#scalar(row[key.columnIndex] ?? null, depth + 1)}`;
    }
    this.pending += `${text}${this.#newline(depth)}}`;
  }

  *#writeGoMap(map: GoMap, depth: number): Generator<string, void, undefined> {
    const keys = goMapKeys(map.keys);
    if (keys.length === 0) {
      this.pending += '{}';
      return;
    }
    const separator = this.#options.pretty ? ': ' : ':';
    this.pending += '{';
    for (let index = 0; index < keys.length; index++) {
      const key = keys[index] as ColumnKey;
      if (index > 0) this.pending += ',';
      this.pending += `${this.#newline(depth + 1)}${key.quoted}${separator}`;
      yield* this.writeValue(map.values[key.columnIndex] ?? null, depth + 1);
    }
    this.pending += `${this.#newline(depth)}}`;
  }
}

interface ColumnKey {
  readonly quoted: string;
  readonly columnIndex: number;
}

/** A Go map's keys in the order Go writes them (by UTF-8 bytes), each with the position of its last value. */
function goMapKeys(columns: readonly string[]): ColumnKey[] {
  const lastPositions = new Map<string, number>();
  for (let columnIndex = 0; columnIndex < columns.length; columnIndex++) lastPositions.set(columns[columnIndex] as string, columnIndex);
  return [...lastPositions.keys()]
    .sort(compareGoStrings)
    .map((column) => ({ quoted: JSON.stringify(column), columnIndex: lastPositions.get(column) as number }));
}

function isScalar(value: JsonOutput): value is ScalarOutput {
  return typeof value !== 'object' || value === null || value instanceof Uint8Array;
}

function isScalarArray(value: JsonOutput): value is readonly ScalarOutput[] {
  if (!Array.isArray(value)) return false;
  for (const item of value as readonly JsonOutput[]) if (!isScalar(item)) return false;
  return true;
}

function isArray(value: unknown): value is readonly JsonOutput[] {
  return Array.isArray(value);
}
