/**
 * REAL parameters whose value is a whole number. A plain `number` that is a safe integer
 * binds as INTEGER (that is how integers travel cheaply), so a REAL such as JSON's `2.0`,
 * `1e2` or `-0.0` is carried as `{ real }` (types.ts SqlReal) through parsing, the log
 * and binding; every other REAL stays a plain `number`.
 */
import type { SqlReal, SqlValue } from './types.js';

/** `value` as a parameter that binds as REAL: tagged only when a plain number would bind as INTEGER. */
export function realValue(value: number): number | SqlReal {
  return Number.isSafeInteger(value) ? { real: value } : value;
}

export function isSqlReal(value: SqlValue): value is SqlReal {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
}
