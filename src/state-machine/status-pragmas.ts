/**
 * The connection settings rqlite's /status shows under `store.sqlite3.pragmas`, in its
 * order, each value as text (rqlite scans them into strings).
 */
import type Database from 'better-sqlite3';

const statusPragmaNames = ['synchronous', 'journal_mode', 'foreign_keys', 'wal_autocheckpoint', 'busy_timeout'] as const;

export function readStatusPragmas(database: Database.Database): Record<string, string> {
  const values: Record<string, string> = {};
  for (const name of statusPragmaNames) values[name] = String(database.prepare(`PRAGMA ${name}`).pluck().get());
  return values;
}
