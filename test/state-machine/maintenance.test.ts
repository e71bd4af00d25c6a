/**
 * Maintenance entries (rqlited's -auto-vacuum-int and -auto-optimize-int, through the
 * log): every replica runs VACUUM or refreshes statistics at the same index and ends
 * identical, whatever its page layout (one applied every entry, one was restored from a
 * snapshot).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { decodeMaintenanceCommand, encodeMaintenanceCommand } from '../../src/state-machine/maintenance.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

const vacuumAt = (timestampMs: number): Uint8Array => encodeMaintenanceCommand({ kind: 'vacuum', timestampMs });
const optimizeAt = (timestampMs: number): Uint8Array => encodeMaintenanceCommand({ kind: 'optimize', timestampMs });

/** Entries that leave free pages behind: a table without INTEGER PRIMARY KEY (rowids VACUUM could renumber), rows, deletes. */
function churnEntries(): Uint8Array[] {
  const entries = [entry(['CREATE TABLE t (name TEXT, body TEXT)', 'CREATE INDEX t_name ON t(name)', 'CREATE TABLE u (id INTEGER PRIMARY KEY, v TEXT)'])];
  for (let batch = 0; batch < 20; batch += 1) {
    const rows = Array.from({ length: 50 }, (_, row) => statement('INSERT INTO t(name, body) VALUES (?, ?)', `n${batch}-${row}`, 'x'.repeat(200)));
    entries.push(entry(rows));
  }
  entries.push(entry(["DELETE FROM t WHERE name LIKE 'n1%' OR name LIKE 'n2%' OR name LIKE 'n3%'"]));
  return entries;
}

function applyAll(machine: SqliteStateMachine, entries: readonly Uint8Array[], firstIndex: number): number {
  let index = firstIndex;
  for (const data of entries) machine.apply(index++, data);
  return index;
}

function freePages(machine: SqliteStateMachine): number {
  const [result] = machine.query([statement('PRAGMA freelist_count')]);
  assert.ok(result?.kind === 'rows');
  return Number(result.rows[0]?.[0]);
}

function pageCount(machine: SqliteStateMachine): number {
  const [result] = machine.query([statement('PRAGMA page_count')]);
  assert.ok(result?.kind === 'rows');
  return Number(result.rows[0]?.[0]);
}

function rowsOf(machine: SqliteStateMachine, sql: string): unknown[] {
  const [result] = machine.query([statement(sql)]);
  assert.ok(result?.kind === 'rows', `${sql}: ${JSON.stringify(result)}`);
  return result.rows.map((row) => row.map(String));
}

describe('maintenance entries', () => {
  it('encode and decode; a bad version or kind halts the node rather than being skipped', () => {
    assert.deepEqual(decodeMaintenanceCommand(vacuumAt(1_700_000_000_000)), { kind: 'vacuum', timestampMs: 1_700_000_000_000 });
    assert.deepEqual(decodeMaintenanceCommand(optimizeAt(5)), { kind: 'optimize', timestampMs: 5 });
    const directory = temporaryDirectory('maintenance-bad');
    const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
    try {
      const wrongVersion = vacuumAt(1);
      wrongVersion[1] = 9;
      assert.throws(
        () => machine.apply(1, wrongVersion),
        (error: unknown) => error instanceof StateMachineHaltedError && /version 9/.test(error.message),
      );
    } finally {
      machine.close();
      directory.cleanup();
    }
  });

  it('VACUUM at the same index leaves a replica restored from a snapshot identical to one that applied everything', async () => {
    const directory = temporaryDirectory('maintenance-vacuum');
    const applied = new SqliteStateMachine({ path: join(directory.path, 'a.sqlite') });
    const restored = new SqliteStateMachine({ path: join(directory.path, 'b.sqlite') });
    try {
      let index = applyAll(applied, churnEntries(), 1);
      // The other replica takes a snapshot (a VACUUM INTO copy: another page layout), then both go on.
      await applied.snapshot(join(directory.path, 'snapshot.sqlite'));
      await restored.restore(join(directory.path, 'snapshot.sqlite'));
      assert.ok(freePages(applied) > 0, 'the deletes left free pages');
      const pagesBefore = pageCount(applied);
      for (const machine of [applied, restored]) {
        machine.apply(index, vacuumAt(1_700_000_100_000));
        machine.apply(index + 1, entry(["INSERT INTO t(name, body) VALUES ('after', 'vacuum')"]));
      }
      index += 2;
      assert.equal(freePages(applied), 0);
      assert.equal(freePages(restored), 0);
      assert.ok(pageCount(applied) < pagesBefore, 'the database shrank');
      assert.deepEqual(rowsOf(applied, 'SELECT rowid, name FROM t ORDER BY rowid'), rowsOf(restored, 'SELECT rowid, name FROM t ORDER BY rowid'));
      assert.equal(applied.checksum().checksum, restored.checksum().checksum);
      assert.deepEqual([...applied.maintenanceTimes()], [['vacuum', 1_700_000_100_000]]);
      assert.equal(applied.appliedIndex, index - 1);
    } finally {
      applied.close();
      restored.close();
      directory.cleanup();
    }
  });

  it('optimize analyzes indexed tables without statistics, again only after a 25-fold change, identically everywhere', async () => {
    const directory = temporaryDirectory('maintenance-optimize');
    const applied = new SqliteStateMachine({ path: join(directory.path, 'a.sqlite') });
    const restored = new SqliteStateMachine({ path: join(directory.path, 'b.sqlite') });
    try {
      let index = applyAll(applied, churnEntries(), 1);
      await applied.snapshot(join(directory.path, 'snapshot.sqlite'));
      await restored.restore(join(directory.path, 'snapshot.sqlite'));
      for (const machine of [applied, restored]) machine.apply(index, optimizeAt(10));
      index += 1;
      const statistics = rowsOf(applied, 'SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx');
      assert.ok(
        statistics.some((row) => (row as string[])[0] === 't' && (row as string[])[1] === 't_name'),
        JSON.stringify(statistics),
      );
      assert.ok(!statistics.some((row) => (row as string[])[0] === 'u'), 'u has no index: nothing to analyze');
      assert.deepEqual(rowsOf(restored, 'SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx'), statistics);
      // A small change: the statistics stay as they were.
      for (const machine of [applied, restored]) machine.apply(index, entry(["INSERT INTO t(name, body) VALUES ('one', 'more')"]));
      for (const machine of [applied, restored]) machine.apply(index + 1, optimizeAt(20));
      index += 2;
      assert.deepEqual(rowsOf(applied, 'SELECT tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx'), statistics);
      // 25 times the rows: analyzed again.
      const grow = Array.from({ length: 25 }, () => statement("INSERT INTO t(name, body) SELECT name || 'x', body FROM t WHERE rowid <= 700"));
      for (const machine of [applied, restored]) {
        machine.apply(index, entry(grow));
        machine.apply(index + 1, optimizeAt(30));
      }
      const refreshed = rowsOf(applied, "SELECT stat FROM sqlite_stat1 WHERE tbl = 't'");
      assert.notDeepEqual(
        refreshed,
        statistics.filter((row) => (row as string[])[0] === 't').map((row) => [(row as string[])[2]]),
      );
      assert.equal(applied.checksum().checksum, restored.checksum().checksum);
      assert.deepEqual(rowsOf(restored, "SELECT stat FROM sqlite_stat1 WHERE tbl = 't'"), refreshed);
      assert.deepEqual([...applied.maintenanceTimes()], [['optimize', 30]]);
    } finally {
      applied.close();
      restored.close();
      directory.cleanup();
    }
  });

  it('a maintenance entry inside a batch applies on its own, between the others', () => {
    const directory = temporaryDirectory('maintenance-batch');
    const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
    try {
      const outcomes = machine.applyBatch([
        { index: 1, data: entry(['CREATE TABLE k (v TEXT)']) },
        { index: 2, data: vacuumAt(7) },
        { index: 3, data: entry(["INSERT INTO k VALUES ('x')"]) },
        { index: 4, data: optimizeAt(8) },
      ]);
      assert.deepEqual(
        outcomes.map((outcome) => [outcome.entryIndex, outcome.results.length]),
        [
          [1, 1],
          [2, 0],
          [3, 1],
          [4, 0],
        ],
      );
      assert.equal(machine.appliedIndex, 4);
      // Replayed after a crash: skipped, not run twice.
      assert.equal(machine.apply(2, vacuumAt(7)).skipped, true);
      assert.deepEqual([...machine.maintenanceTimes()].sort(), [
        ['optimize', 8],
        ['vacuum', 7],
      ]);
    } finally {
      machine.close();
      directory.cleanup();
    }
  });
});
