/**
 * Point-in-time restore of a cluster with several databases (docs/ARCHITECTURE.md,
 * "Several databases"): the replay rebuilds the whole node state (the base carries every
 * database; creates, drops, the other databases' writes and a load of one apply), and any
 * database of that moment is written out (`database`, the CLI's --db). At every archived
 * index each database restores to exactly what it held; a database that did not exist then
 * is refused with a RestoreError, and nothing is written.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { PointInTimeArchiver } from '../../src/backup/archiver.js';
import { DirectoryObjectStore } from '../../src/backup/directory-store.js';
import { RestoreError } from '../../src/backup/pitr-plan.js';
import { restoreToPoint } from '../../src/backup/pitr-restore.js';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { encodeCatalogEntry, encodeTargetedEntry } from '../../src/state-machine/database-entries.js';
import type { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { loadSource, targetedLoadEntries } from '../state-machine/fixtures/database-load-workload.js';
import { createFixture, manualClock, recordingLogger } from './log-fixture.js';

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

const startMs = Date.UTC(2026, 0, 1, 12, 0, 0);
const hourMs = 60 * 60 * 1000;
const tableOf: Record<string, string> = { main: 't', a: 'ta', b: 'tb' };

/** Each database's rows as a string (undefined: the database does not exist; 'none': no such table yet). */
type Held = Record<string, string | undefined>;

function held(machine: MultiDatabaseMachine): Held {
  const state: Held = {};
  for (const name of ['main', 'a', 'b']) {
    if (!machine.catalog.names().includes(name)) continue;
    const [result] = machine.query([{ sql: "SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'", positional: [], named: {} }], {
      database: name,
    });
    const tables = result?.kind === 'rows' ? String(result.rows[0]?.[0]) : 'unreadable';
    const table = tables.split(',').find((candidate) => candidate === tableOf[name] || candidate === 'loaded');
    if (table === undefined) {
      state[name] = `tables ${tables}`;
      continue;
    }
    const [rows] = machine.query([{ sql: `SELECT * FROM ${table} ORDER BY rowid`, positional: [], named: {} }], { database: name });
    state[name] = `${table}: ${JSON.stringify(rows?.kind === 'rows' ? rows.rows.map((row) => row.map(String)) : rows)}`;
  }
  return state;
}

function heldInFile(path: string, name: string): string {
  const database = new Database(path, { readonly: true });
  try {
    const tables = database.prepare("SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'").pluck().get() as string | null;
    const table = String(tables)
      .split(',')
      .find((candidate) => candidate === tableOf[name] || candidate === 'loaded');
    if (table === undefined) return `tables ${tables}`;
    const rows = database.prepare(`SELECT * FROM ${table} ORDER BY rowid`).raw(true).all() as unknown[][];
    return `${table}: ${JSON.stringify(rows.map((row) => row.map(String)))}`;
  } finally {
    database.close();
  }
}

test('every database restores, at every archived index, to what it held; one that did not exist then is refused', async () => {
  const fixture = createFixture('quorumlite-pitr-databases-', 8);
  const machine = fixture.machine as MultiDatabaseMachine;
  const target = mkdtempSync(join(tmpdir(), 'quorumlite-pitr-databases-store-'));
  cleanups.push(() => fixture.close());
  cleanups.push(() => rmSync(target, { recursive: true, force: true }));
  const store = new DirectoryObjectStore(target);
  const clock = manualClock(startMs);
  const archiver = new PointInTimeArchiver({
    settings: { path: 'pitr', syncIntervalMs: 10, snapshotIntervalMs: hourMs, retentionMs: 24 * hourMs },
    store,
    log: fixture.log,
    database: fixture.database,
    stagingDirectory: fixture.directory,
    logger: recordingLogger(),
    clock,
  });
  let seed = 11n;
  const write = (database: string, sql: string, timeMs: number): Promise<number> => {
    seed += 1n;
    const command = encodeCommand({ statements: [{ sql, positional: [], named: {} }], transaction: false, timestampMs: timeMs, seed });
    return fixture.appendEntry(database === 'main' ? command : encodeTargetedEntry(database, command));
  };
  const heldAt = new Map<number, Held>();
  const record = (index: number): void => {
    heldAt.set(index, held(machine));
  };

  record(await write('main', 'CREATE TABLE t(v, r)', startMs));
  await archiver.syncOnce();
  const firstBase = fixture.log.appliedIndex;
  record(await fixture.appendEntry(encodeCatalogEntry('create', 'a')));
  record(await fixture.appendEntry(encodeCatalogEntry('create', 'b')));
  record(await write('a', 'CREATE TABLE ta(v, r)', startMs + 1000));
  record(await write('b', 'CREATE TABLE tb(v, r)', startMs + 2000));
  for (let row = 1; row <= 6; row += 1) {
    const name = ['main', 'a', 'b'][row % 3] as string;
    record(await write(name, `INSERT INTO ${tableOf[name]} VALUES ('row${row}', hex(randomblob(4)))`, startMs + 10_000 * row));
  }
  // A second base, which carries a and b in its snapshot.
  clock.nowMsValue = startMs + 2 * hourMs;
  await archiver.syncOnce();
  assert.equal(archiver.counts.bases, 2);
  const bytes = loadSource(join(fixture.directory, 'load-source.db'), 20);
  for (const entry of targetedLoadEntries('a', bytes, 8 * 1024)) record(await fixture.appendEntry(entry));
  record(await write('a', "INSERT INTO loaded (payload) VALUES ('after the load')", startMs + 100_000));
  record(await fixture.appendEntry(encodeCatalogEntry('drop', 'b')));
  record(await write('main', "INSERT INTO t VALUES ('last', hex(randomblob(4)))", startMs + 200_000));
  await archiver.syncOnce();

  let checked = 0;
  for (const [index, expected] of heldAt) {
    if (index < firstBase) continue;
    for (const name of ['main', 'a', 'b']) {
      const outputPath = join(target, `restored-${index}-${name}.sqlite`);
      const restore = restoreToPoint({
        store,
        path: 'pitr',
        target: { kind: 'index', index },
        outputPath,
        workDirectory: `${outputPath}.work`,
        database: name,
      });
      if (expected[name] === undefined) {
        await assert.rejects(restore, (error: unknown) => error instanceof RestoreError && /did not exist at index/.test(error.message), `${name} at ${index}`);
        assert.equal(existsSync(outputPath), false);
        continue;
      }
      const outcome = await restore;
      assert.equal(outcome.index, index);
      assert.equal(heldInFile(outputPath, name), expected[name], `${name} at index ${index}`);
      rmSync(outputPath);
      checked += 1;
    }
  }
  assert.ok(checked > 40, `${checked} restores compared`);
});
