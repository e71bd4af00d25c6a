/**
 * The SQL of change data capture (change-capture.ts): the apply connection's TEMP objects
 * that record every row change into a TEMP table. TEMP objects belong to the connection:
 * they are never in the database file, its sqlite_schema, a snapshot, a backup or a dump,
 * and users' writes can name neither the temp schema nor `_quorumlite_` objects.
 */
import type Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import type { KeyTerm } from './change-unique-keys.js';
import { internalNamePrefix } from './sql-policy.js';

/** The row changes of the entry being applied, in the order SQLite made them. */
export const changesTable = `${internalNamePrefix}cdc_changes`;
/** Rows that REPLACE may delete, noted before an INSERT or UPDATE (change-replace-probe.ts). */
export const candidatesTable = `${internalNamePrefix}cdc_candidates`;
/** Blobs travel as base64 text, as rqlite's JSON (Go's []byte) does; JSON cannot hold a blob. */
/** A WITHOUT ROWID table's primary key columns the probe notes at most (wider: refused, change-capture.ts). */
export const candidateKeyColumnCountMax = 8;
export const base64Function = `${internalNamePrefix}cdc_base64`;

export const operationCodes = { INSERT: 1, UPDATE: 2, DELETE: 3 } as const;
/** A change the capture cannot report exactly: rqlite's `{"op": "UNKNOWN", "error": …}`, its text in `after`. */
export const refusalCode = 4;
export type ChangeOperation = keyof typeof operationCodes;

/** json_object() takes at most 1000 arguments (SQLITE_MAX_FUNCTION_ARG in better-sqlite3's build): 499 columns per call. */
const columnsPerObjectMax = 499;

/** What the triggers of one table are made from; any difference makes them again. */
export interface CapturedTable {
  readonly name: string;
  /** The columns, in Go's map-key order (byte order), which rqlite's JSON objects have. */
  readonly columns: readonly string[];
  /** How NEW / OLD name the rowid (a column may take `rowid`'s name); undefined for WITHOUT ROWID. */
  readonly rowidName: string | undefined;
  /**
   * With triggers of the user's (recursive_triggers then stays off), the terms of the
   * table's unique indexes: rows REPLACE would delete are probed for (change-replace-probe.ts).
   */
  readonly uniqueKeys: readonly (readonly KeyTerm[])[] | undefined;
  /** A WITHOUT ROWID table's primary key, when probing: its rows' identity. */
  readonly primaryKey: readonly KeyTerm[] | undefined;
  /** When probing, why this table cannot be: its INSERTs and UPDATEs are then reported with an error (change-replace-probe.ts). */
  readonly probeRefusal: string | undefined;
}

export function quoteName(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

export function quoteText(text: string): string {
  return `'${text.replaceAll("'", "''")}'`;
}

/** What change-replace-probe.ts adds to a table's triggers. */
export interface ReplaceProbe {
  /** BEFORE INSERT and BEFORE UPDATE bodies: the rows the change could replace, noted. */
  readonly beforeTriggers: readonly { readonly operation: 'INSERT' | 'UPDATE'; readonly body: string }[];
  /** Run first in the AFTER triggers' bodies. */
  readonly afterStatements: Readonly<Record<ChangeOperation, string>>;
}

/** The TEMP tables, created once per connection outside any transaction (no rollback takes them). */
export function createCaptureTables(database: Database.Database): void {
  database.exec(`CREATE TEMP TABLE IF NOT EXISTS ${changesTable} (
    sequence INTEGER PRIMARY KEY, operation INTEGER NOT NULL, table_name TEXT NOT NULL,
    old_row_id INTEGER, new_row_id INTEGER, before TEXT, after TEXT)`);
  // Key columns without a type: a primary key's values are kept as they are (blobs too).
  const keyColumns = Array.from({ length: candidateKeyColumnCountMax }, (_, position) => `key_${position}`).join(', ');
  database.exec(
    `CREATE TEMP TABLE IF NOT EXISTS ${candidatesTable} (sequence INTEGER PRIMARY KEY, table_name TEXT NOT NULL, row_id INTEGER, ${keyColumns}, before TEXT)`,
  );
}

/** A value as JSON can hold it: blobs as base64 text. */
function jsonValue(reference: string): string {
  return `CASE WHEN typeof(${reference}) = 'blob' THEN ${base64Function}(${reference}) ELSE ${reference} END`;
}

/** The row as one JSON object, keys in the table's (sorted) column order; `row` is NEW, OLD or a FROM alias. */
export function rowObject(table: CapturedTable, row: string): string {
  const pairs = table.columns.map((column) => `${quoteText(column)}, ${jsonValue(`${row}.${quoteName(column)}`)}`);
  let object = `json_object(${pairs.slice(0, columnsPerObjectMax).join(', ')})`;
  // Wider tables: the rest appended with json_insert (it adds keys at the end, keeping the order).
  for (let start = columnsPerObjectMax; start < pairs.length; start += columnsPerObjectMax) {
    const paths = table.columns
      .slice(start, start + columnsPerObjectMax)
      .map((column) => `${quoteText(`$."${column}"`)}, ${jsonValue(`${row}.${quoteName(column)}`)}`);
    object = `json_insert(${object}, ${paths.join(', ')})`;
  }
  return object;
}

/** Trigger names carry a digest of what they were made from: no table of ours (whose writes would change changes()) keeps it. */
export const triggerNamePrefix = `${changesTable}_`;

export function shapeDigest(table: CapturedTable): string {
  return createHash('sha256').update(JSON.stringify(table)).digest('hex').slice(0, 24);
}

function triggerName(digest: string, operation: string): string {
  return `${triggerNamePrefix}${digest}_${operation.toLowerCase()}`;
}

/** The digest in a capture trigger's name. */
export function digestOfTrigger(name: string): string {
  return name.slice(triggerNamePrefix.length, name.lastIndexOf('_'));
}

/**
 * One trigger per operation. Past `changeCountMax` changes in the entry, a change is not
 * recorded (the bound holds within one statement too: a DELETE of a million rows). The
 * bound is the trigger's WHEN: an INSERT … SELECT reading the table it writes would copy
 * it first (measured: 100 µs a change against 7).
 */
export function createTriggersSql(table: CapturedTable, rowIdsOnly: boolean, changeCountMax: number, probe: ReplaceProbe | undefined): string[] {
  const digest = shapeDigest(table);
  // The sequence starts at 1 in every entry (the table is emptied after each): it counts the entry's changes.
  const below = `NOT EXISTS (SELECT 1 FROM temp.${changesTable} WHERE sequence >= ${changeCountMax})`;
  const rowid = (row: 'NEW' | 'OLD'): string => (table.rowidName === undefined ? 'NULL' : `${row}.${quoteName(table.rowidName)}`);
  const values = (row: 'NEW' | 'OLD'): string => (rowIdsOnly ? 'NULL' : rowObject(table, row));
  const insertChange = (operation: ChangeOperation, oldRow: boolean, newRow: boolean): string =>
    `INSERT INTO temp.${changesTable} (operation, table_name, old_row_id, new_row_id, before, after) VALUES (${operationCodes[operation]}, ` +
    `${quoteText(table.name)}, ${oldRow ? rowid('OLD') : 'NULL'}, ${newRow ? rowid('NEW') : 'NULL'}, ` +
    `${oldRow ? values('OLD') : 'NULL'}, ${newRow ? values('NEW') : 'NULL'});`;
  const create = (operation: ChangeOperation, oldRow: boolean, newRow: boolean): string =>
    `CREATE TEMP TRIGGER ${triggerName(digest, operation)} AFTER ${operation} ON main.${quoteName(table.name)} ` +
    `WHEN ${below} BEGIN ${probe?.afterStatements[operation] ?? ''} ${insertChange(operation, oldRow, newRow)} END`;
  const beforeTriggers = (probe?.beforeTriggers ?? []).map(
    ({ operation, body }) =>
      `CREATE TEMP TRIGGER ${triggerName(digest, `probe${operation.toLowerCase()}`)} BEFORE ${operation} ON main.${quoteName(table.name)} ` +
      `WHEN ${below} BEGIN ${body} END`,
  );
  return [...beforeTriggers, create('INSERT', false, true), create('UPDATE', true, true), create('DELETE', true, false)];
}

export function dropTriggerSql(name: string): string {
  return `DROP TRIGGER IF EXISTS temp.${quoteName(name)}`;
}

/** Go sorts map keys by their bytes (UTF-8); JavaScript's default sort is by UTF-16 units. */
export function byteOrder(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left, 'utf8'), Buffer.from(right, 'utf8'));
}
