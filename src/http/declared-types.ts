/**
 * Values rqlite answers differently because of a column's declared type (its SQLite
 * driver converts them as it reads): a DATE, DATETIME or TIMESTAMP column's TEXT and
 * INTEGER values become RFC 3339 times (go-time.ts), and a BOOLEAN column's INTEGER
 * values become `true` / `false` (any value above 0 is true). Other values, REAL
 * included, pass unchanged. Response shaping only: the stored data is never touched,
 * and the conversion is a pure function of the result, so every node answers the same.
 *
 * Telling INTEGER from REAL: a result carries an integer as a safe-integer number or a
 * bigint, and a REAL as a number. These columns have NUMERIC affinity, which stores an
 * integral REAL that fits in 64 bits as an INTEGER, so a REAL read from one is never a
 * safe integer: the test below is exact for them.
 */
import type { SqlResultValue, StatementResult } from '../state-machine/types.js';
import { textToGoTime, unixToGoTime, type GoTimeText } from './go-time.js';

type RowsResult = Extract<StatementResult, { kind: 'rows' }>;
type ShapedValue = SqlResultValue | boolean;
export type ShapedRows = Omit<RowsResult, 'rows'> & { readonly rows: readonly (readonly ShapedValue[])[] };

type Conversion = 'time' | 'boolean';

const timeTypes = new Set(['date', 'datetime', 'timestamp']);

function conversionFor(type: string): Conversion | undefined {
  if (timeTypes.has(type)) return 'time';
  if (type === 'boolean') return 'boolean';
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
  if (conversion === 'boolean') return isInteger(value) ? value > 0 : value;
  const time = convertTime(value);
  if (time === undefined) return value;
  return 'error' in time ? time : time.text;
}

/**
 * The result as rqlite answers it, or the error rqlite answers instead (a time it cannot
 * write, e.g. a year past 9999: rqlite fails the whole statement with Go's text).
 */
export function shapeDeclaredTypes(result: RowsResult): ShapedRows | { readonly kind: 'error'; readonly error: string } {
  const conversions = result.types.map(conversionFor);
  if (result.rows.length === 0 || conversions.every((conversion) => conversion === undefined)) return result;
  const rows: ShapedValue[][] = [];
  for (const row of result.rows) {
    const shaped: ShapedValue[] = [...row];
    for (let index = 0; index < conversions.length; index++) {
      const conversion = conversions[index];
      if (conversion === undefined) continue;
      const converted = convertValue(row[index] ?? null, conversion);
      if (typeof converted === 'object' && converted !== null && !(converted instanceof Uint8Array)) {
        return { kind: 'error', error: converted.error };
      }
      shaped[index] = converted;
    }
    rows.push(shaped);
  }
  return { ...result, rows };
}
