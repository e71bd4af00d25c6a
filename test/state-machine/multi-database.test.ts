import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  databaseNameLengthMax,
  databaseNameProblem,
  decodeDatabaseEntry,
  encodeCatalogEntry,
  encodeTargetedEntry,
} from '../../src/state-machine/database-entries.js';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { applyStreamEntries } from '../../src/replica/entry-runs.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

function open(path: string, databaseCountMax = 64): MultiDatabaseMachine {
  return new MultiDatabaseMachine({ path: join(path, 'db.sqlite'), databaseCountMax });
}

function rows(results: readonly StatementResult[]): unknown {
  const first = results[0];
  assert.ok(first !== undefined && first.kind === 'rows', JSON.stringify(results));
  return first.rows;
}

function errorOf(results: readonly StatementResult[]): string {
  const first = results[0];
  assert.ok(first !== undefined && first.kind === 'error', JSON.stringify(results));
  return first.error;
}

/** The entries of a small history: create a and b, a table in each and in the default database, rows in each. */
function history(): Uint8Array[] {
  return [
    encodeCatalogEntry('create', 'a'),
    encodeCatalogEntry('create', 'b'),
    entry(['CREATE TABLE t(v)', "INSERT INTO t VALUES ('main')"]),
    encodeTargetedEntry('a', entry(['CREATE TABLE t(v)', "INSERT INTO t VALUES ('a')"])),
    encodeTargetedEntry('b', entry(['CREATE TABLE u(v)', "INSERT INTO u VALUES ('b')"])),
    encodeTargetedEntry('a', entry(["INSERT INTO t VALUES ('a2')"])),
  ];
}

function applyAll(machine: MultiDatabaseMachine, entries: readonly Uint8Array[], firstIndex = 1): void {
  entries.forEach((data, position) => {
    machine.apply(firstIndex + position, data);
  });
}

function contents(machine: MultiDatabaseMachine): Record<string, unknown> {
  const read = (database: string | undefined, sql: string): unknown => rows(machine.query([statement(sql)], { database }));
  return {
    main: read(undefined, 'SELECT v FROM t'),
    a: read('a', 'SELECT v FROM t ORDER BY rowid'),
    b: read('b', 'SELECT v FROM u'),
  };
}

const expected = { main: [['main']], a: [['a'], ['a2']], b: [['b']] };

test('names: the bound, one past it, and the characters', () => {
  assert.equal(databaseNameProblem('x'.repeat(databaseNameLengthMax)), undefined);
  assert.match(databaseNameProblem('x'.repeat(databaseNameLengthMax + 1)) ?? '', /longer than 64/);
  for (const bad of ['', '-a', '.a', 'a.b', 'a/b', 'é', 'a b']) assert.notEqual(databaseNameProblem(bad), undefined, bad);
  for (const good of ['a', '_a', '0', 'A-b_9']) assert.equal(databaseNameProblem(good), undefined, good);
  assert.throws(() => encodeCatalogEntry('create', '../x'), StateMachineError);
  assert.deepEqual(decodeDatabaseEntry(encodeCatalogEntry('drop', 'abc')), { kind: 'drop', name: 'abc' });
  const decoded = decodeDatabaseEntry(encodeTargetedEntry('abc', new Uint8Array([1, 2])));
  assert.deepEqual(decoded.kind === 'targeted' ? [...decoded.inner] : [], [1, 2]);
});

test('each database holds its own writes; the default one is what users had', () => {
  const directory = temporaryDirectory('multi');
  const machine = open(directory.path);
  try {
    applyAll(machine, history());
    assert.equal(machine.appliedIndex, 6);
    assert.deepEqual(contents(machine), expected);
    assert.deepEqual(machine.catalog.names(), ['main', 'a', 'b']);
    assert.ok(existsSync(join(directory.path, 'databases', 'a', 'db.sqlite')));
    // A table of one database is not in another.
    assert.match(errorOf(machine.query([statement('SELECT * FROM u')])), /no such table/);
    assert.throws(() => machine.query([statement('SELECT 1')], { database: 'nope' }), { code: 'NO_DATABASE', message: 'database "nope" does not exist' });
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('create, drop and unknown databases have defined answers', () => {
  const directory = temporaryDirectory('multi-answers');
  const machine = open(directory.path, 3);
  try {
    assert.deepEqual(machine.apply(1, encodeCatalogEntry('create', 'a')).results, []);
    assert.equal(errorOf(machine.apply(2, encodeCatalogEntry('create', 'a')).results), 'database "a" already exists');
    assert.equal(errorOf(machine.apply(3, encodeCatalogEntry('create', 'main')).results), 'database "main" already exists');
    assert.equal(errorOf(machine.apply(4, encodeCatalogEntry('drop', 'main')).results), 'the default database cannot be dropped');
    assert.equal(errorOf(machine.apply(5, encodeCatalogEntry('drop', 'zz')).results), 'database "zz" does not exist');
    assert.equal(errorOf(machine.apply(6, encodeTargetedEntry('zz', entry(['SELECT 1']))).results), 'database "zz" does not exist');
    // databaseCountMax 3: main, a and b; c is one past the bound.
    assert.deepEqual(machine.apply(7, encodeCatalogEntry('create', 'b')).results, []);
    assert.equal(errorOf(machine.apply(8, encodeCatalogEntry('create', 'c')).results), 'too many databases: at most 3');
    assert.deepEqual(machine.apply(9, encodeCatalogEntry('drop', 'b')).results, []);
    assert.deepEqual(machine.apply(10, encodeCatalogEntry('create', 'c')).results, []);
    assert.equal(machine.appliedIndex, 10);
    assert.deepEqual(machine.catalog.names(), ['main', 'a', 'c']);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a dropped and re-created database starts empty', () => {
  const directory = temporaryDirectory('multi-recreate');
  const machine = open(directory.path);
  try {
    applyAll(machine, history());
    applyAll(machine, [encodeCatalogEntry('drop', 'a'), encodeCatalogEntry('create', 'a')], 7);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM sqlite_schema')], { database: 'a' })), [[0]]);
    assert.deepEqual(rows(machine.query([statement('SELECT v FROM u')], { database: 'b' })), [['b']]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('idempotency keys are per database: the same key in two databases applies in each, once', () => {
  const directory = temporaryDirectory('multi-keys');
  const machine = open(directory.path);
  try {
    applyAll(machine, history());
    const insert = (name: string, value: string): Uint8Array =>
      encodeTargetedEntry(name, entry([statement('INSERT INTO t VALUES (?)', value)], { requestId: 'key-1' }));
    applyAll(machine, [entry([statement('INSERT INTO t VALUES (?)', 'k')], { requestId: 'key-1' }), insert('a', 'k'), insert('a', 'k-again')], 7);
    assert.equal(machine.apply(10, insert('a', 'k-third')).deduplicated, true);
    assert.deepEqual(rows(machine.query([statement("SELECT count(*) FROM t WHERE v LIKE 'k%'")], { database: 'a' })), [[1]]);
    assert.deepEqual(rows(machine.query([statement("SELECT count(*) FROM t WHERE v LIKE 'k%'")])), [[1]]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a batch mixing databases applies each entry once, in order, with one outcome each', () => {
  const directory = temporaryDirectory('multi-batch');
  const machine = open(directory.path);
  try {
    const outcomes = machine.applyBatch(history().map((data, position) => ({ index: position + 1, data })));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.entryIndex),
      [1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(contents(machine), expected);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('replay after a crash between the database commit and the default one applies nothing twice', () => {
  const directory = temporaryDirectory('multi-replay');
  const entries = history();
  let machine = open(directory.path);
  try {
    applyAll(machine, entries.slice(0, 5));
    // Entry 6 reached database a, then the process died before the default database committed it.
    const sixth = decodeDatabaseEntry(entries[5] as Uint8Array);
    machine.catalog.apply(6, sixth);
    machine.close();
    machine = open(directory.path);
    assert.equal(machine.appliedIndex, 5);
    // The node replays its log from the start (the worst case): every database skips what it has.
    applyAll(machine, entries);
    assert.equal(machine.appliedIndex, 6);
    assert.deepEqual(contents(machine), expected);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a create or drop a crash interrupted is finished or forgotten at open, never half there', () => {
  const directory = temporaryDirectory('multi-crash-files');
  let machine = open(directory.path);
  try {
    applyAll(machine, history());
    machine.close();
    // A create killed before its rename, and a drop killed after its rename.
    const databases = join(directory.path, 'databases');
    mkdirSync(join(databases, '.creating-c'));
    writeFileSync(join(databases, '.creating-c', 'db.sqlite'), 'half');
    mkdirSync(join(databases, '.dropping-d'));
    machine = open(directory.path);
    assert.ok(!existsSync(join(databases, '.creating-c')) && !existsSync(join(databases, '.dropping-d')));
    assert.deepEqual(machine.catalog.names(), ['main', 'a', 'b']);
    assert.deepEqual(machine.apply(7, encodeCatalogEntry('create', 'c')).results, []);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM sqlite_schema')], { database: 'c' })), [[0]]);
    // A drop whose default commit was lost: replayed, it is a drop of a database already gone.
    const drop = encodeCatalogEntry('drop', 'b');
    machine.catalog.apply(8, decodeDatabaseEntry(drop));
    machine.close();
    machine = open(directory.path);
    assert.equal(machine.appliedIndex, 7);
    machine.apply(8, drop);
    assert.deepEqual(machine.catalog.names(), ['main', 'a', 'c']);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a snapshot carries every database; restoring it replaces them all', async () => {
  const directory = temporaryDirectory('multi-snapshot');
  mkdirSync(join(directory.path, 'source'));
  mkdirSync(join(directory.path, 'target'));
  const source = open(join(directory.path, 'source'));
  const target = open(join(directory.path, 'target'));
  try {
    applyAll(source, history());
    applyAll(target, [encodeCatalogEntry('create', 'stale'), encodeCatalogEntry('create', 'a')]);
    // A capture (base, then a delta) as the node takes them, materialised as a follower receives it.
    const base = { dataPath: join(directory.path, 'base'), internalPath: join(directory.path, 'base.internal') };
    const first = await source.captureSnapshot(base, undefined);
    applyAll(source, [encodeTargetedEntry('b', entry(["INSERT INTO u VALUES ('b2')"])), entry(["INSERT INTO t VALUES ('main2')"])], 7);
    const delta = { dataPath: join(directory.path, 'delta'), internalPath: join(directory.path, 'delta.internal') };
    const second = await source.captureSnapshot(delta, first.proof);
    assert.equal(second.format, 'delta');
    const chain = { root: { dataPath: base.dataPath, index: 6 }, deltas: [{ dataPath: delta.dataPath, index: 8 }], internalPath: delta.internalPath };
    const file = join(directory.path, 'follower.db');
    assert.equal(await source.materialiseSnapshot(chain, file), 8);
    const restored = await target.restore(file);
    assert.equal(restored.appliedIndex, 8);
    assert.deepEqual(target.catalog.names(), ['main', 'a', 'b']);
    assert.deepEqual(contents(target), { ...expected, main: [['main'], ['main2']], b: [['b'], ['b2']] });
    assert.ok(!existsSync(join(directory.path, 'target', 'databases', 'stale')));
    // And the target goes on applying the log after the snapshot.
    target.apply(9, encodeTargetedEntry('a', entry(["INSERT INTO t VALUES ('a3')"])));
    assert.deepEqual(rows(target.query([statement('SELECT count(*) FROM t')], { database: 'a' })), [[3]]);
    // The full copy (lost-quorum recovery) carries them too.
    const full = join(directory.path, 'full.db');
    await source.snapshot(full);
    await target.restore(full);
    assert.deepEqual(contents(target), { ...expected, main: [['main'], ['main2']], b: [['b'], ['b2']] });
  } finally {
    source.close();
    target.close();
    directory.cleanup();
  }
});

test("an embedded replica follows the default database: other databases' entries are no-ops there", async () => {
  const directory = temporaryDirectory('multi-replica');
  const replica = new SqliteStateMachine({ path: join(directory.path, 'replica.sqlite') });
  try {
    await applyStreamEntries(
      replica,
      history().map((data, position) => ({ index: position + 1, data })),
    );
    assert.equal(replica.appliedIndex, 6);
    assert.deepEqual(rows(replica.query([statement('SELECT v FROM t')])), [['main']]);
  } finally {
    replica.close();
    directory.cleanup();
  }
});
