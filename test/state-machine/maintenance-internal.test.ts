/**
 * When VACUUM and the statistics refresh last ran (maintenance entries) is quorumlite's
 * state, so it lives in the internal store, not in the user's database: it survives a
 * restart, travels in snapshots (as the old layout's `_quorumlite_maintenance`), is
 * migrated from a database of the old layout, and obeys the store's crash rules (undone
 * when the store committed an entry the database did not; versions kept back to the floor).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { InternalStore } from '../../src/state-machine/internal-store.js';
import { encodeMaintenanceCommand, type MaintenanceKind } from '../../src/state-machine/maintenance.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';
import { crashChild, schemaNames, writeOldLayout } from './internal-layout.js';

const childScript = new URL('./fixtures/maintenance-crash-child.ts', import.meta.url).pathname;

const maintenance = (kind: MaintenanceKind, timestampMs: number): Uint8Array => encodeMaintenanceCommand({ kind, timestampMs });

function times(machine: SqliteStateMachine): [MaintenanceKind, number][] {
  return [...machine.maintenanceTimes()].sort(([left], [right]) => left.localeCompare(right));
}

/** The maintenance rows of a store file: [kind, recorded_index, timestamp_ms]. */
function storeVersions(storePath: string): unknown[][] {
  const store = new Database(storePath, { readonly: true });
  try {
    return store.prepare('SELECT kind, recorded_index, timestamp_ms FROM maintenance ORDER BY kind, recorded_index').raw(true).all() as unknown[][];
  } finally {
    store.close();
  }
}

test('maintenance times live in the internal store: the database holds none of ours, the times survive a restart, old versions are collected', () => {
  const directory = temporaryDirectory('maintenance-store');
  const path = join(directory.path, 'db.sqlite');
  try {
    const machine = new SqliteStateMachine({ path });
    try {
      machine.apply(1, entry(['CREATE TABLE t(id INTEGER PRIMARY KEY, v)', 'CREATE INDEX t_v ON t(v)', "INSERT INTO t(v) VALUES ('a')"]));
      machine.apply(2, maintenance('vacuum', 1000));
      machine.apply(3, maintenance('optimize', 2000));
      machine.apply(4, maintenance('vacuum', 3000));
      // Only the user's objects, and the statistics tables SQLite's ANALYZE made.
      assert.deepEqual(
        schemaNames(machine).filter((name) => !String(name).startsWith('sqlite_stat')),
        ['t', 't_v'],
      );
      assert.deepEqual(times(machine), [
        ['optimize', 2000],
        ['vacuum', 3000],
      ]);
      // The next store write collects versions no undo or snapshot can reach: vacuum@2 (vacuum@4 is live at 4).
      machine.apply(5, entry(["INSERT INTO t(v) VALUES ('b')"], { requestId: 'client:1' }));
    } finally {
      machine.close();
    }
    assert.deepEqual(storeVersions(`${path}.internal`), [
      ['optimize', 3, 2000],
      ['vacuum', 4, 3000],
    ]);
    const reopened = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(times(reopened), [
        ['optimize', 2000],
        ['vacuum', 3000],
      ]);
    } finally {
      reopened.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('the store undoes maintenance versions to any index from its floor, and keeps the version live at the floor', () => {
  const directory = temporaryDirectory('maintenance-undo');
  const store = new InternalStore(join(directory.path, 'store'));
  try {
    const recordAt = (index: number, kind: MaintenanceKind, timestampMs: number, floorIndex: number): void => {
      store.plan(floorIndex, index);
      store.recordMaintenance(kind, index, timestampMs);
      assert.equal(store.commitIfWritten(), true);
    };
    recordAt(2, 'vacuum', 20, 1);
    recordAt(4, 'vacuum', 40, 3);
    recordAt(6, 'optimize', 60, 3);
    recordAt(8, 'vacuum', 80, 5);
    // Floor 5: vacuum@4 is live at 5, so vacuum@2 went and vacuum@4 stays.
    assert.deepEqual(
      store.maintenanceAt(5).map(({ kind, timestampMs }) => [kind, Number(timestampMs)]),
      [['vacuum', 40]],
    );
    assert.deepEqual(
      store.maintenanceAt(8).map(({ kind, timestampMs }) => [kind, Number(timestampMs)]),
      [
        ['optimize', 60],
        ['vacuum', 80],
      ],
    );
    store.undoTo(5, 4);
    assert.deepEqual(
      store.maintenanceAt(8).map(({ kind, timestampMs }) => [kind, Number(timestampMs)]),
      [['vacuum', 40]],
    );
    assert.deepEqual(store.range(), { floorIndex: 5, coveredIndex: 4 });
  } finally {
    store.close();
    directory.cleanup();
  }
});

test('a snapshot carries the times of its own index as _quorumlite_maintenance; restoring it brings them back', async () => {
  const directory = temporaryDirectory('maintenance-snapshot');
  const bounds = { dedupRequestCountMax: 2, dedupWindowMs: 60_000 };
  const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite'), ...bounds });
  const reference = new SqliteStateMachine({ path: join(directory.path, 'reference.sqlite'), ...bounds });
  const restored = new SqliteStateMachine({ path: join(directory.path, 'restored.sqlite'), ...bounds });
  // Optimize entries at changing times between writes with request ids (each a store commit that collects).
  const entries = Array.from({ length: 30 }, (_, position) => {
    if (position === 0) return entry(['CREATE TABLE t(v)']);
    if (position % 2 === 1) return maintenance('optimize', 100 * position);
    return entry([statement('INSERT INTO t VALUES (?)', position)], { requestId: `client:${position}`, timestampMs: 1_700_000_000_000 + position });
  });
  try {
    for (let index = 1; index <= 10; index++) source.apply(index, entries[index - 1] as Uint8Array);
    const snapshotPath = join(directory.path, 'snapshot.db');
    const taking = source.snapshot(snapshotPath);
    for (let index = 11; index <= 30; index++) source.apply(index, entries[index - 1] as Uint8Array);
    const { appliedIndex } = await taking;
    for (let index = 1; index <= appliedIndex; index++) reference.apply(index, entries[index - 1] as Uint8Array);
    const file = new Database(snapshotPath, { readonly: true });
    try {
      const carried = file.prepare('SELECT kind, timestamp_ms FROM _quorumlite_maintenance').raw(true).all();
      assert.deepEqual(
        carried,
        times(reference).map(([kind, timestampMs]) => [kind, timestampMs]),
      );
    } finally {
      file.close();
    }
    await restored.restore(snapshotPath);
    assert.deepEqual(schemaNames(restored), ['t']);
    assert.deepEqual(times(restored), times(reference));
    assert.ok(times(restored).length === 1, JSON.stringify(times(restored)));
  } finally {
    source.close();
    reference.close();
    restored.close();
    directory.cleanup();
  }
});

/** A database of the layout before the internal store, that ran maintenance entries. */
function writeOldLayoutWithMaintenance(path: string): void {
  writeOldLayout(
    path,
    `CREATE TABLE _quorumlite_maintenance (kind TEXT PRIMARY KEY, timestamp_ms INTEGER NOT NULL) WITHOUT ROWID;
    INSERT INTO _quorumlite_maintenance VALUES ('vacuum', 111), ('optimize', 222);
    CREATE TABLE t(id INTEGER PRIMARY KEY, v);
    INSERT INTO t(v) VALUES ('old');
    INSERT INTO _quorumlite_state VALUES (1, 12);`,
  ).close();
}

test('an old-layout database with _quorumlite_maintenance is migrated (times kept, table gone), as is a restored old-layout snapshot', async () => {
  const directory = temporaryDirectory('maintenance-migrate');
  const path = join(directory.path, 'db.sqlite');
  const snapshotPath = join(directory.path, 'old-snapshot.sqlite');
  try {
    writeOldLayoutWithMaintenance(path);
    const copy = new Database(path);
    copy.prepare('VACUUM INTO ?').run(snapshotPath);
    copy.close();
    const migrated = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(migrated.openEvents, [{ kind: 'migrated', appliedIndex: 12, requestCount: 0 }]);
      assert.deepEqual(schemaNames(migrated), ['t']);
      assert.deepEqual(times(migrated), [
        ['optimize', 222],
        ['vacuum', 111],
      ]);
      migrated.apply(13, maintenance('vacuum', 333));
      assert.deepEqual(schemaNames(migrated), ['t']);
    } finally {
      migrated.close();
    }
    const reopened = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(times(reopened), [
        ['optimize', 222],
        ['vacuum', 333],
      ]);
    } finally {
      reopened.close();
    }
    const restoring = new SqliteStateMachine({ path: join(directory.path, 'other.sqlite') });
    try {
      await restoring.restore(snapshotPath);
      assert.equal(restoring.appliedIndex, 12);
      assert.deepEqual(schemaNames(restoring), ['t']);
      assert.deepEqual(times(restoring), [
        ['optimize', 222],
        ['vacuum', 111],
      ]);
    } finally {
      restoring.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('killed between the store commit and the database commit of a maintenance entry: its time is undone, and recorded once replayed', () => {
  const directory = temporaryDirectory('maintenance-crash-store');
  const path = join(directory.path, 'db.sqlite');
  try {
    crashChild(childScript, path, 'store-committed');
    assert.deepEqual(storeVersions(`${path}.internal`), [
      ['optimize', 3, 2000],
      ['vacuum', 2, 1000],
    ]);
    const machine = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(machine.openEvents, [{ kind: 'opened', undoneEntryCount: 1 }]);
      assert.equal(machine.appliedIndex, 2);
      assert.deepEqual(times(machine), [['vacuum', 1000]]);
      machine.apply(3, maintenance('optimize', 2000));
      assert.deepEqual(times(machine), [
        ['optimize', 2000],
        ['vacuum', 1000],
      ]);
    } finally {
      machine.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('killed after the database commit of a maintenance entry: its time is kept and the replay skips it', () => {
  const directory = temporaryDirectory('maintenance-crash-database');
  const path = join(directory.path, 'db.sqlite');
  try {
    crashChild(childScript, path, 'database-committed');
    const machine = new SqliteStateMachine({ path });
    try {
      assert.equal(machine.appliedIndex, 3);
      assert.equal(machine.apply(3, maintenance('optimize', 2000)).skipped, true);
      assert.deepEqual(times(machine), [
        ['optimize', 2000],
        ['vacuum', 1000],
      ]);
      assert.deepEqual(schemaNames(machine), ['t']);
    } finally {
      machine.close();
    }
  } finally {
    directory.cleanup();
  }
});
