/**
 * Runs request statements on one connection and shapes their results for rqlite: a
 * bounded cache of prepared statements, parameter binding (integers as 64-bit integers,
 * booleans as 1/0, `{ real }` as a REAL), and rows with numbers when safe and bigints beyond 2^53.
 * SQL errors become per-statement `error` results, naming SQLite's result code when
 * SQLite reported them; environmental failures are thrown.
 *
 * A statement that changes no rows (DDL, a PRAGMA that sets) answers what rqlite
 * answers: its connection's changes() and last_insert_rowid(), carried over from the
 * last INSERT, UPDATE or DELETE. Here the connection is the entry's: each entry starts
 * as a fresh connection (0 and 0), so the answer is the same on every node whatever
 * ran before or whether it restarted (rqlite's connection also carries values across
 * requests, which would make a restarted node answer differently). The apply connection
 * also runs quorumlite's internal writes, so before an entry's first statement that may
 * write, an internal insert of rowid 0 into a temp table sets last_insert_rowid() to a
 * fresh connection's 0; changes() before the entry's first row change reads as 0.
 */
import type Database from 'better-sqlite3';
import { performance } from 'node:perf_hooks';
import { normalizeInteger } from './binary.js';
import { noNamedParameters } from './command-codec.js';
import { StateMachineError } from './errors.js';
import { assert } from '../common/assert.js';
import { prepareStatement } from './prepare-statement.js';
import { isSqlReal } from '../common/real-values.js';
import { resultTypes } from './result-types.js';
import { checkSql, internalNamePrefix } from './sql-policy.js';
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

/** Where last_insert_rowid() is reset to 0 (TEMP: this connection's only; users' writes may not name the temp schema). */
const connectionResetTable = `${internalNamePrefix}connection`;

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

/** SQLite's result code name for an error SQLite reported (`SQLITE_CONSTRAINT_UNIQUE`). */
function sqliteCodeOf(error: Error): { sqliteCode: string } | undefined {
  const code = (error as Error & { code?: unknown }).code;
  return error.name === 'SqliteError' && typeof code === 'string' ? { sqliteCode: code } : undefined;
}

function toBindValue(value: SqlValue): BindValue {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (value === true) return 1n;
  if (value === false) return 0n;
  if (value instanceof Uint8Array) return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  // better-sqlite3 binds every JavaScript number as a double: REAL, whatever its value.
  if (isSqlReal(value)) return value.real;
  return value;
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
 * expression keeps its name, as the client wrote it (`asWritten`, when a double-quoted
 * literal in it was turned into a string: double-quoted-strings.ts).
 */
function columnName(column: Database.ColumnDefinition, asWritten: string | undefined, qualify: boolean): string {
  return qualify && column.table !== null ? `${column.table}.${column.name}` : (asWritten ?? column.name);
}

/** First keywords of statements that may change rows: with SQLite judging one not readonly, it is an INSERT, UPDATE or DELETE. */
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
  /** Starts with one of rowChangingKeywords (setsChanges: an INSERT, UPDATE or DELETE, RETURNING or not). */
  readonly reportsWrite: boolean;
  /**
   * With a double-quoted token, whether it is a string depends on the schema
   * (double-quoted-strings.ts): the schema version it was prepared under. Otherwise undefined.
   */
  readonly schemaVersion: bigint | undefined;
  /** When double-quoted tokens were rewritten: the result's column names as the client wrote them. */
  readonly columnNames: readonly string[] | undefined;
  /** The statement's first keyword (CREATE, ALTER, DROP, …). */
  readonly keyword: string;
}

/** Told around every statement that may change the schema (change-capture.ts keeps its triggers in step). */
interface SchemaChangeListener {
  beforeSchemaChange(keyword: string): void;
  afterSchemaChange(): void;
}

/** An INSERT, UPDATE or DELETE: running it sets changes() (last_insert_rowid() only when it inserts). */
function setsChanges(prepared: PreparedPart): boolean {
  return prepared.reportsWrite && !prepared.readonly;
}

export class StatementRunner {
  readonly #cache = new Map<string, PreparedPart>();
  /** Policy verdicts by SQL text (a pure function of the text), bounded like the statement cache. */
  readonly #checkedSql = new Map<string, readonly SqlStatementText[]>();
  #lastInsertRowid: Database.Statement | undefined;
  #schemaVersion: Database.Statement | undefined;
  #changes: Database.Statement | undefined;
  #resetLastInsertRowid: Database.Statement | undefined;
  /** The connection still shows what quorumlite's internal writes left: the entry's answers are a fresh connection's. */
  #entryFresh = true;
  /** An INSERT, UPDATE or DELETE of the entry ran, so changes() is the entry's own. */
  #rowsChangedInEntry = false;
  /**
   * The last request statement that was one SQLite statement, and its prepared statement:
   * a request repeating one statement (a batch of INSERTs) skips both cache lookups. Both
   * are pure functions of the text on this connection, so the memo never goes stale.
   */
  #lastSingleSql: string | undefined;
  #lastSinglePrepared: PreparedPart | undefined;
  readonly #database: Database.Database;
  readonly #options: StatementRunnerOptions;
  /** Set on the apply connection's runner while change data capture is on. */
  schemaChangeListener: SchemaChangeListener | undefined;

  constructor(database: Database.Database, options: StatementRunnerOptions) {
    this.#database = database;
    this.#options = options;
    assert(options.statementCacheCountMax >= 1, 'statement cache holds at least one statement');
    assert(options.resultRowCountMax >= 1, 'a result holds at least one row');
    // Created outside any transaction, so no rollback can take it away.
    if (options.purpose === 'write') database.exec(`CREATE TEMP TABLE IF NOT EXISTS ${connectionResetTable} (id INTEGER PRIMARY KEY)`);
  }

  /** A new entry begins: its statements answer as on a fresh connection (see the file comment). */
  beginEntry(): void {
    this.#entryFresh = true;
    this.#rowsChangedInEntry = false;
  }

  /** Before a statement that may write: last_insert_rowid() becomes the entry's own (0 until an insert). */
  #forgetInternalWrites(): void {
    if (!this.#entryFresh) return;
    this.#resetLastInsertRowid ??= this.#database.prepare(`INSERT OR REPLACE INTO temp.${connectionResetTable} (id) VALUES (0)`);
    this.#resetLastInsertRowid.run();
    this.#entryFresh = false;
    this.#rowsChangedInEntry = false;
  }

  /** rqlite's answer for a statement that changes no rows: the connection's last changes() and last_insert_rowid(). */
  #connectionValues(lastInsertRowid: number | bigint): StatementResult {
    if (this.#entryFresh) return { kind: 'empty' };
    this.#changes ??= this.#database.prepare('SELECT changes()').pluck().safeIntegers(true);
    const rowsAffected = this.#rowsChangedInEntry ? Number(this.#changes.get() as bigint) : 0;
    const lastInsertId = this.#exactLastInsertId(lastInsertRowid);
    if (rowsAffected === 0 && lastInsertId === 0) return { kind: 'empty' };
    return { kind: 'write', lastInsertId, rowsAffected };
  }

  get cachedStatementCount(): number {
    return this.#cache.size;
  }

  #readSchemaVersion(): bigint {
    this.#schemaVersion ??= this.#database.prepare('PRAGMA schema_version').pluck().safeIntegers(true);
    return this.#schemaVersion.get() as bigint;
  }

  /** Whether `prepared` still means what a fresh prepare would (only a double-quoted token can change meaning). */
  #isCurrent(prepared: PreparedPart): boolean {
    return prepared.schemaVersion === undefined || this.#readSchemaVersion() === prepared.schemaVersion;
  }

  #prepare(part: SqlStatementText): PreparedPart {
    const cached = this.#cache.get(part.sql);
    if (cached !== undefined && this.#isCurrent(cached)) return cached;
    const { statement, schemaVersion, columnNames } = prepareStatement(this.#database, part, {
      probeTriggers: this.#options.purpose === 'write',
      schemaVersion: () => this.#readSchemaVersion(),
    });
    // Rows keep 64-bit precision; a write's lastInsertRowid is read as a number and
    // re-read exactly in the rare case it is beyond 2^53 (cheaper than a bigint per write).
    statement.safeIntegers(statement.reader);
    if (statement.reader) statement.raw(true);
    const keyword = part.tokens[0]?.text ?? '';
    const prepared = {
      statement,
      reader: statement.reader,
      readonly: statement.readonly,
      reportsWrite: rowChangingKeywords.has(keyword),
      schemaVersion,
      columnNames,
      keyword,
    };
    this.#cache.delete(part.sql);
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
    // Not `{ ...result, timeSeconds }`: V8 11.3 (Node 20) keeps such literals alive past young collections.
    return Object.assign({}, result, { timeSeconds: (performance.now() - startMs) / 1000 });
  }

  #runUntimed(statement: Statement, qualifyColumns: boolean): StatementResult {
    try {
      const last = this.#lastSinglePrepared;
      if (statement.sql === this.#lastSingleSql && last !== undefined && this.#isCurrent(last)) return this.#runPrepared(last, statement, qualifyColumns);
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
      if (!isStatementError(error)) throw error;
      // A failing statement can end the transaction (ROLLBACK conflict resolution); the
      // next one begins with quorumlite's internal writes again.
      if (this.#options.purpose === 'write' && !this.#database.inTransaction) this.#entryFresh = true;
      return { kind: 'error', error: error.message, ...sqliteCodeOf(error) };
    }
  }

  /** Runs one prepared SQLite statement with `statement`'s arguments (none when undefined). */
  #runPrepared(prepared: PreparedPart, statement: Statement | undefined, qualifyColumns: boolean): StatementResult {
    if (this.#options.purpose === 'read' && !prepared.readonly) {
      return { kind: 'error', error: 'attempt to change the database in a query: send writes to /db/execute' };
    }
    if (!prepared.readonly) this.#forgetInternalWrites();
    if (!setsChanges(prepared)) {
      if (prepared.reader) return this.#readRows(prepared, statement, qualifyColumns);
      return this.#runOtherWrite(prepared, statement);
    }
    // Once it ran (even failing: SQLite then sets changes() to 0, or to what FAIL kept), changes() is the entry's.
    let ran = true;
    try {
      if (prepared.reader) return this.#readRows(prepared, statement, qualifyColumns);
      const info = runWrite(prepared.statement, statement);
      return { kind: 'write', lastInsertId: this.#exactLastInsertId(info.lastInsertRowid), rowsAffected: info.changes };
    } catch (error) {
      ran = error instanceof Error && error.name === 'SqliteError';
      throw error;
    } finally {
      if (ran) this.#rowsChangedInEntry = true;
    }
  }

  /** A write that changes no rows (DDL, a pragma): it reports the connection's values; a schema change is told around it. */
  #runOtherWrite(prepared: PreparedPart, statement: Statement | undefined): StatementResult {
    const listener = prepared.readonly ? undefined : this.schemaChangeListener;
    if (listener === undefined) return this.#connectionValues(runWrite(prepared.statement, statement).lastInsertRowid);
    listener.beforeSchemaChange(prepared.keyword);
    try {
      return this.#connectionValues(runWrite(prepared.statement, statement).lastInsertRowid);
    } finally {
      listener.afterSchemaChange();
    }
  }

  #readRows(prepared: PreparedPart, statement: Statement | undefined, qualifyColumns: boolean): StatementResult {
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
      columns: columnsInfo.map((column, position) => columnName(column, prepared.columnNames?.[position], qualifyColumns)),
      types: resultTypes(
        columnsInfo.map((column) => column.type),
        firstRow,
      ),
      rows,
    };
  }

  #exactLastInsertId(reported: number | bigint): number | bigint {
    if (typeof reported === 'number' && Number.isSafeInteger(reported)) return reported;
    this.#lastInsertRowid ??= this.#database.prepare('SELECT last_insert_rowid()').pluck().safeIntegers(true);
    return normalizeInteger(this.#lastInsertRowid.get() as bigint);
  }
}
