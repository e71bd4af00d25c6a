import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { entry, statement, temporaryDirectory } from './helpers.js';
import { restoreKilledAfter, restoreSteps } from './restore-crash.js';

function fill(machine: SqliteStateMachine, fromIndex: number, toIndex: number, label: string): void {
  for (let index = fromIndex; index <= toIndex; index++) {
    // gaps has no INTEGER PRIMARY KEY and holes in its rowids: a snapshot must keep them.
    const statements = index === 1 ? ['CREATE TABLE t(id INTEGER PRIMARY KEY, v)', 'CREATE TABLE gaps(v)', 'CREATE INDEX gaps_v ON gaps(v)'] : [];
    machine.apply(
      index,
      entry(
        [
          ...statements,
          statement('INSERT INTO t(v) VALUES (?)', `${label}-${index}-${'p'.repeat(4000)}`),
          'INSERT INTO gaps VALUES (random()), (random())',
          statement('DELETE FROM gaps WHERE rowid = ?', index),
        ],
        { seed: BigInt(index) },
      ),
    );
  }
}

test('snapshot then restore reproduces the content and the applied index', async () => {
  const directory = temporaryDirectory('snapshot');
  const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite') });
  const target = new SqliteStateMachine({ path: join(directory.path, 'target.sqlite') });
  try {
    fill(source, 1, 20, 'source');
    fill(target, 1, 3, 'target');
    const snapshotPath = join(directory.path, 'snapshot.db');
    const info = await source.snapshot(snapshotPath);
    assert.equal(info.appliedIndex, 20);
    assert.ok(info.bytes > 20 * 4000);
    assert.equal(existsSync(`${snapshotPath}.partial`), false);
    const restoring = target.restore(snapshotPath);
    assert.throws(() => target.apply(4, entry(['SELECT 1'])), /no entries apply while a restore is in progress/);
    assert.equal(target.query([statement('SELECT count(*) FROM t')])[0]?.kind, 'rows', 'reads answer from the old database meanwhile');
    const restored = await restoring;
    assert.equal(restored.appliedIndex, 20);
    assert.equal(target.appliedIndex, 20);
    assert.equal(target.checksum().checksum, source.checksum().checksum);
    const rowids = 'SELECT group_concat(rowid) FROM (SELECT rowid FROM gaps ORDER BY rowid)';
    assert.deepEqual(target.query([statement(rowids)]), source.query([statement(rowids)]));
    fill(target, 21, 22, 'after');
    fill(source, 21, 22, 'after');
    assert.equal(target.checksum().checksum, source.checksum().checksum, 'both continue identically');
    assert.equal(target.appliedIndex, 22);
    assert.equal(existsSync(snapshotPath), true, 'restore leaves the snapshot file in place');
  } finally {
    source.close();
    target.close();
    directory.cleanup();
  }
});

test('entries applied while a snapshot is being copied end up in it, and its index says so', async () => {
  const directory = temporaryDirectory('snapshot-live');
  const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite') });
  const reference = new SqliteStateMachine({ path: join(directory.path, 'reference.sqlite') });
  const target = new SqliteStateMachine({ path: join(directory.path, 'target.sqlite') });
  try {
    fill(source, 1, 300, 'live');
    const snapshotPath = join(directory.path, 'snapshot.db');
    const snapshotting = source.snapshot(snapshotPath);
    let next = 301;
    for (let turn = 0; turn < 5; turn++) {
      await new Promise((resolve) => setImmediate(resolve));
      fill(source, next, next, 'live');
      next++;
    }
    const info = await snapshotting;
    assert.ok(info.appliedIndex >= 300 && info.appliedIndex < next, `index ${info.appliedIndex}`);
    fill(reference, 1, info.appliedIndex, 'live');
    await target.restore(snapshotPath);
    assert.equal(target.checksum().checksum, reference.checksum().checksum);
  } finally {
    source.close();
    reference.close();
    target.close();
    directory.cleanup();
  }
});

test('a file that is not a quorumlite snapshot is refused and the database is untouched', async () => {
  const directory = temporaryDirectory('bad-snapshot');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    fill(machine, 1, 2, 'keep');
    const before = machine.checksum();
    const garbage = join(directory.path, 'garbage.db');
    writeFileSync(garbage, Buffer.alloc(8192, 7));
    const plain = join(directory.path, 'plain.db');
    const plainDatabase = new Database(plain);
    plainDatabase.exec('CREATE TABLE x(a); INSERT INTO x VALUES (1)');
    plainDatabase.close();
    for (const path of [garbage, plain, join(directory.path, 'missing.db')]) {
      await assert.rejects(machine.restore(path), (error: unknown) => error instanceof StateMachineError && error.code === 'BAD_SNAPSHOT');
      assert.deepEqual(machine.checksum(), before);
      assert.equal(existsSync(join(directory.path, 'db.sqlite.restore')), false);
    }
    fill(machine, 3, 3, 'still works');
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a process killed at each step of restore leaves either the old or the new database', async () => {
  const directory = temporaryDirectory('restore-crash');
  try {
    const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite') });
    fill(source, 1, 9, 'new');
    const snapshotPath = join(directory.path, 'snapshot.db');
    await source.snapshot(snapshotPath);
    const newChecksum = source.checksum();
    source.close();
    const old = new SqliteStateMachine({ path: join(directory.path, 'old.sqlite') });
    fill(old, 1, 4, 'old');
    old.close();
    for (const step of restoreSteps) {
      const { path, oldChecksum } = restoreKilledAfter(directory.path, join(directory.path, 'old.sqlite'), snapshotPath, step);
      assert.equal(oldChecksum.appliedIndex, 5);
      const reopened = new SqliteStateMachine({ path });
      try {
        const after = reopened.checksum();
        const expectNew = step === 'renamed' || step === 'none';
        assert.deepEqual(
          { checksum: after.checksum, appliedIndex: after.appliedIndex },
          expectNew ? { checksum: newChecksum.checksum, appliedIndex: 9 } : oldChecksum,
          `killed after ${step}`,
        );
        assert.equal(reopened.appliedIndex, after.appliedIndex);
        assert.equal(existsSync(`${path}.restore`), false, 'the staging copy is cleaned up');
        assert.deepEqual(reopened.query([statement('PRAGMA integrity_check')])[0], {
          kind: 'rows',
          columns: ['integrity_check'],
          types: ['text'],
          rows: [['ok']],
        });
      } finally {
        reopened.close();
      }
    }
  } finally {
    directory.cleanup();
  }
});
