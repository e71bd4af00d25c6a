/**
 * Turns rqlite's JSON reply (already parsed with exact integers) into typed results.
 * BLOBs arrive as byte arrays (the client asks for `blob_array`); a base64 string in
 * a column declared BLOB is decoded too, for servers that ignore `blob_array`.
 */
import { QuorumliteError } from './errors.js';
import type { JsonObject, JsonValue } from './json-parse.js';
import type { BigIntMode, ResultSet, RowMode, SqlErrorMode, Value } from './types.js';

interface DecodeOptions {
  readonly bigint: BigIntMode;
  readonly rowMode: RowMode;
  readonly sqlErrors: SqlErrorMode;
}

export interface DecodedReply<Row> {
  readonly results: ResultSet<Row>[];
  readonly raftIndex: number | undefined;
  /** Top-level `error` (request-level failure, e.g. "stale read"). */
  readonly requestError: string | undefined;
}

export function isJsonObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

export function decodeReply<Row>(body: JsonValue, options: DecodeOptions): DecodedReply<Row> {
  if (!isJsonObject(body)) throw shapeError('the reply is not a JSON object');
  const requestError = typeof body.error === 'string' ? body.error : undefined;
  const rawResults = body.results ?? [];
  if (!Array.isArray(rawResults)) throw shapeError('"results" is not an array');
  const results = rawResults.map((raw, statementIndex) => decodeResult<Row>(raw, statementIndex, options));
  return { results, raftIndex: optionalNumber(body.raft_index, 'raft_index'), requestError };
}

function decodeResult<Row>(raw: JsonValue, statementIndex: number, options: DecodeOptions): ResultSet<Row> {
  if (!isJsonObject(raw)) throw shapeError(`result ${statementIndex} is not an object`);
  const columns = stringArray(raw.columns, 'columns');
  const types = stringArray(raw.types, 'types');
  const values = raw.values ?? [];
  if (!Array.isArray(values)) throw shapeError(`result ${statementIndex}: "values" is not an array`);
  // Whether a column is declared BLOB is decided once per result, not once per cell.
  const blobColumns = types.map((type) => /blob/i.test(type));
  const rows = values.map((row) => decodeRow<Row>(row, columns, blobColumns, options));
  return {
    columns,
    types,
    rows,
    rowsAffected: optionalNumber(raw.rows_affected, 'rows_affected') ?? 0,
    lastInsertId: decodeLastInsertId(raw.last_insert_id, options.bigint),
    error: typeof raw.error === 'string' ? raw.error : undefined,
    timeSeconds: optionalNumber(raw.time, 'time'),
  };
}

function decodeRow<Row>(row: JsonValue, columns: readonly string[], blobColumns: readonly boolean[], options: DecodeOptions): Row {
  if (!Array.isArray(row)) throw shapeError('a row is not an array');
  const cells = row.map((cell, columnIndex) => decodeCell(cell, blobColumns[columnIndex] === true, options.bigint));
  if (options.rowMode === 'array') return cells as Row;
  const object: Record<string, Value> = {};
  for (let columnIndex = 0; columnIndex < cells.length; columnIndex += 1) {
    const name = columns[columnIndex] ?? String(columnIndex);
    // defineProperty: a column named "__proto__" must be data, not a prototype change.
    Object.defineProperty(object, name, { value: cells[columnIndex] ?? null, enumerable: true, writable: true, configurable: true });
  }
  return object as Row;
}

/** `blobColumn`: the column is declared BLOB, so a string cell is base64. */
function decodeCell(cell: JsonValue, blobColumn: boolean, mode: BigIntMode): Value {
  if (cell === null || typeof cell === 'number' || typeof cell === 'string') {
    if (typeof cell === 'string' && blobColumn) return base64ToBytes(cell);
    return cell;
  }
  if (typeof cell === 'bigint') {
    if (mode === 'never') throw new QuorumliteError('INTEGER_OVERFLOW', `integer ${cell} does not fit in a JavaScript number; use bigint: 'auto'`);
    return cell;
  }
  if (typeof cell === 'boolean') return cell ? 1 : 0;
  if (Array.isArray(cell)) return byteArrayToBytes(cell);
  throw shapeError('a cell is an object');
}

function byteArrayToBytes(cells: readonly JsonValue[]): Uint8Array {
  const bytes = new Uint8Array(cells.length);
  for (let index = 0; index < cells.length; index += 1) {
    const byte = cells[index];
    const value = typeof byte === 'bigint' ? Number(byte) : byte;
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 255) {
      throw shapeError('a BLOB byte array holds a value outside 0-255');
    }
    bytes[index] = value;
  }
  return bytes;
}

function base64ToBytes(text: string): Uint8Array {
  let binary: string;
  try {
    binary = atob(text);
  } catch (error) {
    throw new QuorumliteError('SERVER_ERROR', 'a BLOB column holds a string that is not base64', { cause: error });
  }
  const bytes = new Uint8Array(binary.length);
  for (let index = 0; index < binary.length; index += 1) bytes[index] = binary.charCodeAt(index);
  return bytes;
}

function decodeLastInsertId(raw: JsonValue | undefined, mode: BigIntMode): number | bigint | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number') return mode === 'always' && Number.isInteger(raw) ? BigInt(raw) : raw;
  if (typeof raw === 'bigint') {
    if (mode === 'always') return raw;
    if (Number.isSafeInteger(Number(raw))) return Number(raw);
    if (mode === 'never') throw new QuorumliteError('INTEGER_OVERFLOW', `last_insert_id ${raw} does not fit in a JavaScript number`);
    return raw;
  }
  throw shapeError('"last_insert_id" is not a number');
}

function optionalNumber(raw: JsonValue | undefined, name: string): number | undefined {
  if (raw === undefined || raw === null) return undefined;
  if (typeof raw === 'number') return raw;
  if (typeof raw === 'bigint') return Number(raw);
  throw shapeError(`"${name}" is not a number`);
}

function stringArray(raw: JsonValue | undefined, name: string): string[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw) || raw.some((item) => typeof item !== 'string')) throw shapeError(`"${name}" is not an array of strings`);
  return raw as string[];
}

function shapeError(message: string): QuorumliteError {
  return new QuorumliteError('SERVER_ERROR', `unexpected reply shape: ${message}`);
}

/** The first per-statement SQL error of a reply, if any. */
export function firstSqlError<Row>(results: readonly ResultSet<Row>[]): { statementIndex: number; message: string } | undefined {
  for (let statementIndex = 0; statementIndex < results.length; statementIndex += 1) {
    const message = results[statementIndex]?.error;
    if (message !== undefined) return { statementIndex, message };
  }
  return undefined;
}
