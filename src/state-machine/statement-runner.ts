/**
 * Runs request statements on one connection and shapes their results for rqlite: a
 * bounded cache of prepared statements, parameter binding (integers as 64-bit integers,
 * booleans as 1/0), and rows with numbers when safe and bigints beyond 2^53.
 * SQL errors become per-statement `error` results; environmental failures are thrown.
 */
import type Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { normalizeInteger } from './binary.js';
import { noNamedParameters } from './command-codec.js';
import { StateMachineError } from './errors.js';
import { assert } from '../common/assert.js';
import { resultTypes } from './result-types.js';
import { checkSql } from './sql-policy.js';
import type { SqlPurpose } from './sql-policy.js';
import type { SqlStatementText } from '../common/sql-statements.js';
import type { SqlResultValue, SqlValue, Statement, StatementResult } from './types.js';

type BindValue = null | number | bigint | string | Buffer;

/** SQLite result codes that mean the environment failed, not the statement. */
const environmentalCodePrefixes = [
  'SQLITE_FULL',
  'SQLITE_IOERR',
  'SQLITE_CORRUPT',
  'SQLITE_NOMEM',
  'SQLITE_READONLY',
  'SQLITE_CANTOPEN',
  'SQLITE_NOTADB',
  'SQLITE_BUSY',
  'SQLITE_LOCKED',
  'SQLITE_PROTOCOL',
  'SQLITE_PERM',
  'SQLITE_NOLFS',
  'SQLITE_INTERRUPT',
];

export function isEnvironmentalError(error: unknown): error is Error & { code: string } {
  if (!(error instanceof Error) || error.name !== 'SqliteError') return false;
  const code = (error as Error & { code?: unknown }).code;
  return typeof code === 'string' && environmentalCodePrefixes.some((prefix) => code.startsWith(prefix));
}

/** SQL errors (and better-sqlite3's binding errors) are results; anything else propagates. */
function isStatementError(error: unknown): error is Error {
  if (isEnvironmentalError(error)) return false;
  if (error instanceof StateMachineError) return error.code === 'REFUSED_SQL';
  return error instanceof Error && (error.name === 'SqliteError' || error instanceof RangeError || error instanceof TypeError);
}

function toBindValue(value: SqlValue): BindValue {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (value === true) return 1n;
  if (value === false) return 0n;
  if (value instanceof Uint8Array && !Buffer.isBuffer(value)) return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  return value as BindValue;
}

type BoundArguments = BindValue[] | [...BindValue[], Record<string, BindValue>];

function hasNamedParameters(statement: Statement): boolean {
  return statement.named !== noNamedParameters && Object.keys(statement.named).length > 0;
}

/** The arguments of `statement` as better-sqlite3 binds them; none when `statement` is undefined. */
function bindArguments(statement: Statement | undefined): BoundArguments {
  if (statement === undefined) return [];
  const positional = statement.positional;
  const bound: (BindValue | Record<string, BindValue>)[] = [];
  for (const value of positional) bound.push(toBindValue(value));
  if (hasNamedParameters(statement)) {
    const named: Record<string, BindValue> = {};
    for (const name of Object.keys(statement.named)) named[name] = toBindValue(statement.named[name] as SqlValue);
    bound.push(named);
  }
  return bound as BindValue[];
}

/**
 * Runs a write. Up to three positional arguments are passed directly, with no array and
 * no spread call (the common INSERT's cost); anything else goes through bindArguments.
 */
function runWrite(prepared: Database.Statement, statement: Statement | undefined): Database.RunResult {
  if (statement === undefined) return prepared.run();
  const positional = statement.positional;
  if (!hasNamedParameters(statement)) {
    switch (positional.length) {
      case 0:
        return prepared.run();
      case 1:
        return prepared.run(toBindValue(positional[0] as SqlValue));
      case 2:
        return prepared.run(toBindValue(positional[0] as SqlValue), toBindValue(positional[1] as SqlValue));
      case 3:
        return prepared.run(toBindValue(positional[0] as SqlValue), toBindValue(positional[1] as SqlValue), toBindValue(positional[2] as SqlValue));
      default:
        break;
    }
  }
  return prepared.run(...bindArguments(statement));
}

function toResultValue(value: unknown): SqlResultValue {
  if (typeof value === 'bigint') return normalizeInteger(value);
  if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return value as SqlResultValue;
}

/**
 * rqlite's `qualify`: a column read straight from a table is named `table.column`, the table
 * being its origin (SQLite's column metadata, so an alias in FROM does not show); an
 * expression keeps its name.
 */
function columnName(column: Database.ColumnDefinition, qualify: boolean): string {
  return qualify && column.table !== null ? `${column.table}.${column.name}` : column.name;
}

/** Keywords after which a non-returning statement changed rows (the rest report nothing). */
const rowChangingKeywords = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'WITH', 'VALUES', 'SELECT']);

interface StatementRunnerOptions {
  readonly purpose: SqlPurpose;
  /** Prepared statements kept; the oldest is dropped beyond this. */
  readonly statementCacheCountMax: number;
  /** Rows one statement may return; more is an error result (deterministic: same data, same answer). */
  readonly resultRowCountMax: number;
}

interface PreparedPart {
  readonly statement: Database.Statement;
  readonly reader: boolean;
  readonly readonly: boolean;
  /** A non-returning INSERT/UPDATE/DELETE: reports lastInsertId and rowsAffected. */
  readonly reportsWrite: boolean;
}

export class StatementRunner {
  readonly #cache = new Map<string, PreparedPart>();
  /** Policy verdicts by SQL text (a pure function of the text), bounded like the statement cache. */
  readonly #checkedSql = new Map<string, readonly SqlStatementText[]>();
  #lastInsertRowid: Database.Statement | undefined;
  /**
   * The last request statement that was one SQLite statement, and its prepared statement:
   * a request repeating one statement (a batch of INSERTs) skips both cache lookups. Both
   * are pure functions of the text on this connection, so the memo never goes stale.
   */
  #lastSingleSql: string | undefined;
  #lastSinglePrepared: PreparedPart | undefined;
  readonly #database: Database.Database;
  readonly #options: StatementRunnerOptions;

  constructor(database: Database.Database, options: StatementRunnerOptions) {
    this.#database = database;
    this.#options = options;
    assert(options.statementCacheCountMax >= 1, 'statement cache holds at least one statement');
    assert(options.resultRowCountMax >= 1, 'a result holds at least one row');
  }

  get cachedStatementCount(): number {
    return this.#cache.size;
  }

  #prepare(part: SqlStatementText): PreparedPart {
    const cached = this.#cache.get(part.sql);
    if (cached !== undefined) return cached;
    const statement = this.#database.prepare(part.sql);
    // Rows keep 64-bit precision; a write's lastInsertRowid is read as a number and
    // re-read exactly in the rare case it is beyond 2^53 (cheaper than a bigint per write).
    statement.safeIntegers(statement.reader);
    if (statement.reader) statement.raw(true);
    const keyword = part.tokens[0]?.text ?? '';
    const prepared = { statement, reader: statement.reader, readonly: statement.readonly, reportsWrite: rowChangingKeywords.has(keyword) };
    this.#cache.set(part.sql, prepared);
    if (this.#cache.size > this.#options.statementCacheCountMax) {
      this.#cache.delete(this.#cache.keys().next().value as string);
    }
    return prepared;
  }

  #check(sql: string): readonly SqlStatementText[] {
    const cached = this.#checkedSql.get(sql);
    if (cached !== undefined) return cached;
    const parts = checkSql(sql, this.#options.purpose);
    this.#checkedSql.set(sql, parts);
    if (this.#checkedSql.size > this.#options.statementCacheCountMax) {
      this.#checkedSql.delete(this.#checkedSql.keys().next().value as string);
    }
    return parts;
  }

  /**
   * True when every SQLite statement in `sql` passes this runner's policy and SQLite itself
   * judges it read-only; false for anything else, including SQL that does not compile.
   */
  isReadOnly(sql: string): boolean {
    try {
      return this.#check(sql).every((part) => this.#prepare(part).readonly);
    } catch (error) {
      if (isStatementError(error)) return false;
      throw error;
    }
  }

  /**
   * Runs one request statement (which may hold several SQLite statements, without
   * parameters). With `timings`, the result carries its wall-clock `timeSeconds` (for the
   * answer to the client only: never stored, never compared across nodes); with
   * `qualifyColumns`, rows name their columns `table.column` (columnName()).
   */
  run(statement: Statement, timings = false, qualifyColumns = false): StatementResult {
    if (!timings) return this.#runUntimed(statement, qualifyColumns);
    const startMs = performance.now();
    const result = this.#runUntimed(statement, qualifyColumns);
    return { ...result, timeSeconds: (performance.now() - startMs) / 1000 };
  }

  #runUntimed(statement: Statement, qualifyColumns: boolean): StatementResult {
    try {
      if (statement.sql === this.#lastSingleSql && this.#lastSinglePrepared !== undefined) {
        return this.#runPrepared(this.#lastSinglePrepared, statement, qualifyColumns);
      }
      const parts = this.#check(statement.sql);
      if (parts.length === 1) {
        const prepared = this.#prepare(parts[0] as SqlStatementText);
        this.#lastSingleSql = statement.sql;
        this.#lastSinglePrepared = prepared;
        return this.#runPrepared(prepared, statement, qualifyColumns);
      }
      if (statement.positional.length > 0 || hasNamedParameters(statement))
        return { kind: 'error', error: 'parameters need exactly one SQL statement per request statement' };
      let result: StatementResult = { kind: 'empty' };
      for (const part of parts) result = this.#runPrepared(this.#prepare(part), undefined, qualifyColumns);
      return result;
    } catch (error) {
      if (isStatementError(error)) return { kind: 'error', error: error.message };
      throw error;
    }
  }

  /** Runs one prepared SQLite statement with `statement`'s arguments (none when undefined). */
  #runPrepared(prepared: PreparedPart, statement: Statement | undefined, qualifyColumns: boolean): StatementResult {
    if (this.#options.purpose === 'read' && !prepared.readonly) {
      return { kind: 'error', error: 'attempt to change the database in a query: send writes to /db/execute' };
    }
    if (prepared.reader) {
      const rows: SqlResultValue[][] = [];
      // The first row as SQLite gave it (integers still bigints): it names the types of expression columns.
      let firstRow: unknown[] | undefined;
      for (const row of prepared.statement.iterate(...bindArguments(statement)) as IterableIterator<unknown[]>) {
        if (rows.length === this.#options.resultRowCountMax) {
          return { kind: 'error', error: `result has more than ${this.#options.resultRowCountMax} rows (resultRowCountMax)` };
        }
        firstRow ??= row;
        rows.push(row.map(toResultValue));
      }
      const columnsInfo = prepared.statement.columns();
      return {
        kind: 'rows',
        columns: columnsInfo.map((column) => columnName(column, qualifyColumns)),
        types: resultTypes(
          columnsInfo.map((column) => column.type),
          firstRow,
        ),
        rows,
      };
    }
    const info = runWrite(prepared.statement, statement);
    if (!prepared.reportsWrite) return { kind: 'empty' };
    return { kind: 'write', lastInsertId: this.#exactLastInsertId(info.lastInsertRowid), rowsAffected: info.changes };
  }

  #exactLastInsertId(reported: number | bigint): number | bigint {
    if (typeof reported === 'number' && Number.isSafeInteger(reported)) return reported;
    this.#lastInsertRowid ??= this.#database.prepare('SELECT last_insert_rowid()').pluck().safeIntegers(true);
    return normalizeInteger(this.#lastInsertRowid.get() as bigint);
  }
}
