/**
 * What the tests of quorumlite's internal state share: reading rows, the user's schema,
 * a database in the layout before the internal store (its state in `_quorumlite_*`
 * tables of the user's file), and a child process that kills itself at a commit step.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import Database from 'better-sqlite3';
import type { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { statement } from './helpers.js';

export function rows(result: StatementResult | undefined): unknown[][] {
  assert.equal(result?.kind, 'rows', JSON.stringify(result));
  return result.rows as unknown[][];
}

export function schemaNames(machine: SqliteStateMachine): unknown[] {
  return rows(machine.query([statement('SELECT name FROM sqlite_master ORDER BY name')])[0]).map((row) => row[0]);
}

/**
 * An old-layout database, written the way quorumlite wrote it before the internal store
 * existed; `sql` runs after the state and request tables exist (the user's tables, the
 * applied index, a maintenance table).
 */
export function writeOldLayout(path: string, sql: string): Database.Database {
  const old = new Database(path);
  old.pragma('journal_mode = WAL');
  old.exec(`
    CREATE TABLE _quorumlite_state (id INTEGER PRIMARY KEY, applied_index INTEGER NOT NULL);
    CREATE TABLE _quorumlite_requests (request_id TEXT PRIMARY KEY, sequence INTEGER NOT NULL,
      timestamp_ms INTEGER NOT NULL, result BLOB NOT NULL) WITHOUT ROWID;
    CREATE INDEX _quorumlite_requests_by_sequence ON _quorumlite_requests(sequence);
    CREATE INDEX _quorumlite_requests_by_time ON _quorumlite_requests(timestamp_ms);
    ${sql}`);
  return old;
}

/** Runs `script` (a fixture) on `path`; it must end by SIGKILLing itself after `killStep`. */
export function crashChild(script: string, path: string, killStep: string): void {
  const child = spawnSync(process.execPath, ['--import', 'tsx', script, path, killStep], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, TZ: 'UTC' },
  });
  assert.equal(child.signal, 'SIGKILL', child.stderr);
}
