/**
 * Where the extra databases live on disk and how their directory changes crash-safely
 * (docs/ARCHITECTURE.md, "Several databases"). Beside the default database `db.sqlite`:
 *
 *   databases/NAME/db.sqlite (+ .internal)   one directory per extra database
 *   databases/.creating-NAME/                a create in progress (removed at open)
 *   databases/.dropping-NAME/                a drop in progress (removed at open)
 *   db.sqlite.databases-incoming/            the set a restored snapshot carried, waiting
 *                                            to replace databases/ (swapped in at open)
 *
 * Each step is one rename followed by an fsync of the directory, so a kill -9 leaves
 * either the old state or the new one, plus leftovers the next open removes.
 */
import type Database from 'better-sqlite3';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { databaseNameProblem } from './database-entries.js';
import { fsyncDirectory, fsyncPath } from './files.js';

/** The table a snapshot carries the extra databases in: one row per database, its one-file snapshot as a blob. */
export const databasesTable = '_quorumlite_databases';
export const databasesTableSql = `CREATE TABLE ${databasesTable} (name TEXT PRIMARY KEY, image BLOB NOT NULL) WITHOUT ROWID`;

/** The directory of the extra databases beside the default database at `defaultPath`. */
export function databasesDirectory(defaultPath: string): string {
  return join(dirname(defaultPath), 'databases');
}

/** The file of extra database `name`. */
export function databaseFile(directory: string, name: string): string {
  return join(directory, name, 'db.sqlite');
}

function incomingDirectory(defaultPath: string): string {
  return `${defaultPath}.databases-incoming`;
}

function hasTable(database: Database.Database, name: string): boolean {
  return database.prepare('SELECT count(*) FROM sqlite_schema WHERE name = ?').pluck().get(name) !== 0n;
}

/**
 * At the migration of a restored snapshot (database-layout.ts), before the transaction
 * that drops the carried tables: writes the databases it carries, durably, as the set
 * that replaces the extra databases when the catalog opens next. A crash before that
 * transaction commits migrates, and writes them, again.
 */
export function stageCarriedDatabases(apply: Database.Database, defaultPath: string): void {
  if (!hasTable(apply, databasesTable)) return;
  const incoming = incomingDirectory(defaultPath);
  const partial = `${incoming}.partial`;
  rmSync(partial, { recursive: true, force: true });
  rmSync(incoming, { recursive: true, force: true });
  mkdirSync(partial);
  const rows = apply.prepare(`SELECT name, image FROM ${databasesTable}`).raw(true).iterate() as IterableIterator<[string, Uint8Array]>;
  for (const [name, image] of rows) {
    if (databaseNameProblem(name) !== undefined) continue;
    mkdirSync(join(partial, name));
    writeFileSync(databaseFile(partial, name), image);
    fsyncPath(databaseFile(partial, name), 'r+');
    fsyncDirectory(join(partial, name));
  }
  fsyncDirectory(partial);
  renameSync(partial, incoming);
  fsyncDirectory(dirname(incoming));
}

/** Whether a restore staged a set of databases that the catalog has not swapped in yet. */
export function hasIncomingDatabases(defaultPath: string): boolean {
  return existsSync(incomingDirectory(defaultPath));
}

/** Drops the carried table within the migration's transaction. */
export function dropCarriedDatabases(apply: Database.Database): void {
  apply.exec(`DROP TABLE IF EXISTS ${databasesTable}`);
}

/**
 * Brings the directory to a consistent state before the catalog opens it: finishes or
 * forgets a swap of a restored set, removes creates and drops a crash interrupted
 * (a create not renamed into place never happened; a drop renamed away did).
 */
export function settleDatabasesDirectory(defaultPath: string): void {
  const directory = databasesDirectory(defaultPath);
  const incoming = incomingDirectory(defaultPath);
  const old = `${directory}.old`;
  rmSync(`${incoming}.partial`, { recursive: true, force: true });
  if (existsSync(old) && !existsSync(directory) && existsSync(incoming)) renameSync(incoming, directory);
  if (existsSync(incoming)) {
    if (existsSync(directory)) renameSync(directory, old);
    fsyncDirectory(dirname(directory));
    renameSync(incoming, directory);
    fsyncDirectory(dirname(directory));
  }
  rmSync(old, { recursive: true, force: true });
  mkdirSync(directory, { recursive: true });
  for (const entry of readdirSync(directory)) {
    if (entry.startsWith('.creating-') || entry.startsWith('.dropping-')) rmSync(join(directory, entry), { recursive: true, force: true });
  }
  fsyncDirectory(directory);
}

/** The databases the directory holds, by name, sorted. */
export function databaseNamesOnDisk(directory: string): string[] {
  return readdirSync(directory)
    .filter((entry) => databaseNameProblem(entry) === undefined && existsSync(databaseFile(directory, entry)))
    .sort();
}

/** Where a create builds the database before it is renamed into place. */
export function creatingDirectory(directory: string, name: string): string {
  const staging = join(directory, `.creating-${name}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging);
  return staging;
}

/** The create's last step: the built directory becomes the database. */
export function publishCreated(directory: string, name: string): void {
  renameSync(join(directory, `.creating-${name}`), join(directory, name));
  fsyncDirectory(directory);
}

/** A drop: one durable rename makes the database gone; its files are removed after (or at the next open). */
export function removeDatabaseFiles(directory: string, name: string): void {
  const dropping = join(directory, `.dropping-${name}`);
  rmSync(dropping, { recursive: true, force: true });
  renameSync(join(directory, name), dropping);
  fsyncDirectory(directory);
  rmSync(dropping, { recursive: true, force: true });
}
