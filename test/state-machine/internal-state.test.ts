/**
 * quorumlite's own state lives beside the user's database, not in it: what users see of
 * the schema, what they may drop, dumps and backups hold only their objects; exactly-once
 * still holds across a crash between the two commits and between applying and answering;
 * a data directory from the old layout (internal tables inside the database) is migrated.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { durableSyncEntryCountMax, indexesFromMarker, markerFor, storeCommitEntryCountMax } from '../../src/state-machine/applied-marker.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { encodeResults } from '../../src/state-machine/result-codec.js';
import { applyBatchEntryCountMax, SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';
import { crashChild, rows, schemaNames, writeOldLayout } from './internal-layout.js';

const childScript = new URL('./fixtures/commit-crash-child.ts', import.meta.url).pathname;

test('the marker holds the applied index (resolved near any reference within 2^17) and the distance to the store commit', () => {
  for (const index of [0, 1, 2 ** 17 - 1, 2 ** 17, 2 ** 18 - 1, 2 ** 18, 2 ** 18 + 5, 2 ** 32 + 7, 2 ** 52 + 3]) {
    for (const distance of [0, 1, storeCommitEntryCountMax - 1]) {
      if (distance > index) continue;
      const marker = markerFor(index, index - distance);
      assert.ok(marker >= 0 && marker < 2 ** 31, `${index}: a non-negative signed 32-bit header field`);
      for (const offset of [0, 1, -1, 10_000, -10_000, 2 ** 16, -(2 ** 16), 2 ** 17, -(2 ** 17 - 1)]) {
        const reference = index + offset;
        if (reference < 0) continue;
        assert.deepEqual(
          indexesFromMarker(marker, reference),
          { appliedIndex: index, storeIndex: index - distance },
          `index ${index} from reference ${reference}`,
        );
      }
    }
  }
  assert.throws(() => markerFor(5000, 5000 - storeCommitEntryCountMax), /the store committed within/);
  // The bound the forced fsyncs keep: each file within a sync interval, a batch and the store's spacing.
  assert.ok(durableSyncEntryCountMax + applyBatchEntryCountMax + storeCommitEntryCountMax < 2 ** 17);
});

test('users see, drop, dump and back up only their own objects', async () => {
  const directory = temporaryDirectory('invisible');
  const path = join(directory.path, 'db.sqlite');
  const machine = new SqliteStateMachine({ path });
  try {
    machine.apply(1, entry(['CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, v)', 'CREATE INDEX a_v ON a(v)', 'CREATE VIEW a_view AS SELECT v FROM a']));
    machine.apply(2, entry(['INSERT INTO a(v) VALUES (1)'], { requestId: 'client:1' }));
    assert.deepEqual(schemaNames(machine), ['a', 'a_v', 'a_view', 'sqlite_sequence']);
    const applyNames = machine.apply(3, entry(['SELECT name FROM sqlite_schema ORDER BY name'])).results[0];
    assert.deepEqual(rows(applyNames), [['a'], ['a_v'], ['a_view'], ['sqlite_sequence']], 'the apply connection sees the same');
    assert.doesNotMatch(machine.dump(), /_quorumlite_/);
    const backupPath = join(directory.path, 'backup.sqlite');
    await machine.backup(backupPath);
    const backup = new Database(backupPath, { readonly: true });
    assert.deepEqual(backup.prepare('SELECT name FROM sqlite_master ORDER BY name').pluck().all(), ['a', 'a_v', 'a_view', 'sqlite_sequence']);
    assert.equal(backup.pragma('application_id', { simple: true }), 0, 'no marker in a backup');
    assert.equal(backup.pragma('journal_mode', { simple: true }), 'delete');
    backup.close();
    // A common test teardown: drop everything listed.
    const listed = rows(machine.query([statement("SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY type DESC")])[0]);
    const drops = listed.map(([type, name]) => `DROP ${String(type).toUpperCase()} IF EXISTS "${String(name)}"`);
    const dropped = machine.apply(4, entry(drops));
    assert.deepEqual(
      dropped.results.map((result) => result.kind),
      drops.map(() => 'empty'),
      JSON.stringify(dropped.results),
    );
    assert.deepEqual(schemaNames(machine), ['sqlite_sequence']);
    assert.equal(machine.apply(5, entry(['INSERT INTO a(v) VALUES (1)'], { requestId: 'client:1' })).deduplicated, true, 'dedup state survived');
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('application_id is quorumlite’s: writes can neither set nor read it, queries read the marker; user_version stays the user’s', () => {
  const directory = temporaryDirectory('marker');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const outcomes = machine.applyBatch([
      { index: 1, data: entry(['PRAGMA application_id', 'PRAGMA application_id = 9', 'SELECT * FROM pragma_application_id']) },
      { index: 2, data: new Uint8Array(0) },
      { index: 3, data: entry(['PRAGMA user_version = 9', 'PRAGMA user_version']) },
    ]);
    for (const result of outcomes[0]?.results ?? []) assert.match((result as { error: string }).error, /application_id holds quorumlite's applied index/);
    assert.deepEqual(rows(outcomes[2]?.results[1]), [[9]]);
    assert.deepEqual(rows(machine.query([statement('PRAGMA application_id')])[0]), [[markerFor(3, 0)]]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

/** The old layout with one user row, applied index 7 and one recorded request. */
function writeOldLayoutFixture(path: string): void {
  const old = writeOldLayout(
    path,
    `CREATE TABLE t(id INTEGER PRIMARY KEY, v);
    INSERT INTO t(v) VALUES ('from the old layout');
    INSERT INTO _quorumlite_state VALUES (1, 7);`,
  );
  const stored = encodeResults([{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
  old.prepare('INSERT INTO _quorumlite_requests VALUES (?, ?, ?, ?)').run('client:old', 1, 1_700_000_000_000, stored);
  old.close();
}

test('a data directory from the old layout is migrated at open: index, data and dedup state kept, tables gone', () => {
  const directory = temporaryDirectory('migrate');
  const path = join(directory.path, 'db.sqlite');
  try {
    writeOldLayoutFixture(path);
    // A stale store from an interrupted earlier migration must not win over the old tables.
    const stale = new SqliteStateMachine({ path: join(directory.path, 'other.sqlite') });
    stale.apply(1, entry(['CREATE TABLE x(a)'], { requestId: 'client:stale' }));
    stale.close();
    copyFileSync(join(directory.path, 'other.sqlite.internal'), `${path}.internal`);
    const machine = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(machine.openEvents, [{ kind: 'migrated', appliedIndex: 7, requestCount: 1 }]);
      assert.equal(machine.appliedIndex, 7);
      assert.equal(machine.checksum().appliedIndex, 7);
      assert.deepEqual(schemaNames(machine), ['t']);
      assert.deepEqual(rows(machine.query([statement('SELECT v FROM t')])[0]), [['from the old layout']]);
      const retried = machine.apply(8, entry(["INSERT INTO t(v) VALUES ('again')"], { requestId: 'client:old', timestampMs: 1_700_000_001_000 }));
      assert.equal(retried.deduplicated, true);
      assert.deepEqual(retried.results, [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
      assert.equal(machine.apply(9, entry(['SELECT 1'], { requestId: 'client:stale' })).deduplicated, false, 'the stale store was replaced');
    } finally {
      machine.close();
    }
    const reopened = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(reopened.openEvents, [{ kind: 'opened', undoneEntryCount: 0 }]);
      assert.equal(reopened.appliedIndex, 9);
    } finally {
      reopened.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('killed between the store commit and the database commit: the store is brought back, the entry applies once', () => {
  const directory = temporaryDirectory('commit-crash-store');
  const path = join(directory.path, 'db.sqlite');
  try {
    crashChild(childScript, path, 'store-committed');
    const machine = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(machine.openEvents, [{ kind: 'opened', undoneEntryCount: 1 }]);
      assert.equal(machine.appliedIndex, 1);
      assert.equal(machine.rememberedRequestCount(), 0, "the uncommitted entry's request record was undone");
      const replayed = machine.apply(
        2,
        entry(["INSERT INTO t(v) VALUES ('once')"], { requestId: 'client:retry-me', timestampMs: 1_700_000_000_000, seed: 5n }),
      );
      assert.equal(replayed.deduplicated, false);
      const retried = machine.apply(3, entry(["INSERT INTO t(v) VALUES ('once')"], { requestId: 'client:retry-me' }));
      assert.equal(retried.deduplicated, true);
      assert.deepEqual(retried.results, replayed.results);
      assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[1]]);
    } finally {
      machine.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('killed after applying, before answering: replay skips the entry and the client retry is deduplicated', () => {
  const directory = temporaryDirectory('commit-crash-database');
  const path = join(directory.path, 'db.sqlite');
  try {
    crashChild(childScript, path, 'database-committed');
    const machine = new SqliteStateMachine({ path });
    try {
      assert.equal(machine.appliedIndex, 2);
      assert.equal(machine.apply(2, entry(["INSERT INTO t(v) VALUES ('once')"], { requestId: 'client:retry-me' })).skipped, true);
      const retried = machine.apply(3, entry(["INSERT INTO t(v) VALUES ('once')"], { requestId: 'client:retry-me' }));
      assert.equal(retried.deduplicated, true);
      assert.deepEqual(retried.results, [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
      assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[1]]);
    } finally {
      machine.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('a store that lost commits the database kept (power loss) is detected: the pair starts over at 0', () => {
  const directory = temporaryDirectory('power-loss');
  const path = join(directory.path, 'db.sqlite');
  try {
    const machine = new SqliteStateMachine({ path });
    machine.apply(1, entry(['CREATE TABLE t(v)']));
    machine.close();
    copyFileSync(`${path}.internal`, join(directory.path, 'store-at-1'));
    const later = new SqliteStateMachine({ path });
    later.apply(2, entry(["INSERT INTO t VALUES ('x')"], { requestId: 'client:lost' }));
    later.apply(3, entry(["INSERT INTO t VALUES ('y')"]));
    later.close();
    copyFileSync(join(directory.path, 'store-at-1'), `${path}.internal`);
    const reopened = new SqliteStateMachine({ path });
    try {
      assert.deepEqual(reopened.openEvents, [
        { kind: 'reset', reason: 'the database is at index 3 and saw the internal state at 2; the internal state is at 0 (history from 0)' },
      ]);
      assert.equal(reopened.appliedIndex, 0);
      assert.deepEqual(schemaNames(reopened), [], 'rebuilt from the log from scratch, not trusted');
    } finally {
      reopened.close();
    }
  } finally {
    directory.cleanup();
  }
});

test('a database quorumlite wrote, without its internal store, is refused rather than reused', () => {
  const directory = temporaryDirectory('store-missing');
  const path = join(directory.path, 'db.sqlite');
  try {
    const machine = new SqliteStateMachine({ path });
    machine.apply(1, entry(['CREATE TABLE t(v)']));
    machine.close();
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${path}.internal${suffix}`, { force: true });
    assert.throws(
      () => new SqliteStateMachine({ path }),
      (error: unknown) =>
        error instanceof StateMachineError && error.code === 'INTERNAL_STATE_MISSING' && /db\.sqlite\.internal is missing/.test(error.message),
    );
  } finally {
    directory.cleanup();
  }
});

test('a snapshot taken while entries expire requests holds the dedup state of exactly its own index', async () => {
  const directory = temporaryDirectory('snapshot-pin');
  const bounds = { dedupRequestCountMax: 3, dedupWindowMs: 60_000 };
  const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite'), ...bounds });
  const reference = new SqliteStateMachine({ path: join(directory.path, 'reference.sqlite'), ...bounds });
  const entries = Array.from({ length: 40 }, (_, position) =>
    position === 0
      ? entry(['CREATE TABLE t(v)'])
      : entry([statement('INSERT INTO t VALUES (?)', position)], { requestId: `client:${position}`, timestampMs: 1_700_000_000_000 + position }),
  );
  try {
    for (let index = 1; index <= 20; index++) source.apply(index, entries[index - 1] as Uint8Array);
    const snapshotPath = join(directory.path, 'snapshot.db');
    const taking = source.snapshot(snapshotPath);
    // Entries keep applying (and expiring requests) while the worker copies.
    for (let index = 21; index <= 40; index++) source.apply(index, entries[index - 1] as Uint8Array);
    const { appliedIndex } = await taking;
    for (let index = 1; index <= appliedIndex; index++) reference.apply(index, entries[index - 1] as Uint8Array);
    const restored = new SqliteStateMachine({ path: join(directory.path, 'restored.sqlite'), ...bounds });
    try {
      await restored.restore(snapshotPath);
      assert.deepEqual(schemaNames(restored), ['t']);
      assert.equal(restored.rememberedRequestCount(), reference.rememberedRequestCount());
      for (let position = 1; position < appliedIndex; position++) {
        const probe = entry(['SELECT 1'], { requestId: `client:${position}`, timestampMs: 1_700_000_000_100 });
        const index = restored.appliedIndex + 1;
        assert.equal(restored.apply(index, probe).deduplicated, reference.apply(index, probe).deduplicated, `client:${position}`);
      }
    } finally {
      restored.close();
    }
  } finally {
    source.close();
    reference.close();
    directory.cleanup();
  }
});
