/**
 * Runs request statements on one connection and shapes their results for rqlite: a
 * bounded cache of prepared statements, parameter binding (integers as 64-bit integers,
 * booleans as 1/0), and rows with numbers when safe and bigints beyond 2^53.
 * SQL errors become per-statement `error` results; environmental failures are thrown.
 */
import type Database from 'better-sqlite3';
import { normalizeInteger } from './binary.js';
import { StateMachineError, assert } from './errors.js';
import { checkSql } from './sql-policy.js';
import type { SqlPurpose } from './sql-policy.js';
import type { SqlStatementText } from './sql-tokenizer.js';
import type { SqlResultValue, SqlValue, Statement, StatementResult } from './types.js';

type BindValue = null | number | bigint | string | Buffer;

/** SQLite result codes that mean the environment failed, not the statement. */
const environmentalCodePrefixes = [
  'SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_CORRUPT', 'SQLITE_NOMEM', 'SQLITE_READONLY', 'SQLITE_CANTOPEN',
  'SQLITE_NOTADB', 'SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_PROTOCOL', 'SQLITE_PERM', 'SQLITE_NOLFS', 'SQLITE_INTERRUPT',
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

function bindArguments(statement: Statement): BindValue[] | [...BindValue[], Record<string, BindValue>] {
  const positional = statement.positional.map(toBindValue);
  const names = Object.keys(statement.named);
  if (names.length === 0) return positional;
  const named: Record<string, BindValue> = {};
  for (const name of names) named[name] = toBindValue(statement.named[name] as SqlValue);
  return [...positional, named];
}

function toResultValue(value: unknown): SqlResultValue {
  if (typeof value === 'bigint') return normalizeInteger(value);
  if (Buffer.isBuffer(value)) return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
  return value as SqlResultValue;
}

/** Keywords after which a non-returning statement changed rows (the rest report nothing). */
const rowChangingKeywords = new Set(['INSERT', 'UPDATE', 'DELETE', 'REPLACE', 'WITH', 'VALUES', 'SELECT']);

export interface StatementRunnerOptions {
  readonly purpose: SqlPurpose;
  /** Prepared statements kept; the least recently used is dropped beyond this. */
  readonly statementCacheCountMax: number;
}

export class StatementRunner {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(
    private readonly database: Database.Database,
    private readonly options: StatementRunnerOptions,
  ) {
    assert(options.statementCacheCountMax >= 1, 'statement cache holds at least one statement');
  }

  get cachedStatementCount(): number {
    return this.cache.size;
  }

  prepare(sql: string): Database.Statement {
    const cached = this.cache.get(sql);
    if (cached !== undefined) {
      this.cache.delete(sql);
      this.cache.set(sql, cached);
      return cached;
    }
    const prepared = this.database.prepare(sql);
    prepared.safeIntegers(true);
    if (prepared.reader) prepared.raw(true);
    this.cache.set(sql, prepared);
    if (this.cache.size > this.options.statementCacheCountMax) {
      const oldest = this.cache.keys().next().value as string;
      this.cache.delete(oldest);
    }
    return prepared;
  }

  /** Runs one request statement (which may hold several SQLite statements, without parameters). */
  run(statement: Statement): StatementResult {
    try {
      const parts = checkSql(statement.sql, this.options.purpose);
      const hasParameters = statement.positional.length > 0 || Object.keys(statement.named).length > 0;
      if (parts.length > 1 && hasParameters) {
        return { kind: 'error', error: 'parameters need exactly one SQL statement per request statement' };
      }
      let result: StatementResult = { kind: 'empty' };
      for (const part of parts) result = this.runPart(part, bindArguments(statement));
      return result;
    } catch (error) {
      if (isStatementError(error)) return { kind: 'error', error: error.message };
      throw error;
    }
  }

  private runPart(part: SqlStatementText, bound: ReturnType<typeof bindArguments>): StatementResult {
    const prepared = this.prepare(part.sql);
    if (this.options.purpose === 'read' && !prepared.readonly) {
      return { kind: 'error', error: 'attempt to change the database in a query: send writes to /db/execute' };
    }
    if (prepared.reader) {
      const rows = (prepared.all(...bound) as unknown[][]).map((row) => row.map(toResultValue));
      const columnsInfo = prepared.columns();
      return {
        kind: 'rows',
        columns: columnsInfo.map((column) => column.name),
        types: columnsInfo.map((column) => (column.type ?? '').toLowerCase()),
        rows,
      };
    }
    const info = prepared.run(...bound);
    const keyword = part.tokens[0]?.text === 'EXPLAIN' ? 'EXPLAIN' : part.tokens[0]?.text ?? '';
    if (!rowChangingKeywords.has(keyword)) return { kind: 'empty' };
    return { kind: 'write', lastInsertId: normalizeInteger(BigInt(info.lastInsertRowid)), rowsAffected: info.changes };
  }
}
