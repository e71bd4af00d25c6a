/**
 * Opening the three SQLite connections the state machine uses, with the settings the
 * design fixes: the apply connection (WAL, synchronous=NORMAL because the Raft log is the
 * durable record, foreign keys on, overrides registered), the read-only query connection
 * (the real clock, a busy timeout), and the pristine in-memory helper; and the
 * statements prepared on the apply connection for the internal tables.
 */
import Database from 'better-sqlite3';
import { StateMachineError } from './errors.js';
import { internalNamePrefix } from './sql-policy.js';
import type { StatementRunner } from './statement-runner.js';

export const stateTable = `${internalNamePrefix}state`;
const requestsTable = `${internalNamePrefix}requests`;

const internalSchema = [
  `CREATE TABLE IF NOT EXISTS ${stateTable} (id INTEGER PRIMARY KEY, applied_index INTEGER NOT NULL)`,
  `CREATE TABLE IF NOT EXISTS ${requestsTable} (request_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL,
     timestamp_ms INTEGER NOT NULL, result BLOB NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS ${requestsTable}_by_sequence ON ${requestsTable}(sequence)`,
  `CREATE INDEX IF NOT EXISTS ${requestsTable}_by_time ON ${requestsTable}(timestamp_ms)`,
];

/** Time zones change 'localtime'; every node must run with TZ=UTC, set before SQLite loads. */
export function assertUtcTimeZone(pristine: Database.Database): void {
  const probes = ['2021-01-15 12:00:00', '2021-07-15 12:00:00'];
  for (const probe of probes) {
    const local = pristine.prepare(`SELECT datetime(?, 'localtime')`).pluck().get(probe);
    if (local !== probe || new Date(`${probe.replace(' ', 'T')}Z`).getTimezoneOffset() !== 0) {
      throw new StateMachineError('BAD_ENVIRONMENT', `the process must run with TZ=UTC (TZ=${process.env['TZ'] ?? 'unset'})`);
    }
  }
}

/** What every connection to the database gets at open. */
interface ConnectionSetup {
  /** SQLite extensions, loaded before anything else runs. */
  readonly extensionPaths: readonly string[];
  /** The apply connection checkpoints the WAL past about this many bytes; undefined: SQLite's default. */
  readonly walCheckpointBytes: number | undefined;
}

const plainSetup: ConnectionSetup = { extensionPaths: [], walCheckpointBytes: undefined };

/** Loads each extension; one that fails stops the open, naming the file (rqlited exits then too). */
export function loadExtensions(database: Database.Database, extensionPaths: readonly string[]): void {
  for (const extensionPath of extensionPaths) {
    try {
      database.loadExtension(extensionPath);
    } catch (error) {
      throw new StateMachineError(
        'BAD_ENVIRONMENT',
        `could not load SQLite extension ${extensionPath}: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
  }
}

export function openApplyConnection(path: string, setup: ConnectionSetup = plainSetup): Database.Database {
  const database = new Database(path);
  try {
    loadExtensions(database, setup.extensionPaths);
    database.pragma('journal_mode = WAL');
    if (setup.walCheckpointBytes !== undefined) {
      const pageBytes = Number(database.pragma('page_size', { simple: true }));
      database.pragma(`wal_autocheckpoint = ${Math.max(1, Math.ceil(setup.walCheckpointBytes / pageBytes))}`);
    }
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    database.defaultSafeIntegers(true);
    const createInternal = database.transaction(() => {
      for (const sql of internalSchema) database.exec(sql);
      database.prepare(`INSERT OR IGNORE INTO ${stateTable}(id, applied_index) VALUES (1, 0)`).run();
    });
    createInternal.immediate();
    return database;
  } catch (error) {
    database.close();
    throw error;
  }
}

export function openReadConnection(path: string, busyTimeoutMs: number, extensionPaths: readonly string[] = []): Database.Database {
  const database = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    loadExtensions(database, extensionPaths);
  } catch (error) {
    database.close();
    throw error;
  }
  database.defaultSafeIntegers(true);
  return database;
}

export function openPristineConnection(): Database.Database {
  return new Database(':memory:');
}

export function readAppliedIndex(database: Database.Database): number {
  const value = database.prepare(`SELECT applied_index FROM ${stateTable} WHERE id = 1`).pluck().safeIntegers(true).get();
  if (typeof value !== 'bigint') throw new StateMachineError('BAD_SNAPSHOT', `database has no applied index in ${stateTable}`);
  return Number(value);
}

interface InternalStatements {
  readonly begin: Database.Statement;
  readonly commit: Database.Statement;
  readonly rollback: Database.Statement;
  readonly savepoint: Database.Statement;
  readonly rollbackToSavepoint: Database.Statement;
  readonly releaseSavepoint: Database.Statement;
  readonly writeApplied: Database.Statement;
  readonly lookupRequest: Database.Statement;
  readonly nextRequestSequence: Database.Statement;
  readonly recordRequest: Database.Statement;
  readonly expireRequestsBySequence: Database.Statement;
  readonly expireRequestsByTime: Database.Statement;
}

export function prepareInternal(database: Database.Database): InternalStatements {
  const prepare = (sql: string): Database.Statement => database.prepare(sql).safeIntegers(true);
  return {
    begin: prepare('BEGIN IMMEDIATE'),
    commit: prepare('COMMIT'),
    rollback: prepare('ROLLBACK'),
    savepoint: prepare('SAVEPOINT quorumlite_batch'),
    rollbackToSavepoint: prepare('ROLLBACK TO quorumlite_batch'),
    releaseSavepoint: prepare('RELEASE quorumlite_batch'),
    // INSERT OR REPLACE, first in every entry: also sets changes() = 1 and last_insert_rowid() = 1,
    // so what a statement sees of the connection never depends on the node's history.
    writeApplied: prepare(`INSERT OR REPLACE INTO ${stateTable}(id, applied_index) VALUES (1, ?)`),
    lookupRequest: prepare(`SELECT timestamp_ms, result FROM ${requestsTable} WHERE request_id = ?`).raw(true),
    nextRequestSequence: prepare(`SELECT coalesce(max(sequence), 0) + 1 FROM ${requestsTable}`).pluck(),
    recordRequest: prepare(`INSERT OR REPLACE INTO ${requestsTable}(request_id, sequence, timestamp_ms, result) VALUES (?, ?, ?, ?)`),
    expireRequestsBySequence: prepare(`DELETE FROM ${requestsTable} WHERE sequence <= ?`),
    expireRequestsByTime: prepare(`DELETE FROM ${requestsTable} WHERE timestamp_ms < ?`),
  };
}

/** The open connections of a state machine and what is prepared on them. */
export interface Connections {
  readonly apply: Database.Database;
  readonly read: Database.Database;
  readonly internal: InternalStatements;
  readonly applyRunner: StatementRunner;
  readonly readRunner: StatementRunner;
}

/** Every WAL frame into the main file, so the WAL can be removed without losing anything. */
export function checkpointFully(database: Database.Database): void {
  const [result] = database.pragma('wal_checkpoint(TRUNCATE)') as { busy: number | bigint }[];
  if (result === undefined || Number(result.busy) !== 0) {
    throw new StateMachineError('BAD_ENVIRONMENT', 'could not checkpoint the WAL before restore; the old database is untouched');
  }
}
