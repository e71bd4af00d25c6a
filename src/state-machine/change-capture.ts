/**
 * Change data capture: every row an entry inserts, updates or deletes, with its values
 * before and after, as rqlite's CDC reports them (docs/ARCHITECTURE.md, "Change data
 * capture"). better-sqlite3's SQLite is built without the pre-update hook, so TEMP
 * triggers on the apply connection (change-triggers.ts) record each change into a TEMP
 * table, read and emptied after each entry. Deterministic: the same entry on the same
 * database fires the same triggers in the same order on every node. Exact: triggers fire
 * for rows that other triggers and foreign key actions change; rows that REPLACE conflict
 * resolution deletes fire delete triggers only with recursive_triggers, which is turned on
 * while the database has no trigger of the user's (there it changes nothing a user sees).
 * A failing statement's own changes are undone with it, TEMP rows included.
 */
import type Database from 'better-sqlite3';
import { assert } from '../common/assert.js';
import {
  base64Function,
  candidatesTable,
  byteOrder,
  changesTable,
  createCaptureTables,
  createTriggersSql,
  digestOfTrigger,
  dropTriggerSql,
  operationCodes,
  refusalCode,
  shapeDigest,
  triggerNamePrefix,
  type CapturedTable,
  type ChangeOperation,
} from './change-triggers.js';
import { replaceProbe } from './change-replace-probe.js';
import { probedKeys } from './change-unique-keys.js';
import type { Connections } from './connections.js';
import { internalNamePrefix } from './sql-policy.js';
import type { Command } from './types.js';

/** One row change. `before` / `after` are JSON object text (keys sorted as Go sorts them). */
export interface RowChange {
  /** UNKNOWN: a change the capture cannot report exactly, with `error` saying why. */
  readonly operation: ChangeOperation | 'UNKNOWN';
  readonly table: string;
  readonly oldRowId: bigint | undefined;
  readonly newRowId: bigint | undefined;
  readonly before: string | undefined;
  readonly after: string | undefined;
  readonly error?: string;
}

/** The changes of one applied entry that changed rows. */
export interface CapturedEntry {
  readonly index: number;
  /** The entry's own time (the leader's clock at propose): the same on every node. */
  readonly timestampMs: number;
  readonly changes: readonly RowChange[];
  /** The entry made `entryChangeCountMax` changes or more: those after that many were not recorded. */
  readonly truncated: boolean;
}

/**
 * Where captured entries go, inside the entries' transaction, before the database commits:
 * entries firstIndex..lastIndex replace whatever was recorded for those indexes before (an
 * entry applied again after a crash or a failed commit captures the same changes again).
 */
export interface ChangeSink {
  record(firstIndex: number, lastIndex: number, entries: readonly CapturedEntry[]): void;
  /** The database was replaced by a snapshot at `restoredIndex`: the entries after `appliedBefore` were never applied here. */
  restored?(appliedBefore: number, restoredIndex: number): void;
  /** A snapshot restore begins (noted durably, so a crash before restored() still leaves its gap). */
  restoring?(appliedBefore: number): void;
}

export interface ChangeCaptureSettings {
  /** Only tables whose names match are captured (rqlite's table_filter). */
  readonly tableFilter: RegExp | undefined;
  /** Row ids and operations only, no values (rqlite's row_ids_only). */
  readonly rowIdsOnly: boolean;
  /** Changes one entry records at most; an entry that reaches it is marked truncated. */
  readonly entryChangeCountMax: number;
}

export const entryChangeCountMaxDefault = 100_000;

interface ChangeRow {
  readonly sequence: bigint;
  readonly operation: bigint;
  readonly table_name: string;
  readonly old_row_id: bigint | null;
  readonly new_row_id: bigint | null;
  readonly before: string | null;
  readonly after: string | null;
}

const operationsByCode = new Map<bigint, ChangeOperation>(Object.entries(operationCodes).map(([name, code]) => [BigInt(code), name as ChangeOperation]));

/** The prepared statements of one apply connection. */
interface ConnectionCapture {
  readonly database: Database.Database;
  readonly takeChanges: Database.Statement;
  readonly clearCandidates: Database.Statement;
  readonly mainSchemaVersion: Database.Statement;
  readonly tempSchemaVersion: Database.Statement;
  /** The main and temp schema versions the triggers were last made for ('' = never). */
  syncedVersions: string;
}

export class ChangeCapture {
  readonly #settings: ChangeCaptureSettings;
  readonly #sink: ChangeSink;
  #connection: ConnectionCapture | undefined;
  #pending: CapturedEntry[] = [];
  /** The database has triggers of the user's: REPLACE's deletions are probed for (change-replace-probe.ts). */
  #probing = false;

  constructor(settings: ChangeCaptureSettings, sink: ChangeSink) {
    assert(settings.entryChangeCountMax >= 1, 'an entry records at least one change');
    this.#settings = settings;
    this.#sink = sink;
  }

  /** The entries' transaction began on `database`: the triggers match its schema. */
  begin(database: Database.Database): void {
    if (this.#connection?.database !== database) this.#connection = attach(database);
    this.#pending = [];
    const connection = this.#connection;
    if (schemaVersions(connection) !== connection.syncedVersions) this.#sync(connection);
  }

  /** A statement that may change the schema is about to run: ALTER and DROP must not meet the capture triggers. */
  beforeSchemaChange(keyword: string): void {
    const connection = this.#connection;
    if (connection === undefined || (keyword !== 'ALTER' && keyword !== 'DROP')) return;
    // ALTER TABLE DROP COLUMN fails on a trigger naming the column: drop them all; the sync after makes them again.
    for (const name of captureTriggers(connection.database)) connection.database.exec(dropTriggerSql(name));
  }

  /** A statement that may have changed the schema ran (or failed): triggers for the tables as they are now. */
  afterSchemaChange(): void {
    if (this.#connection !== undefined) this.#sync(this.#connection);
  }

  /** Entry `index` ended: its changes are read and the TEMP table emptied for the next one. */
  endEntry(index: number, timestampMs: number): void {
    const connection = this.#connection;
    if (connection === undefined) return;
    // Read and emptied in one statement; RETURNING promises no order, the sequence gives it.
    const rows = (connection.takeChanges.all() as ChangeRow[]).sort((left, right) => (left.sequence < right.sequence ? -1 : 1));
    // Rows noted before an INSERT OR IGNORE that did nothing: none outlives its entry.
    if (this.#probing) connection.clearCandidates.run();
    if (rows.length === 0) return;
    const truncated = rows.length >= this.#settings.entryChangeCountMax;
    this.#pending.push({ index, timestampMs, changes: rows.map(toRowChange), truncated });
  }

  /** A snapshot is about to replace the database. */
  restoring(appliedBefore: number): void {
    this.#sink.restoring?.(appliedBefore);
  }

  /** A snapshot replaced the database (an install from the leader): the sink learns which entries it never saw. */
  restored(appliedBefore: number, restoredIndex: number): void {
    if (restoredIndex > appliedBefore) this.#sink.restored?.(appliedBefore, restoredIndex);
  }

  /** Before the commit: what entries firstIndex..lastIndex captured goes to the sink. */
  flush(firstIndex: number, lastIndex: number): void {
    const pending = this.#pending;
    this.#pending = [];
    this.#sink.record(firstIndex, lastIndex, pending);
  }

  /**
   * Makes the triggers match the main schema: new tables get them, changed ones new ones,
   * dropped ones lose them. Only DDL: a write here would change what changes() and
   * last_insert_rowid() answer to the entry's next statement.
   */
  #sync(connection: ConnectionCapture): void {
    const database = connection.database;
    createCaptureTables(database);
    const userTriggerCount = database.prepare(`SELECT count(*) FROM main.sqlite_schema WHERE type = 'trigger'`).pluck().safeIntegers(true).get() as bigint;
    this.#probing = userTriggerCount > 0n;
    const wanted = new Map(userTables(database, this.#settings.tableFilter, this.#probing).map((table) => [shapeDigest(table), table]));
    const existing = new Set<string>();
    for (const name of captureTriggers(database)) {
      const digest = digestOfTrigger(name);
      if (wanted.has(digest)) existing.add(digest);
      else database.exec(dropTriggerSql(name));
    }
    for (const [digest, table] of wanted) {
      if (existing.has(digest)) continue;
      const { rowIdsOnly, entryChangeCountMax } = this.#settings;
      for (const sql of createTriggersSql(table, rowIdsOnly, entryChangeCountMax, replaceProbe(table, rowIdsOnly))) database.exec(sql);
    }
    // Without triggers of the user's, recursive_triggers changes nothing a user sees, and
    // makes REPLACE's deletions fire the delete triggers (SQLite's documented behaviour).
    database.pragma(`recursive_triggers = ${this.#probing ? 'OFF' : 'ON'}`);
    connection.syncedVersions = schemaVersions(connection);
  }
}

/** The capture triggers on the connection now (a rollback may have taken some away). */
function captureTriggers(database: Database.Database): string[] {
  return database
    .prepare(`SELECT name FROM temp.sqlite_schema WHERE type = 'trigger' AND substr(name, 1, ?) = ?`)
    .pluck()
    .all(triggerNamePrefix.length, triggerNamePrefix) as string[];
}

/** The state machine's hook after each command: `outcome` passed through, the entry's changes read. */
export function endedEntry<Outcome>(capture: ChangeCapture | undefined, index: number, command: Pick<Command, 'timestampMs'>, outcome: Outcome): Outcome {
  capture?.endEntry(index, command.timestampMs);
  return outcome;
}

/**
 * The state machine's hook around an entry transaction's work (and its deferred-violation
 * rerun): the capture begins after BEGIN, and what it captured goes to the sink before
 * the database commits, so a crash after the commit never loses a change.
 */
export function capturedWork<Outcome>(
  capture: ChangeCapture | undefined,
  firstIndex: number,
  lastIndex: number,
  work: (connections: Connections) => Outcome,
  onDeferredViolation: ((connections: Connections) => Outcome) | undefined,
): [(connections: Connections) => Outcome, ((connections: Connections) => Outcome) | undefined] {
  if (capture === undefined) return [work, onDeferredViolation];
  const wrap =
    (run: (connections: Connections) => Outcome) =>
    (connections: Connections): Outcome => {
      capture.begin(connections.apply);
      const outcome = run(connections);
      capture.flush(firstIndex, lastIndex);
      return outcome;
    };
  return [wrap(work), onDeferredViolation === undefined ? undefined : wrap(onDeferredViolation)];
}

function schemaVersions(connection: ConnectionCapture): string {
  return `${connection.mainSchemaVersion.get()}/${connection.tempSchemaVersion.get()}`;
}

function attach(database: Database.Database): ConnectionCapture {
  database.function(base64Function, { deterministic: true }, (value: unknown) => (Buffer.isBuffer(value) ? value.toString('base64') : value) as string);
  createCaptureTables(database);
  return {
    database,
    takeChanges: database
      .prepare(`DELETE FROM temp.${changesTable} RETURNING sequence, operation, table_name, old_row_id, new_row_id, before, after`)
      .safeIntegers(true),
    clearCandidates: database.prepare(`DELETE FROM temp.${candidatesTable}`),
    mainSchemaVersion: database.prepare('PRAGMA main.schema_version').pluck(),
    tempSchemaVersion: database.prepare('PRAGMA temp.schema_version').pluck(),
    syncedVersions: '',
  };
}

function toRowChange(row: ChangeRow): RowChange {
  if (row.operation === BigInt(refusalCode)) {
    return {
      operation: 'UNKNOWN',
      table: row.table_name,
      oldRowId: undefined,
      newRowId: undefined,
      before: undefined,
      after: undefined,
      error: row.after ?? '',
    };
  }
  const operation = operationsByCode.get(row.operation);
  assert(operation !== undefined, `a captured change has a known operation (${row.operation})`);
  return {
    operation,
    table: row.table_name,
    oldRowId: row.old_row_id ?? undefined,
    newRowId: row.new_row_id ?? undefined,
    before: row.before ?? undefined,
    after: row.after ?? undefined,
  };
}

/** The user's ordinary tables (not views, virtual or shadow tables, not SQLite's or quorumlite's), filtered. */
function userTables(database: Database.Database, filter: RegExp | undefined, probeReplace: boolean): CapturedTable[] {
  const listed = database.prepare(`SELECT name, wr FROM pragma_table_list WHERE schema = 'main' AND type = 'table' ORDER BY name`).all() as {
    name: string;
    wr: bigint | number;
  }[];
  const tables: CapturedTable[] = [];
  for (const { name, wr } of listed) {
    if (name.startsWith('sqlite_') || name.startsWith(internalNamePrefix)) continue;
    if (filter !== undefined && !filter.test(name)) continue;
    const columns = (database.prepare('SELECT name FROM pragma_table_info(?)').pluck().all(name) as string[]).sort(byteOrder);
    const taken = new Set(columns.map((column) => column.toLowerCase()));
    const rowidName = Number(wr) === 1 ? undefined : ['_rowid_', 'rowid', 'oid'].find((alias) => !taken.has(alias));
    tables.push({ name, columns, rowidName, ...probedKeys(database, name, rowidName === undefined, probeReplace) });
  }
  return tables;
}
