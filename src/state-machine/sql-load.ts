/**
 * A SQL dump loaded as sqlite3 would read it (`sqlite3 copy.db < dump.sql`): its
 * statements run in order, by SQLite itself, on a copy of the database made on the
 * leader, all in one transaction; the resulting file then goes through the log as a load
 * (docs/ARCHITECTURE.md, "Loads through the log"). So every statement a dump holds works
 * as in sqlite3, foreign keys off as its first line asks, and nothing non-deterministic
 * reaches the replicas: they receive the file's bytes, not the SQL.
 *
 * The text is read from its file in slices, split where sqlite3_complete() would end a
 * statement (src/common/sql-statements.ts), so memory stays bounded by the slice and the
 * event loop turns between slices. The dump's own framing, `BEGIN TRANSACTION;` and
 * `COMMIT;` (also `END`), is dropped: the load's transaction takes its place. A
 * `ROLLBACK;` (sqlite3 writes one after a dump of a damaged database) fails the load.
 * Text that is not UTF-8 is no SQL dump: NotSqlText.
 */
import Database from 'better-sqlite3';
import { createReadStream } from 'node:fs';
import { splitFinishedSqlStatements, splitSqlStatements, type SqlStatementText } from '../common/sql-statements.js';
import { SqlSyntaxError } from '../common/sql-tokens.js';
import { loadExtensions } from './connections.js';
import type { StatementResult } from './types.js';

/** Bytes of SQL text read (and executed) per slice. */
const sliceBytes = 256 * 1024;

class DumpRefused extends Error {}

/** The text is not UTF-8: no SQL dump at all (the caller refuses the request rather than report a statement error). */
export class NotSqlText extends Error {
  override readonly name = 'NotSqlText';
}

/** What the statement does to the load's own transaction: nothing, or it is framing to drop, or it ends the load. */
function framing(statement: SqlStatementText): 'keep' | 'drop' {
  const [first, second, third] = statement.tokens.map((token) => (token.kind === 'word' ? token.text : ''));
  if (first === 'BEGIN' || first === 'COMMIT' || first === 'END') return 'drop';
  const rollbackToSavepoint = second === 'TO' || (second === 'TRANSACTION' && third === 'TO');
  if (first === 'ROLLBACK' && !rollbackToSavepoint) throw new DumpRefused('the dump rolls back (sqlite3 writes ROLLBACK after dumping a damaged database)');
  return 'keep';
}

/** One exec for a slice's statements: SQLite parses them again, faster than a prepare each from here. */
function runStatements(database: Database.Database, statements: readonly SqlStatementText[]): void {
  const kept = statements.filter((statement) => framing(statement) === 'keep').map((statement) => statement.sql);
  if (kept.length > 0) database.exec(`${kept.join(';\n')};`);
}

function errorResult(error: unknown): StatementResult {
  const message = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: unknown }).code;
  return typeof code === 'string' && code.startsWith('SQLITE_') ? { kind: 'error', error: message, sqliteCode: code } : { kind: 'error', error: message };
}

/**
 * Runs the SQL text in `sqlPath` on the database file at `databasePath` (a copy the caller
 * owns), in one transaction. Resolves to rqlite's single result for a load of SQL text:
 * the connection's last insert id and change count once everything ran, or the error that
 * stopped it (the copy is then left half-written: the caller throws it away).
 */
export async function runSqlDump(databasePath: string, sqlPath: string, extensionPaths: readonly string[]): Promise<StatementResult> {
  const database = new Database(databasePath, { fileMustExist: true });
  try {
    loadExtensions(database, extensionPaths);
    // A scratch copy: no durability needed until the file is done (it is synced before it is loaded).
    database.pragma('journal_mode = DELETE');
    database.pragma('synchronous = OFF');
    // As the dump's first line asks (better-sqlite3 turns foreign keys on by default): a dump's rows come in any order.
    database.pragma('foreign_keys = OFF');
    database.exec('BEGIN');
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let pending = '';
    for await (const slice of createReadStream(sqlPath, { highWaterMark: sliceBytes })) {
      pending += decoder.decode(slice as Buffer, { stream: true });
      const split = splitFinishedSqlStatements(pending);
      runStatements(database, split.statements);
      pending = pending.slice(split.restStart);
    }
    pending += decoder.decode();
    runStatements(database, splitSqlStatements(pending));
    database.exec('COMMIT');
    database.pragma('synchronous = FULL');
    const [lastInsertId, rowsAffected] = database.prepare('SELECT last_insert_rowid(), changes()').raw(true).safeIntegers(true).get() as [bigint, bigint];
    return {
      kind: 'write',
      lastInsertId: Number.isSafeInteger(Number(lastInsertId)) ? Number(lastInsertId) : lastInsertId,
      rowsAffected: Number(rowsAffected),
    };
  } catch (error) {
    if (error instanceof TypeError && (error as { code?: string }).code === 'ERR_ENCODING_INVALID_ENCODED_DATA') {
      throw new NotSqlText('the body is neither a SQLite database file nor UTF-8 SQL text');
    }
    if (error instanceof DumpRefused || error instanceof SqlSyntaxError) return { kind: 'error', error: error.message };
    return errorResult(error);
  } finally {
    database.close();
  }
}
