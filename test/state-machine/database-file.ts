/**
 * SQLite files for load and boot tests (`/db/load`, `/boot`, load entries): a table of
 * rows of about 1 kB of random bytes, written at `path` (replaced if it exists); and a
 * file's page size, for the page-size tests.
 */
import { readFileSync, rmSync } from 'node:fs';
import Database from 'better-sqlite3';

export interface DatabaseFileOptions {
  /** Sets the file's `PRAGMA application_id` (a test that checks the file is loaded as it was). */
  readonly applicationId?: number;
}

/** Writes a SQLite file at `path` with table `table` of `rowCount` rows of about 1 kB; returns its bytes. */
export function writeDatabaseFile(path: string, rowCount: number, table: string, options: DatabaseFileOptions = {}): Buffer {
  rmSync(path, { force: true });
  const database = new Database(path);
  database.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, payload BLOB)`);
  const insert = database.prepare(`INSERT INTO ${table} (payload) VALUES (randomblob(1000))`);
  database.transaction(() => {
    for (let row = 0; row < rowCount; row += 1) insert.run();
  })();
  if (options.applicationId !== undefined) database.pragma(`application_id = ${options.applicationId}`);
  database.close();
  return readFileSync(path);
}

/** A SQLite file's page size, read without changing it. */
export function pageSizeOf(path: string): number {
  const database = new Database(path, { readonly: true });
  try {
    return database.pragma('page_size', { simple: true }) as number;
  } finally {
    database.close();
  }
}
