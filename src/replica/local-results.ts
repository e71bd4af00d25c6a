/**
 * Local reads in the client's shapes: the client's statements as the state machine's, and
 * the state machine's results as the client's ResultSets, with the same `bigint`, `rowMode`
 * and `sqlErrors` rules as a reply from a node (src/client/results.ts).
 */
import { QuorumliteError } from '../client/errors.js';
import type { BigIntMode, InStatement, InValue, ResultSet, RowMode, SqlErrorMode, Value } from '../client/types.js';
import type { SqlResultValue, SqlValue, Statement, StatementResult } from '../state-machine/types.js';

export interface ResultModes {
  readonly bigint: BigIntMode;
  readonly rowMode: RowMode;
  readonly sqlErrors: SqlErrorMode;
}

export function localStatements(statements: InStatement | readonly InStatement[]): Statement[] {
  const list: readonly InStatement[] = typeof statements === 'string' || !Array.isArray(statements) ? [statements as InStatement] : statements;
  return list.map((statement, statementIndex) => {
    if (typeof statement === 'string') return { sql: statement, positional: [], named: {} };
    if (statement === null || typeof statement !== 'object' || typeof statement.sql !== 'string') {
      throw new QuorumliteError('INVALID_ARGUMENT', `statement ${statementIndex} is neither SQL text nor { sql, args }`);
    }
    const args = statement.args;
    const positional = Array.isArray(args) ? args.map((value) => sqlValue(value, statementIndex)) : [];
    const named: Record<string, SqlValue> = {};
    const namedArgs = { ...(args !== undefined && !Array.isArray(args) ? args : {}), ...statement.named };
    for (const [name, value] of Object.entries(namedArgs)) named[name] = sqlValue(value as InValue, statementIndex);
    return { sql: statement.sql, positional, named };
  });
}

function sqlValue(value: InValue, statementIndex: number): SqlValue {
  if (typeof value === 'number' && !Number.isFinite(value)) {
    throw new QuorumliteError('INVALID_ARGUMENT', `statement ${statementIndex}: ${value} is not a value SQLite stores`);
  }
  if (value !== null && typeof value === 'object' && !(value instanceof Uint8Array)) return { real: value.real };
  return value;
}

/** The results as a reply from a node would give them; a SQL error throws SQL_ERROR unless `sqlErrors` is 'return'. */
export function localResultSets<Row>(results: readonly StatementResult[], modes: ResultModes): ResultSet<Row>[] {
  const sets = results.map((result) => resultSet<Row>(result, modes));
  const failed = sets.findIndex((set) => set.error !== undefined);
  if (failed !== -1 && modes.sqlErrors === 'throw') {
    throw new QuorumliteError('SQL_ERROR', `statement ${failed}: ${sets[failed]?.error}`, { statementIndex: failed, results: sets });
  }
  return sets;
}

function resultSet<Row>(result: StatementResult, modes: ResultModes): ResultSet<Row> {
  const empty = { columns: [], types: [], rows: [], rowsAffected: 0, lastInsertId: undefined, error: undefined, timeSeconds: undefined };
  switch (result.kind) {
    case 'rows':
      return { ...empty, columns: result.columns, types: result.types, rows: result.rows.map((row) => localRow<Row>(row, result.columns, modes)) };
    case 'write':
      return { ...empty, rowsAffected: result.rowsAffected, lastInsertId: integer(result.lastInsertId, modes.bigint) as number | bigint };
    case 'empty':
      return empty;
    case 'error':
      return { ...empty, error: result.error };
  }
}

function localRow<Row>(row: readonly SqlResultValue[], columns: readonly string[], modes: ResultModes): Row {
  const cells = row.map((cell) => localValue(cell, modes.bigint));
  if (modes.rowMode === 'array') return cells as Row;
  const object: Record<string, Value> = {};
  for (let columnIndex = 0; columnIndex < cells.length; columnIndex += 1) {
    // defineProperty: a column named "__proto__" must be data, not a prototype change.
    Object.defineProperty(object, columns[columnIndex] ?? String(columnIndex), {
      value: cells[columnIndex] ?? null,
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return object as Row;
}

function localValue(cell: SqlResultValue, mode: BigIntMode): Value {
  if (cell instanceof Uint8Array) return new Uint8Array(cell.buffer, cell.byteOffset, cell.byteLength);
  return integer(cell, mode);
}

function integer(cell: Exclude<SqlResultValue, Uint8Array>, mode: BigIntMode): Exclude<Value, Uint8Array> {
  if (typeof cell === 'bigint') {
    if (Number.isSafeInteger(Number(cell)) && mode !== 'always') return Number(cell);
    if (mode === 'never') throw new QuorumliteError('INTEGER_OVERFLOW', `integer ${cell} does not fit in a JavaScript number; use bigint: 'auto'`);
    return cell;
  }
  if (typeof cell === 'number' && mode === 'always' && Number.isInteger(cell)) return BigInt(cell);
  return cell;
}
