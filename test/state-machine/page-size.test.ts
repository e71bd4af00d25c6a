/**
 * serve -sqlite-page-size: a database (and internal store) the state machine creates takes
 * the page size; an existing database keeps its own; a restored snapshot carries the page
 * size it was written with; results do not depend on it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { internalStorePath } from '../../src/state-machine/database-layout.js';
import { pageSizeOf } from './database-file.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

function fill(machine: SqliteStateMachine): void {
  machine.apply(1, entry(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', 'CREATE INDEX t_v ON t (v)']));
  for (let index = 2; index <= 40; index++)
    machine.apply(index, entry([statement('INSERT INTO t (v) VALUES (?)', `value ${index} ${'x'.repeat(index * 40)}`)]));
}

function contents(machine: SqliteStateMachine): unknown {
  return machine.query([statement('SELECT id, v FROM t ORDER BY v')]);
}

test('a new database and its internal store take the page size; an existing one keeps its own; results are the same', () => {
  const directory = temporaryDirectory('page-size');
  try {
    const small = join(directory.path, 'small.sqlite');
    const usual = join(directory.path, 'usual.sqlite');
    const smallMachine = new SqliteStateMachine({ path: small, pageSize: 1024 });
    const usualMachine = new SqliteStateMachine({ path: usual });
    fill(smallMachine);
    fill(usualMachine);
    assert.deepEqual(contents(smallMachine), contents(usualMachine));
    smallMachine.close();
    usualMachine.close();
    assert.equal(pageSizeOf(small), 1024);
    assert.equal(pageSizeOf(internalStorePath(small)), 1024);
    assert.equal(pageSizeOf(usual), 4096);
    // Opened again with another page size: the file keeps its own, and its entries.
    const reopened = new SqliteStateMachine({ path: usual, pageSize: 512 });
    assert.equal(reopened.appliedIndex, 40);
    reopened.apply(41, entry([statement('INSERT INTO t (v) VALUES (?)', 'after')]));
    reopened.close();
    assert.equal(pageSizeOf(usual), 4096);
  } finally {
    directory.cleanup();
  }
});

test('a restored snapshot keeps the page size it was written with, whatever the restoring node creates', async () => {
  const directory = temporaryDirectory('page-size-snapshot');
  try {
    const source = new SqliteStateMachine({ path: join(directory.path, 'source.sqlite'), pageSize: 2048 });
    fill(source);
    const snapshotPath = join(directory.path, 'snapshot.db');
    await source.snapshot(snapshotPath);
    const targetPath = join(directory.path, 'target.sqlite');
    const target = new SqliteStateMachine({ path: targetPath, pageSize: 8192 });
    await target.restore(snapshotPath);
    assert.deepEqual(contents(target), contents(source));
    source.close();
    target.close();
    assert.equal(pageSizeOf(targetPath), 2048);
  } finally {
    directory.cleanup();
  }
});

test('a page size SQLite would ignore is refused at open, naming the bounds', () => {
  const directory = temporaryDirectory('page-size-bad');
  try {
    for (const pageSize of [256, 1000, 131_072]) {
      assert.throws(
        () => new SqliteStateMachine({ path: join(directory.path, `bad-${pageSize}.sqlite`), pageSize }),
        /page size .*: a power of two from 512 to 65536/,
      );
    }
  } finally {
    directory.cleanup();
  }
});
