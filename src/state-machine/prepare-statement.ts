/**
 * SQLite's prepare, with double-quoted string literals accepted (double-quoted-strings.ts)
 * wherever SQLite with DQS on accepts them: in the statement itself, in a view's body
 * (resolved only when the view is used, so prepared on its own here) and in a trigger's
 * WHEN clause and body (resolved only when the trigger fires, so probed in a savepoint
 * by the write runner: trigger-probe.ts). What decides is SQLite's own verdict against
 * this connection's schema, so every node decides the same.
 */
import type Database from 'better-sqlite3';
import type { SqlStatementText } from '../common/sql-statements.js';
import { columnNamesAsWritten, doubleQuotedCandidates, prepareAcceptingDoubleQuotedStrings, viewBodyTokenIndex } from './double-quoted-strings.js';
import { triggerProbeFor } from './trigger-probe.js';

interface PreparedStatement {
  readonly statement: Database.Statement;
  /** Set when the statement holds a double-quoted token: it must be prepared again once the schema version differs. */
  readonly schemaVersion: bigint | undefined;
  /** When double-quoted tokens were rewritten: the result's column names as the client wrote them. */
  readonly columnNames: readonly string[] | undefined;
}

/**
 * An error a probe may swallow: SQLite's plain SQLITE_ERROR (no such table, syntax). Any
 * other (disk full, I/O, a bug) must surface, or nodes could decide differently.
 */
function isPlainSqlError(error: unknown): boolean {
  return error instanceof Error && error.name === 'SqliteError' && (error as { code?: unknown }).code === 'SQLITE_ERROR';
}

/** `part` with the double-quoted tokens of its view body that SQLite cannot resolve written as strings. */
function acceptInViewBody(database: Database.Database, part: SqlStatementText, bodyIndex: number): string {
  const bodyOffset = (part.tokens[bodyIndex]?.start ?? 0) - (part.tokens[0]?.start ?? 0);
  try {
    return prepareAcceptingDoubleQuotedStrings((sql) => database.prepare(sql.slice(bodyOffset)), part.sql, part.tokens, bodyIndex).sql;
  } catch (error) {
    // Another error in the body (a table created later, say) is SQLite's to report when the view is used.
    if (!isPlainSqlError(error)) throw error;
    return part.sql;
  }
}

const probeSavepoint = 'quorumlite_trigger_probe';

/** `part` (a CREATE TRIGGER) with the double-quoted tokens of its WHEN clause and body that fail when it fires written as strings. */
function acceptInTriggerBody(database: Database.Database, part: SqlStatementText): string {
  const probe = triggerProbeFor(part.sql, part.tokens);
  if (probe === undefined || doubleQuotedCandidates(part.sql, part.tokens, probe.bodyTokenIndex).length === 0) return part.sql;
  const createAndFire = (sql: string): true => {
    database.exec(`SAVEPOINT ${probeSavepoint}`);
    try {
      database.exec(sql);
      const column = probe.needsColumn
        ? (database
            .prepare('SELECT name FROM pragma_table_info(?, ?) ORDER BY cid LIMIT 1')
            .pluck()
            .get(probe.tableName, probe.schemaName ?? 'main') as string | undefined)
        : undefined;
      database.prepare(probe.firingSql(column === undefined ? undefined : `"${column.replaceAll('"', '""')}"`));
      return true;
    } finally {
      database.exec(`ROLLBACK TO ${probeSavepoint}`);
      database.exec(`RELEASE ${probeSavepoint}`);
    }
  };
  try {
    return prepareAcceptingDoubleQuotedStrings(createAndFire, part.sql, part.tokens, probe.bodyTokenIndex).sql;
  } catch (error) {
    if (!isPlainSqlError(error)) throw error;
    return part.sql;
  }
}

/**
 * Prepares one SQLite statement. `probeTriggers`: only where the connection may write (the
 * apply connection, inside the entry's transaction); a read connection prepares triggers
 * as they are (a CREATE TRIGGER is never a read).
 */
export function prepareStatement(
  database: Database.Database,
  part: SqlStatementText,
  options: { readonly probeTriggers: boolean; readonly schemaVersion: () => bigint },
): PreparedStatement {
  if (doubleQuotedCandidates(part.sql, part.tokens).length === 0)
    return { statement: database.prepare(part.sql), schemaVersion: undefined, columnNames: undefined };
  const schemaVersion = options.schemaVersion();
  const accepted = prepareAcceptingDoubleQuotedStrings((sql) => database.prepare(sql), part.sql, part.tokens);
  const bodyIndex = viewBodyTokenIndex(part.tokens);
  const whole = bodyIndex !== undefined ? acceptInViewBody(database, part, bodyIndex) : options.probeTriggers ? acceptInTriggerBody(database, part) : part.sql;
  if (whole !== part.sql) return { statement: database.prepare(whole), schemaVersion, columnNames: undefined };
  const statement = accepted.prepared;
  const names = statement.reader && accepted.rewritten.length > 0 ? statement.columns().map((column) => column.name) : undefined;
  return { statement, schemaVersion, columnNames: names === undefined ? undefined : columnNamesAsWritten(names, part.sql, part.tokens, accepted) };
}
