/**
 * Values rqlite answers differently because of a column's declared type (its SQLite
 * driver converts them as it reads): a DATE, DATETIME or TIMESTAMP column's TEXT and
 * INTEGER values become RFC 3339 times (go-time.ts), and a BOOLEAN column's INTEGER
 * values become `true` / `false` (any value above 0 is true), and a BLOB in a column
 * rqlite takes for text becomes a string (go-json.ts). Other values, REAL included,
 * pass unchanged. Response shaping only: the stored data is never touched, and the
 * conversion is a pure function of the result, so every node answers the same.
 *
 * Which columns rqlite takes for text: its `isTextType` on the column's type — `text`,
 * `json`, `""`, or one starting `varchar`, `varying character`, `nchar`, `native
 * character`, `nvarchar` or `clob`. rqlite checks the first row against the declared
 * type and every later row against the type as reported (filled in from the first
 * row's value where none is declared). The reported type gives the same answer for
 * the first row too: a column without a declared type whose first value is a BLOB
 * reports `text` (result-types.ts), and one whose first value is NULL keeps `""`.
 *
 * Telling INTEGER from REAL: a result carries an integer as a safe-integer number or a
 * bigint, and a REAL as a number. These columns have NUMERIC affinity, which stores an
 * integral REAL that fits in 64 bits as an INTEGER, so a REAL read from one is never a
 * safe integer: the test below is exact for them.
 */
import type { SqlResultValue, StatementResult } from '../state-machine/types.js';
import { blobAsText } from './go-json.js';
import { textToGoTime, unixToGoTime, type GoTimeText } from './go-time.js';

type RowsResult = Extract<StatementResult, { kind: 'rows' }>;
type ShapedValue = SqlResultValue | boolean;
export type ShapedRows = Omit<RowsResult, 'rows'> & { readonly rows: readonly (readonly ShapedValue[])[] };

type Conversion = 'time' | 'boolean' | 'text';

const timeTypes = new Set(['date', 'datetime', 'timestamp']);
const textTypes = new Set(['text', 'json', '']);
const textTypePrefixes = ['varchar', 'varying character', 'nchar', 'native character', 'nvarchar', 'clob'];

function isTextType(type: string): boolean {
  return textTypes.has(type) || textTypePrefixes.some((prefix) => type.startsWith(prefix));
}

function conversionFor(type: string): Conversion | undefined {
  if (timeTypes.has(type)) return 'time';
  if (type === 'boolean') return 'boolean';
  if (isTextType(type)) return 'text';
  return undefined;
}

function isInteger(value: SqlResultValue): value is number | bigint {
  return typeof value === 'bigint' || (typeof value === 'number' && Number.isSafeInteger(value));
}

function convertTime(value: SqlResultValue): GoTimeText | undefined {
  if (typeof value === 'string') return textToGoTime(value);
  if (isInteger(value)) return unixToGoTime(BigInt(value));
  return undefined;
}

function convertValue(value: SqlResultValue, conversion: Conversion): ShapedValue | { readonly error: string } {
  if (conversion === 'text') return value instanceof Uint8Array ? blobAsText(value) : value;
  if (conversion === 'boolean') return isInteger(value) ? value > 0 : value;
  const time = convertTime(value);
  if (time === undefined) return value;
  return 'error' in time ? time : time.text;
}

type ConversionError = { readonly kind: 'error'; readonly error: string };

/** `row` with its values converted: the same array when none changes, a copy otherwise. */
function shapeRow(row: readonly SqlResultValue[], conversions: readonly (Conversion | undefined)[]): readonly ShapedValue[] | ConversionError {
  let shaped: ShapedValue[] | undefined;
  for (let index = 0; index < conversions.length; index++) {
    const conversion = conversions[index];
    if (conversion === undefined) continue;
    const value = row[index] ?? null;
    const converted = convertValue(value, conversion);
    if (typeof converted === 'object' && converted !== null && !(converted instanceof Uint8Array)) {
      return { kind: 'error', error: converted.error };
    }
    if (converted === value) continue;
    shaped ??= [...row];
    shaped[index] = converted;
  }
  return shaped ?? row;
}

/**
 * The result as rqlite answers it, or the error rqlite answers instead (a time it cannot
 * write, e.g. a year past 9999: rqlite fails the whole statement with Go's text). A row
 * is copied only when one of its values changes (text columns rarely hold a BLOB).
 */
export function shapeDeclaredTypes(result: RowsResult): ShapedRows | ConversionError {
  const conversions = result.types.map(conversionFor);
  if (result.rows.length === 0 || conversions.every((conversion) => conversion === undefined)) return result;
  const rows: (readonly ShapedValue[])[] = [];
  let changed = false;
  for (const row of result.rows) {
    const shaped = shapeRow(row, conversions);
    if ('kind' in shaped) return shaped;
    rows.push(shaped);
    changed ||= shaped !== row;
  }
  return changed ? { ...result, rows } : result;
}
