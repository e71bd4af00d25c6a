/**
 * REAL parameters whose value is a whole number. A plain `number` that is a safe integer
 * binds as INTEGER (that is how integers travel cheaply), so a REAL such as JSON's `2.0`,
 * `1e2` or `-0.0` is carried as `{ real }` through parsing (src/http), the log (the command
 * codec) and binding (the statement runner); every other REAL stays a plain `number`.
 */

/** A parameter that binds as REAL whatever its value. Plain data: it survives IPC and MessagePack. */
export interface SqlReal {
  readonly real: number;
}

/** `value` as a parameter that binds as REAL: tagged only when a plain number would bind as INTEGER. */
export function realValue(value: number): number | SqlReal {
  return Number.isSafeInteger(value) ? { real: value } : value;
}

/** Whether a parameter value is a SqlReal (the only plain object a parameter value may be). */
export function isSqlReal(value: unknown): value is SqlReal {
  return typeof value === 'object' && value !== null && !(value instanceof Uint8Array);
}
