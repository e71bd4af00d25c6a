/**
 * Opening the SQLite connections the state machine uses, with the settings the design
 * fixes: the apply connection (WAL, synchronous=NORMAL because the Raft log is the
 * durable record, foreign keys as the node is configured, overrides registered), the
 * read-only query connection (the real clock, a busy timeout), and the pristine
 * in-memory helper; and the statements that frame every entry on the apply connection.
 */
import Database from 'better-sqlite3';
import { markerFor } from './applied-marker.js';
import { StateMachineError } from './errors.js';
import type { InternalStore } from './internal-store.js';
import { internalNamePrefix } from './sql-policy.js';
import type { StatementRunner } from './statement-runner.js';
import type { TransactionPreviews } from './transaction-preview.js';

/**
 * The internal tables of the layout before the internal store existed. Snapshot files
 * still carry the applied index, the dedup table and the maintenance times this way (so
 * a snapshot is one self-contained file, readable by older nodes); opening such a file
 * migrates it.
 */
export const stateTable = `${internalNamePrefix}state`;
export const requestsTable = `${internalNamePrefix}requests`;
/** When each kind of maintenance (maintenance.ts) last ran: one row per kind. */
export const maintenanceTable = `${internalNamePrefix}maintenance`;

/** The old layout's tables, exactly as that layout created them. */
export const legacySchema: readonly string[] = [
  `CREATE TABLE ${stateTable} (id INTEGER PRIMARY KEY, applied_index INTEGER NOT NULL)`,
  `CREATE TABLE ${requestsTable} (request_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL,
     timestamp_ms INTEGER NOT NULL, result BLOB NOT NULL) WITHOUT ROWID`,
  `CREATE INDEX ${requestsTable}_by_sequence ON ${requestsTable}(sequence)`,
  `CREATE INDEX ${requestsTable}_by_time ON ${requestsTable}(timestamp_ms)`,
  `CREATE TABLE ${maintenanceTable} (kind TEXT PRIMARY KEY, timestamp_ms INTEGER NOT NULL) WITHOUT ROWID`,
];

/** A connection-private table: writing it gives every entry the same changes() and last_insert_rowid(). */
const connectionStateTable = `${internalNamePrefix}connection`;

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

/** What every connection to the database gets at open. Must be equal on every node. */
interface ConnectionSettings {
  /** Enforce foreign key constraints (rqlite's -fk). */
  readonly foreignKeys: boolean;
  /** SQLite extensions, loaded before anything else runs (rqlited's -extensions-path). */
  readonly extensionPaths: readonly string[];
}

/** The apply connection's settings: those of every connection, and the page size of a database it creates. */
export type ApplyConnectionSettings = ConnectionSettings & { readonly pageSize: number };

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

export function openApplyConnection(path: string, settings: ApplyConnectionSettings): Database.Database {
  const database = new Database(path);
  try {
    loadExtensions(database, settings.extensionPaths);
    // Takes effect only on a new, empty file; an existing database keeps its page size (WAL mode cannot change it).
    database.pragma(`page_size = ${settings.pageSize}`);
    database.pragma('journal_mode = WAL');
    // Only snapshot captures checkpoint: the WAL then holds every change since the last one (snapshot-capture.ts).
    database.pragma('wal_autocheckpoint = 0');
    database.pragma('synchronous = NORMAL');
    database.pragma(`foreign_keys = ${settings.foreignKeys ? 'ON' : 'OFF'}`);
    database.defaultSafeIntegers(true);
    // TEMP: it belongs to this connection only, and users' writes may not name the temp schema.
    database.exec(`CREATE TEMP TABLE IF NOT EXISTS ${connectionStateTable} (id INTEGER PRIMARY KEY)`);
    return database;
  } catch (error) {
    database.close();
    throw error;
  }
}

/**
 * The connection interactive transactions are previewed on (transaction-preview.ts): it
 * writes, but never a WAL frame (`cache_spill = OFF`: a preview never commits, so its
 * pages stay in memory), never checkpoints, and never waits for a lock (`timeout: 0`).
 */
export function openPreviewConnection(path: string, settings: ConnectionSettings): Database.Database {
  const database = new Database(path, { fileMustExist: true, timeout: 0 });
  try {
    loadExtensions(database, settings.extensionPaths);
    database.pragma('wal_autocheckpoint = 0');
    database.pragma('cache_spill = OFF');
    database.pragma(`foreign_keys = ${settings.foreignKeys ? 'ON' : 'OFF'}`);
    database.defaultSafeIntegers(true);
    return database;
  } catch (error) {
    database.close();
    throw error;
  }
}

export function openReadConnection(path: string, busyTimeoutMs: number, settings: ConnectionSettings): Database.Database {
  const database = new Database(path, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs });
  try {
    loadExtensions(database, settings.extensionPaths);
    // Reads never write, so this changes nothing but what `PRAGMA foreign_keys` reports: the node's setting.
    database.pragma(`foreign_keys = ${settings.foreignKeys ? 'ON' : 'OFF'}`);
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

/** The applied-index marker in the database file's header (applied-marker.ts). */
export function readMarker(database: Database.Database): number {
  const marker: unknown = database.pragma('application_id', { simple: true });
  if (typeof marker !== 'bigint' && typeof marker !== 'number') throw new StateMachineError('BAD_SNAPSHOT', 'database has no application_id');
  return Number(marker);
}

interface ControlStatements {
  readonly begin: Database.Statement;
  readonly commit: Database.Statement;
  readonly rollback: Database.Statement;
  readonly savepoint: Database.Statement;
  readonly rollbackToSavepoint: Database.Statement;
  readonly releaseSavepoint: Database.Statement;
  readonly resetConnectionState: Database.Statement;
}

export function prepareControl(database: Database.Database): ControlStatements {
  const prepare = (sql: string): Database.Statement => database.prepare(sql).safeIntegers(true);
  return {
    begin: prepare('BEGIN IMMEDIATE'),
    commit: prepare('COMMIT'),
    rollback: prepare('ROLLBACK'),
    savepoint: prepare('SAVEPOINT quorumlite_batch'),
    rollbackToSavepoint: prepare('ROLLBACK TO quorumlite_batch'),
    releaseSavepoint: prepare('RELEASE quorumlite_batch'),
    // INSERT OR REPLACE, first in every entry: sets changes() = 1 and last_insert_rowid() = 1,
    // so what a statement sees of the connection never depends on the node's history.
    resetConnectionState: prepare(`INSERT OR REPLACE INTO temp.${connectionStateTable} (id) VALUES (1)`),
  };
}

/** First in every entry, inside its transaction: changes() and last_insert_rowid() as after any other entry. */
export function resetConnectionState(connections: Connections): void {
  connections.control.resetConnectionState.run();
}

/**
 * Last in every transaction, before its commit: the header marker names the applied index
 * and the store commit it saw (applied-marker.ts). Writes cannot read application_id, so
 * no statement sees the marker change (it is set once per transaction, however batched).
 */
export function markDatabase(connections: Connections, appliedIndex: number, storeIndex: number): void {
  connections.apply.exec(`PRAGMA application_id = ${markerFor(appliedIndex, storeIndex)}`);
}

/** The open connections of a state machine and what is prepared on them. */
export interface Connections {
  readonly apply: Database.Database;
  readonly read: Database.Database;
  readonly control: ControlStatements;
  /** quorumlite's own state, in its own file (internal-store.ts). */
  readonly store: InternalStore;
  readonly applyRunner: StatementRunner;
  readonly readRunner: StatementRunner;
  /** Interactive transactions' previews, on a connection of their own opened on first use (transaction-preview.ts). */
  readonly previews: TransactionPreviews;
}
