import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStateMachine, applyBatchEntryCountMax } from '../../src/state-machine/state-machine.js';
import type { BatchEntry } from '../../src/state-machine/state-machine.js';
import type { ApplyOutcome } from '../../src/state-machine/types.js';
import { StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { SplitMix64 } from '../../src/state-machine/prng.js';
import { entry, temporaryDirectory } from './helpers.js';
import { workloadEntry } from './fixtures/workload.js';

const workloadCount = 300;

test('applyBatch gives the same results and checksum as applying one entry at a time', () => {
  const directory = temporaryDirectory('batch');
  const single = new SqliteStateMachine({ path: join(directory.path, 'single.sqlite') });
  const batched = new SqliteStateMachine({ path: join(directory.path, 'batched.sqlite') });
  try {
    const singleOutcomes: ApplyOutcome[] = [];
    for (let index = 1; index <= workloadCount; index++) singleOutcomes.push(single.apply(index, workloadEntry(index)));
    const batchedOutcomes: ApplyOutcome[] = [];
    const random = new SplitMix64(7n);
    let next = 1;
    while (next <= workloadCount) {
      const size = 1 + Number(random.next() % 40n);
      const batch: BatchEntry[] = [];
      for (let index = next; index < next + size && index <= workloadCount; index++) batch.push({ index, data: workloadEntry(index) });
      batchedOutcomes.push(...batched.applyBatch(batch));
      next += batch.length;
    }
    assert.deepEqual(batchedOutcomes, singleOutcomes);
    assert.equal(batched.appliedIndex, workloadCount);
    assert.deepEqual(batched.checksum(), single.checksum());
    const replay = batched.applyBatch([
      { index: workloadCount - 1, data: workloadEntry(workloadCount - 1) },
      { index: workloadCount, data: workloadEntry(workloadCount) },
    ]);
    assert.deepEqual(
      replay.map((outcome) => outcome.skipped),
      [true, true],
    );
  } finally {
    single.close();
    batched.close();
    directory.cleanup();
  }
});

test('an undecodable entry in a batch: the entries before it apply, then it halts with their outcomes', () => {
  const directory = temporaryDirectory('batch-bad');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const batch: BatchEntry[] = [
      { index: 1, data: entry(['CREATE TABLE t(v)']) },
      { index: 2, data: new Uint8Array(0) },
      { index: 3, data: entry(['INSERT INTO t VALUES (1)']) },
      { index: 4, data: Uint8Array.of(1, 2, 3) },
      { index: 5, data: entry(['INSERT INTO t VALUES (2)']) },
    ];
    assert.throws(
      () => machine.applyBatch(batch),
      (error: unknown) => {
        assert.ok(error instanceof StateMachineHaltedError);
        assert.equal(error.entryIndex, 4);
        assert.deepEqual(
          error.outcomesBefore.map((outcome) => outcome.entryIndex),
          [1, 2, 3],
        );
        assert.deepEqual(error.outcomesBefore[2]?.results, [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
        return true;
      },
    );
    assert.equal(machine.appliedIndex, 3);
    assert.equal(machine.healthy, false);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a legacy ON CONFLICT ROLLBACK schema ends the transaction deterministically, batched or not', () => {
  const directory = temporaryDirectory('legacy-rollback');
  try {
    const outcomes: ApplyOutcome[][] = [];
    const checksums: string[] = [];
    for (const mode of ['single', 'batched'] as const) {
      const path = join(directory.path, `${mode}.sqlite`);
      const legacy = new Database(path);
      legacy.exec('CREATE TABLE r(a UNIQUE ON CONFLICT ROLLBACK); CREATE TABLE other(v)');
      legacy.close();
      const machine = new SqliteStateMachine({ path });
      const entries: BatchEntry[] = [
        { index: 1, data: entry(['INSERT INTO other VALUES (1)', 'INSERT INTO r VALUES (1)']) },
        { index: 2, data: entry(['INSERT INTO other VALUES (2)', 'INSERT INTO r VALUES (1)', 'INSERT INTO other VALUES (3)']) },
        { index: 3, data: entry(['INSERT INTO other VALUES (4)', 'INSERT INTO r VALUES (1)', 'INSERT INTO other VALUES (5)'], { transaction: true }) },
      ];
      outcomes.push(mode === 'single' ? entries.map((item) => machine.apply(item.index, item.data)) : machine.applyBatch(entries));
      checksums.push(machine.checksum().checksum);
      assert.equal(machine.appliedIndex, 3);
      assert.deepEqual((machine.query([{ sql: 'SELECT v FROM other ORDER BY v', positional: [], named: {} }])[0] as { rows: unknown }).rows, [[1], [3]]);
      machine.close();
    }
    assert.deepEqual(outcomes[1], outcomes[0]);
    assert.equal(checksums[1], checksums[0]);
    const second = outcomes[0]?.[1]?.results;
    assert.ok(second !== undefined);
    assert.match((second[0] as { error: string }).error, /rolled back by statement 1's ROLLBACK/);
    assert.match((second[1] as { error: string }).error, /UNIQUE constraint failed/);
    assert.equal(second[2]?.kind, 'write');
  } finally {
    directory.cleanup();
  }
});

test('applyBatchEntryCountMax: a batch at the bound applies, one more entry is a programmer error', () => {
  const directory = temporaryDirectory('batch-bound');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const noops = (first: number, count: number): BatchEntry[] =>
      Array.from({ length: count }, (_, position) => ({ index: first + position, data: new Uint8Array(0) }));
    assert.throws(() => machine.applyBatch(noops(1, applyBatchEntryCountMax + 1)), /at most 10000 entries/);
    assert.equal(machine.appliedIndex, 0);
    assert.equal(machine.applyBatch(noops(1, applyBatchEntryCountMax)).length, applyBatchEntryCountMax);
    assert.equal(machine.appliedIndex, applyBatchEntryCountMax);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a deferred foreign key violation at COMMIT undoes the entry deterministically, batched or not', () => {
  const directory = temporaryDirectory('deferred');
  try {
    const outcomes: ApplyOutcome[][] = [];
    const checksums: string[] = [];
    for (const mode of ['single', 'batched'] as const) {
      const machine = new SqliteStateMachine({ path: join(directory.path, `${mode}.sqlite`), foreignKeys: true });
      const entries: BatchEntry[] = [
        { index: 1, data: entry(['CREATE TABLE parent(id INTEGER PRIMARY KEY)', 'CREATE TABLE child(p REFERENCES parent(id) DEFERRABLE INITIALLY DEFERRED)']) },
        { index: 2, data: entry(['INSERT INTO child VALUES (1)', 'INSERT INTO parent VALUES (1)']) },
        { index: 3, data: entry(['INSERT INTO parent VALUES (2)', 'INSERT INTO child VALUES (99)'], { requestId: 'deferred' }) },
        { index: 4, data: entry(['INSERT INTO parent VALUES (3)']) },
        { index: 5, data: entry(['INSERT INTO child VALUES (98)'], { requestId: 'deferred' }) },
      ];
      outcomes.push(mode === 'single' ? entries.map((item) => machine.apply(item.index, item.data)) : machine.applyBatch(entries));
      checksums.push(machine.checksum().checksum);
      assert.equal(machine.appliedIndex, 5);
      const parents = machine.query([{ sql: 'SELECT id FROM parent ORDER BY id', positional: [], named: {} }])[0];
      assert.deepEqual((parents as { rows: unknown }).rows, [[1], [3]], 'entry 3 was undone entirely');
      machine.close();
    }
    assert.deepEqual(outcomes[1], outcomes[0]);
    assert.equal(checksums[1], checksums[0]);
    const violated = outcomes[0]?.[2];
    assert.ok(violated !== undefined);
    assert.deepEqual(
      violated.results.map((result) => result.kind),
      ['error', 'error'],
    );
    assert.match((violated.results[0] as { error: string }).error, /deferred constraint failed at commit/);
    assert.equal(outcomes[0]?.[4]?.deduplicated, true, 'the violation was recorded for its request id');
  } finally {
    directory.cleanup();
  }
});

test('a failing transaction entry undoes exactly its own statements, alone (rollback and restart) or batched (savepoint)', () => {
  const directory = temporaryDirectory('transaction-failure');
  try {
    const outcomes: ApplyOutcome[][] = [];
    const checksums: string[] = [];
    for (const mode of ['single', 'batched'] as const) {
      const machine = new SqliteStateMachine({ path: join(directory.path, `${mode}.sqlite`) });
      // INSERT OR FAIL keeps the rows it wrote before the failing one: only the entry's rollback removes (2).
      const failing = entry(['INSERT INTO u(v) VALUES (1)', 'INSERT OR FAIL INTO u(v) VALUES (2), (5), (3)', 'INSERT INTO u(v) VALUES (4)'], {
        transaction: true,
        requestId: 'request-2',
      });
      const entries: BatchEntry[] = [
        { index: 1, data: entry(['CREATE TABLE u(id INTEGER PRIMARY KEY, v UNIQUE)', 'INSERT INTO u(v) VALUES (5)']) },
        { index: 2, data: failing },
        {
          index: 3,
          data: entry(['SELECT changes(), last_insert_rowid()', 'SELECT v FROM u ORDER BY v', 'INSERT INTO u(v) VALUES (6)'], { transaction: true }),
        },
        { index: 4, data: failing },
      ];
      outcomes.push(mode === 'single' ? entries.map((item) => machine.apply(item.index, item.data)) : machine.applyBatch(entries));
      checksums.push(machine.checksum().checksum);
      assert.equal(machine.appliedIndex, 4);
      assert.deepEqual((machine.query([{ sql: 'SELECT v FROM u ORDER BY v', positional: [], named: {} }])[0] as { rows: unknown }).rows, [[5], [6]]);
      machine.close();
    }
    assert.deepEqual(outcomes[1], outcomes[0]);
    assert.equal(checksums[1], checksums[0]);
    const [, failed, after, repeated] = outcomes[0] ?? [];
    assert.ok(failed !== undefined && after !== undefined);
    assert.deepEqual(
      failed.results.map((result) => result.kind),
      ['write', 'error'],
    );
    assert.match((failed.results[1] as { error: string }).error, /UNIQUE constraint failed/);
    assert.deepEqual((after.results[0] as { rows: unknown }).rows, [[1, 1]], 'the next entry starts from the applied-index write');
    assert.deepEqual((after.results[1] as { rows: unknown }).rows, [[5]]);
    assert.equal(repeated?.deduplicated, true, 'the failed request was recorded in the restarted transaction');
    assert.deepEqual(repeated?.results, failed?.results);
  } finally {
    directory.cleanup();
  }
});
