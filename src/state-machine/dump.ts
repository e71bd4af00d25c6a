/**
 * User tables and an SQL dump in the sqlite3 shell's `.dump` form, internal tables
 * excluded: what /db/backup?fmt=sql and the shell show. The dump is produced line by
 * line from its own read-only connection in one read transaction, so a caller can
 * stream it across event-loop turns without blocking other reads.
 */
import Database from 'better-sqlite3';
import { quoteIdentifier, userObjectFilter } from './checksum.js';
import { loadExtensions } from './connections.js';

export function userTables(database: Database.Database): string[] {
  return database
    .prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND ${userObjectFilter} ORDER BY name`)
    .pluck()
    .all() as string[];
}

/** An SQL literal for one cell: reals keep a decimal point, blobs are X'…'. */
function sqlLiteral(value: unknown): string {
  if (value === null) return 'NULL';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') {
    if (value === Infinity) return '9.0e+999';
    if (value === -Infinity) return '-9.0e+999';
    const text = String(value);
    return /[.eE]/.test(text) ? text : `${text}.0`;
  }
  if (typeof value === 'string') return `'${value.replaceAll("'", "''")}'`;
  if (value instanceof Uint8Array) return `X'${Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('hex').toUpperCase()}'`;
  throw new Error(`unexpected cell type ${typeof value}`);
}

function* tableLines(database: Database.Database, name: string, sql: string): Generator<string> {
  yield `${sql};`;
  const rows = database
    .prepare(`SELECT * FROM ${quoteIdentifier(name)}`)
    .raw(true)
    .safeIntegers(true)
    .iterate() as IterableIterator<unknown[]>;
  for (const row of rows) yield `INSERT INTO ${quoteIdentifier(name)} VALUES(${row.map(sqlLiteral).join(',')});`;
}

/**
 * The dump of `tables` (all user tables when omitted): tables with their rows, then
 * sqlite_sequence, then indexes, triggers and views that belong to the dumped tables.
 */
export function* dumpLines(path: string, tables?: readonly string[], extensionPaths: readonly string[] = []): Generator<string> {
  const database = new Database(path, { readonly: true, fileMustExist: true });
  try {
    loadExtensions(database, extensionPaths);
    database.exec('BEGIN');
    const chosen = new Set(tables ?? userTables(database));
    yield 'PRAGMA foreign_keys=OFF;';
    yield 'BEGIN TRANSACTION;';
    const objects = database
      .prepare(`SELECT type, name, tbl_name, sql FROM sqlite_schema WHERE sql IS NOT NULL AND ${userObjectFilter} ORDER BY rowid`)
      .raw(true)
      .all() as [string, string, string, string][];
    for (const [type, name, , sql] of objects) {
      if (type === 'table' && chosen.has(name)) yield* tableLines(database, name, sql);
    }
    const hasSequence = objects.some(([, name]) => name === 'sqlite_sequence');
    if (hasSequence) yield* sequenceLines(database, chosen);
    for (const [type, , tableName, sql] of objects) {
      if (type !== 'table' && (chosen.has(tableName) || (type === 'view' && tables === undefined))) yield `${sql};`;
    }
    yield 'COMMIT;';
    database.exec('COMMIT');
  } finally {
    database.close();
  }
}

function* sequenceLines(database: Database.Database, chosen: ReadonlySet<string>): Generator<string> {
  const rows = database.prepare('SELECT name, seq FROM sqlite_sequence').raw(true).safeIntegers(true).all() as [string, bigint][];
  const kept = rows.filter(([name]) => chosen.has(name));
  if (kept.length === 0) return;
  yield 'DELETE FROM sqlite_sequence;';
  for (const [name, sequence] of kept) yield `INSERT INTO sqlite_sequence VALUES(${sqlLiteral(name)},${sequence});`;
}
