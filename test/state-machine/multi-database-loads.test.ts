/**
 * Loads of another database (`/db/load?db=`, `/boot?db=`) on the node's state machine: the
 * load's entries in the targeted envelope stage beside that database's file and the commit
 * swaps that database alone; the default database applies each index as a no-op; replay
 * after a crash between the two commits applies nothing twice; a snapshot waits while a
 * load of any database is staged; a load of a database that does not exist commits
 * nothing, with an error result, on every node alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { decodeDatabaseEntry, encodeCatalogEntry, encodeTargetedEntry } from '../../src/state-machine/database-entries.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { encodeLoadEntry, loadEntryKind } from '../../src/state-machine/load-entries.js';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { loadHistory, loadId, loadSource, targetedLoadEntries } from './fixtures/database-load-workload.js';
import { applyEntries, entry, statement, temporaryDirectory } from './helpers.js';

function open(path: string): MultiDatabaseMachine {
  mkdirSync(path, { recursive: true });
  return new MultiDatabaseMachine({ path: join(path, 'db.sqlite'), databaseCountMax: 8 });
}

function read(machine: MultiDatabaseMachine, database: string | undefined, sql: string): unknown {
  const [result] = machine.query([statement(sql)], { database });
  assert.ok(result !== undefined && result.kind === 'rows', JSON.stringify(result));
  return result.rows;
}

function tables(machine: MultiDatabaseMachine, database: string | undefined): unknown {
  return read(machine, database, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
}

test("a targeted load's entries are a load's (they apply apart), their commit alone", () => {
  const [chunk, commit] = targetedLoadEntries('a', Buffer.alloc(200, 1), 4096) as [Uint8Array, Uint8Array];
  assert.equal(loadEntryKind(chunk), 'chunk');
  assert.equal(loadEntryKind(commit), 'commit');
  assert.equal(loadEntryKind(encodeTargetedEntry('a', entry(['SELECT 1']))), undefined);
  assert.deepEqual(decodeDatabaseEntry(commit), { kind: 'targeted', name: 'a', inner: encodeLoadEntry({ kind: 'commit', loadId, totalBytes: 200 }) });
});

test('a load of database a replaces a alone, staged beside its file; main and b are untouched; idempotency keys of a survive it', async () => {
  const directory = temporaryDirectory('multi-load');
  const machine = open(directory.path);
  try {
    const bytes = loadSource(join(directory.path, 'source.db'), 200);
    const { entries, commitIndex } = loadHistory(bytes, 32 * 1024);
    const results = await applyEntries(machine, entries.slice(0, commitIndex - 1));
    assert.ok(
      results.flat().every((result) => result.kind !== 'error'),
      JSON.stringify(results),
    );
    const staged = machine.loads.openLoad;
    assert.equal(staged?.database, 'a');
    assert.equal(staged?.loadId, loadId);
    assert.ok(staged?.path.startsWith(join(directory.path, 'databases', 'a')), staged?.path);
    assert.equal(machine.loads.openLoadOf('a')?.loadId, loadId);
    assert.equal(machine.loads.openLoadOf(undefined), undefined);
    assert.deepEqual(tables(machine, 'a'), [['old']]);

    await applyEntries(machine, entries.slice(commitIndex - 1), commitIndex);
    assert.equal(machine.appliedIndex, entries.length);
    assert.equal(machine.database('a').appliedIndex, commitIndex + 1);
    assert.equal(machine.loads.openLoad, undefined);
    assert.deepEqual(tables(machine, 'a'), [['loaded']]);
    assert.deepEqual(read(machine, 'a', 'SELECT count(*) FROM loaded'), [[201]]);
    assert.deepEqual(read(machine, 'main', "SELECT count(*) FROM t WHERE v LIKE 'main%'"), read(machine, 'main', 'SELECT count(*) FROM t'));
    assert.deepEqual(tables(machine, 'b'), [['u']]);
    assert.deepEqual(read(machine, 'b', 'SELECT v FROM u ORDER BY rowid LIMIT 1'), [['b']]);
    assert.deepEqual(tables(machine, undefined), [['t']]);
    // The request `a` remembered before its load is still remembered: a retry applies nothing.
    const retried = machine.apply(
      entries.length + 1,
      encodeTargetedEntry('a', entry(["INSERT INTO loaded (payload) VALUES ('x')"], { requestId: 'client:a' })),
    );
    assert.equal(retried.results.length, 2, 'answered as the first time (two statements)');
    assert.deepEqual(read(machine, 'a', 'SELECT count(*) FROM loaded'), [[201]]);
    assert.deepEqual(
      readdirSync(join(directory.path, 'databases', 'a')).filter((file) => file.includes('.load-') && !file.endsWith('.discarded')),
      [],
    );
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a run mixing loads of two databases routes each entry to its own, in order', async () => {
  const directory = temporaryDirectory('multi-load-run');
  const machine = open(directory.path);
  try {
    const bytes = loadSource(join(directory.path, 'source.db'), 60);
    await applyEntries(machine, [encodeCatalogEntry('create', 'a')]);
    const other = 'ef'.repeat(16);
    const loadOfA = targetedLoadEntries('a', bytes, 16 * 1024);
    const chunksOfMain = targetedLoadEntries('a', bytes, 16 * 1024, other).map((data) => decodeDatabaseEntry(data));
    const mainChunk = chunksOfMain[0]?.kind === 'targeted' ? chunksOfMain[0].inner : new Uint8Array(0);
    const run = [...loadOfA.slice(0, -1), mainChunk].map((data, position) => ({ index: 2 + position, data }));
    const outcomes = await machine.loads.apply(run);
    assert.deepEqual(
      outcomes.map((outcome) => [outcome.entryIndex, outcome.results.length]),
      run.map((item) => [item.index, 0]),
    );
    assert.equal(machine.appliedIndex, 1 + run.length);
    assert.equal(machine.loads.openLoadOf(undefined)?.loadId, other);
    assert.equal(machine.loads.openLoadOf('a')?.loadId, loadId);
    // The same run again applies nothing (every index is at or below the applied one).
    assert.ok((await machine.loads.apply(run)).every((outcome) => outcome.skipped));
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('replay after a crash between the load commit in a and the default no-op applies the load once', async () => {
  const directory = temporaryDirectory('multi-load-replay');
  let machine = open(directory.path);
  try {
    const bytes = loadSource(join(directory.path, 'source.db'), 80);
    const { entries, commitIndex } = loadHistory(bytes, 32 * 1024);
    await applyEntries(machine, entries.slice(0, commitIndex - 1));
    // The commit reached database a, then the process died before the default database committed its index.
    const commit = decodeDatabaseEntry(entries[commitIndex - 1] as Uint8Array);
    assert.equal(commit.kind, 'targeted');
    if (commit.kind === 'targeted') await machine.database('a').loads.apply([{ index: commitIndex, data: commit.inner }]);
    machine.close();
    machine = open(directory.path);
    assert.equal(machine.appliedIndex, commitIndex - 1);
    assert.equal(machine.database('a').appliedIndex, commitIndex);
    // Replayed from the start (the worst case): every database skips what it has.
    const results = await applyEntries(machine, entries);
    assert.ok(
      results.flat().every((result) => result.kind !== 'error'),
      JSON.stringify(results),
    );
    assert.equal(machine.appliedIndex, entries.length);
    assert.deepEqual(read(machine, 'a', 'SELECT count(*) FROM loaded'), [[81]]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('no snapshot while a load of another database is staged; a load of a missing database commits nothing on every node alike', async () => {
  const directory = temporaryDirectory('multi-load-snapshot');
  const machines = [open(join(directory.path, 'one')), open(join(directory.path, 'two'))];
  try {
    const bytes = loadSource(join(directory.path, 'source.db'), 40);
    const load = targetedLoadEntries('a', bytes, 64 * 1024);
    for (const machine of machines) {
      const [created, ...missing] = await applyEntries(machine, [encodeCatalogEntry('create', 'b'), ...load]);
      assert.deepEqual(created, []);
      assert.deepEqual(missing.at(-1), [{ kind: 'error', error: 'database "a" does not exist' }]);
      assert.equal(machine.appliedIndex, 1 + load.length);
      await applyEntries(machine, [encodeCatalogEntry('create', 'a'), load[0] as Uint8Array], 2 + load.length);
      await assert.rejects(machine.snapshot(join(directory.path, `copy-${machine.appliedIndex}.db`)), (error: unknown) => {
        return error instanceof StateMachineError && error.code === 'LOAD_IN_PROGRESS';
      });
    }
    const [one, two] = machines as [MultiDatabaseMachine, MultiDatabaseMachine];
    assert.deepEqual(one.checksum(), two.checksum());
  } finally {
    for (const machine of machines) machine.close();
    directory.cleanup();
  }
});

test('/boot of another database: a file adopted as its open load, then committed by one entry', async () => {
  const directory = temporaryDirectory('multi-boot');
  const machine = open(directory.path);
  try {
    const bytes = loadSource(join(directory.path, 'source.db'), 30);
    await applyEntries(machine, [encodeCatalogEntry('create', 'a'), entry(['CREATE TABLE t(v)'])]);
    const bootPath = join(directory.path, 'boot.db');
    writeFileSync(bootPath, bytes);
    machine.loads.adopt(bootPath, loadId, machine.appliedIndex, 'a');
    assert.equal(machine.loads.openLoad?.database, 'a');
    await applyEntries(machine, [encodeTargetedEntry('a', encodeLoadEntry({ kind: 'commit', loadId, totalBytes: bytes.length }))], 3);
    assert.deepEqual(read(machine, 'a', 'SELECT count(*) FROM loaded'), [[30]]);
    assert.deepEqual(tables(machine, undefined), [['t']]);
    assert.equal(machine.loads.openLoad, undefined);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
