/**
 * Loads through the log, on the state machine alone: chunk entries stage a file beside
 * the database, durably and idempotently; a commit swaps it in at its index (through
 * restore), keeping the dedup table; an abort drops it; a commit of an incomplete load
 * commits nothing, the same on every machine; a reopened machine finds its staged load
 * (or cleans what its log will write again); no snapshot is taken while a load is staged.
 * And a SQL dump run by SQLite on a copy, with the dump's framing dropped.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { encodeLoadEntry, isLoadEntry, decodeLoadEntry } from '../../src/state-machine/load-entries.js';
import { patchedHeader } from '../../src/state-machine/sqlite-header.js';
import { runSqlDump, NotSqlText } from '../../src/state-machine/sql-load.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { checkLoadableDatabase, copyDatabase } from '../../src/state-machine/transfer-worker.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { applyEntries, entry, statement, temporaryDirectory } from './helpers.js';

const loadId = 'ab'.repeat(16);

function rows(result: StatementResult | undefined): unknown[][] {
  assert.equal(result?.kind, 'rows', JSON.stringify(result));
  return result.rows as unknown[][];
}

/** A SQLite file with one table `loaded` of `rowCount` rows, its header as the leader sends it. */
function sourceDatabase(path: string, rowCount: number): Buffer {
  const database = new Database(path);
  database.exec('CREATE TABLE loaded (id INTEGER PRIMARY KEY, payload BLOB)');
  const insert = database.prepare('INSERT INTO loaded (payload) VALUES (randomblob(1000))');
  database.transaction(() => {
    for (let row = 0; row < rowCount; row += 1) insert.run();
  })();
  database.pragma('application_id = 77');
  database.close();
  const bytes = readFileSync(path);
  return Buffer.concat([patchedHeader(bytes.subarray(0, 100), 'rollback'), bytes.subarray(100)]);
}

/** The load entries of `bytes` in chunks of `chunkBytes`, then its commit. */
function loadEntries(bytes: Buffer, chunkBytes: number): Uint8Array[] {
  const entries: Uint8Array[] = [];
  for (let offset = 0; offset < bytes.length; offset += chunkBytes) {
    entries.push(encodeLoadEntry({ kind: 'chunk', loadId, offset, data: bytes.subarray(offset, offset + chunkBytes) }));
  }
  entries.push(encodeLoadEntry({ kind: 'commit', loadId, totalBytes: bytes.length }));
  return entries;
}

function stagedFiles(directory: string): string[] {
  return readdirSync(directory).filter((name) => name.includes('.load-') && !name.endsWith('.discarded'));
}

test('load entries encode and decode, and are told apart from commands', () => {
  const chunk = encodeLoadEntry({ kind: 'chunk', loadId, offset: 5, data: Uint8Array.of(1, 2, 3) });
  assert.deepEqual(decodeLoadEntry(chunk), { kind: 'chunk', loadId, offset: 5, data: Uint8Array.of(1, 2, 3) });
  assert.deepEqual(decodeLoadEntry(encodeLoadEntry({ kind: 'commit', loadId, totalBytes: 9 })), { kind: 'commit', loadId, totalBytes: 9 });
  assert.deepEqual(decodeLoadEntry(encodeLoadEntry({ kind: 'abort', loadId })), { kind: 'abort', loadId });
  assert.equal(isLoadEntry(chunk), true);
  assert.equal(isLoadEntry(entry(['SELECT 1'])), false);
  assert.throws(() => decodeLoadEntry(Uint8Array.of(0x4c, 9)), StateMachineError);
});

test('chunks stage the file, the commit swaps it in at its index on every machine alike, keeping the dedup table', async () => {
  const directory = temporaryDirectory('load-commit');
  const machines = [1, 2].map((n) => new SqliteStateMachine({ path: join(directory.path, `db${n}.sqlite`) }));
  try {
    const bytes = sourceDatabase(join(directory.path, 'source.db'), 300);
    const prelude = [entry(['CREATE TABLE old (v)', "INSERT INTO old VALUES ('x')"]), entry(['INSERT INTO old VALUES (2)'], { requestId: 'client:1' })];
    const entries = [...prelude, ...loadEntries(bytes, 64 * 1024)];
    for (const machine of machines) {
      const results = await applyEntries(machine, entries, 1);
      assert.ok(
        results.every((list) => list.every((result) => result.kind !== 'error')),
        JSON.stringify(results),
      );
      assert.equal(machine.appliedIndex, entries.length);
      assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM loaded')])[0]), [[300]]);
      assert.deepEqual(rows(machine.query([statement("SELECT name FROM sqlite_master WHERE type = 'table'")])[0]), [['loaded']]);
      assert.equal(machine.loads.openLoad, undefined);
      // The request recorded before the load is still remembered: its retry applies nothing.
      const retried = machine.apply(entries.length + 1, entry(['INSERT INTO loaded (payload) VALUES (1)'], { requestId: 'client:1' }));
      assert.equal(retried.deduplicated, true);
    }
    const [first, second] = machines as [SqliteStateMachine, SqliteStateMachine];
    assert.deepEqual(first.checksum(), second.checksum());
    assert.deepEqual(stagedFiles(directory.path), []);
  } finally {
    for (const machine of machines) machine.close();
    directory.cleanup();
  }
});

test('a run of chunks applies together: their bytes fsynced once, their indexes committed in one transaction', async () => {
  const directory = temporaryDirectory('load-run');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const bytes = sourceDatabase(join(directory.path, 'source.db'), 120);
    const entries = loadEntries(bytes, 16 * 1024);
    const chunks = entries.slice(0, -1).map((data, position) => ({ index: position + 1, data }));
    const outcomes = await machine.loads.apply(chunks);
    assert.deepEqual(
      outcomes.map((outcome) => [outcome.entryIndex, outcome.results.length, outcome.skipped]),
      chunks.map((chunk) => [chunk.index, 0, false]),
    );
    assert.equal(machine.appliedIndex, chunks.length);
    // The same run again: every entry is at or below the applied index, nothing runs.
    assert.ok((await machine.loads.apply(chunks)).every((outcome) => outcome.skipped));
    await machine.loads.apply([{ index: entries.length, data: entries.at(-1) as Uint8Array }]);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM loaded')])[0]), [[120]]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('an abort drops the staged file; a commit of an aborted or incomplete load commits nothing, with an error result', async () => {
  const directory = temporaryDirectory('load-abort');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const bytes = sourceDatabase(join(directory.path, 'source.db'), 50);
    await applyEntries(machine, [entry(['CREATE TABLE kept (v)'])], 1);
    const [firstChunk] = loadEntries(bytes, 8192);
    await applyEntries(machine, [firstChunk as Uint8Array], 2);
    assert.equal(machine.loads.openLoad?.loadId, loadId);
    assert.equal(stagedFiles(directory.path).length, 1);
    const incomplete = await applyEntries(machine, [encodeLoadEntry({ kind: 'commit', loadId, totalBytes: bytes.length })], 3);
    assert.match(JSON.stringify(incomplete), /staged 8192 of \d+ bytes/);
    assert.equal(machine.appliedIndex, 3, 'the failed commit still moves the applied index');
    const aborted = await applyEntries(machine, [encodeLoadEntry({ kind: 'abort', loadId })], 4);
    assert.deepEqual(aborted, [[]]);
    assert.deepEqual(stagedFiles(directory.path), []);
    const late = await applyEntries(machine, [encodeLoadEntry({ kind: 'chunk', loadId, offset: 8192, data: bytes.subarray(8192, 9000) })], 5);
    assert.match(JSON.stringify(late), /is not in progress/);
    assert.deepEqual(rows(machine.query([statement("SELECT name FROM sqlite_master WHERE type = 'table'")])[0]), [['kept']]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a chunk applied again after a crash writes the same bytes; a reopened machine keeps its open load and drops what its log rewrites', async () => {
  const directory = temporaryDirectory('load-reopen');
  const path = join(directory.path, 'db.sqlite');
  const bytes = sourceDatabase(join(directory.path, 'source.db'), 100);
  const entries = loadEntries(bytes, 16 * 1024);
  let machine = new SqliteStateMachine({ path });
  try {
    await applyEntries(machine, entries.slice(0, 3), 1);
    machine.close();
    // A crash after chunk 4's bytes were staged but before its index committed: the file is ahead of the database.
    const staged = join(directory.path, stagedFiles(directory.path)[0] as string);
    const fourth = decodeLoadEntry(entries[3] as Uint8Array);
    assert.equal(fourth.kind, 'chunk');
    writeFileSync(staged, Buffer.concat([readFileSync(staged), fourth.kind === 'chunk' ? Buffer.from(fourth.data) : Buffer.alloc(0)]));
    // And a load staged above the applied index (its first chunk never committed): removed at open.
    writeFileSync(join(directory.path, `db.sqlite.load-${'9'.padStart(20, '0')}-${'cd'.repeat(16)}`), 'stale');
    machine = new SqliteStateMachine({ path });
    assert.equal(machine.loads.openLoad?.loadId, loadId);
    assert.equal(stagedFiles(directory.path).length, 1);
    await applyEntries(machine, entries.slice(3), 4);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM loaded')])[0]), [[100]]);
    assert.deepEqual(stagedFiles(directory.path), []);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a commit interrupted after its rename replays on the renamed file; one that finished leaves its leftover removed at open', async () => {
  const directory = temporaryDirectory('load-commit-crash');
  const path = join(directory.path, 'db.sqlite');
  const bytes = sourceDatabase(join(directory.path, 'source.db'), 40);
  const entries = loadEntries(bytes, 1 << 20);
  let machine = new SqliteStateMachine({ path });
  try {
    await applyEntries(machine, entries.slice(0, -1), 1);
    const staged = join(directory.path, stagedFiles(directory.path)[0] as string);
    machine.close();
    // The commit renamed the file and died before the swap.
    const renamed = `${staged}.commit-${String(entries.length).padStart(20, '0')}`;
    renameSync(staged, renamed);
    machine = new SqliteStateMachine({ path });
    assert.equal(machine.loads.openLoad?.commitIndex, entries.length, 'the newest staged file is the renamed one');
    await applyEntries(machine, entries.slice(-1), entries.length);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM loaded')])[0]), [[40]]);
    machine.close();
    // A leftover renamed file at or below the applied index is the past: removed at open.
    writeFileSync(renamed, 'leftover');
    machine = new SqliteStateMachine({ path });
    assert.equal(machine.loads.openLoad, undefined);
    assert.equal(existsSync(renamed), false);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('no snapshot while a load is staged, nor one whose copy overlapped a load', async () => {
  const directory = temporaryDirectory('load-snapshot');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const bytes = sourceDatabase(join(directory.path, 'source.db'), 20);
    await applyEntries(machine, [entry(['CREATE TABLE t (v)'])], 1);
    const entries = loadEntries(bytes, 4096);
    await applyEntries(machine, entries.slice(0, 1), 2);
    await assert.rejects(
      machine.snapshot(join(directory.path, 'snap1')),
      (error: unknown) => error instanceof StateMachineError && error.code === 'LOAD_IN_PROGRESS',
    );
    await applyEntries(machine, entries.slice(1), 3);
    const taken = await machine.snapshot(join(directory.path, 'snap2'));
    assert.equal(taken.appliedIndex, 1 + entries.length);
    // A load that begins while the copy is made: the copy is refused.
    const copying = machine.snapshot(join(directory.path, 'snap3'));
    await applyEntries(machine, loadEntries(bytes, bytes.length).slice(0, 1), 2 + entries.length);
    await assert.rejects(copying, (error: unknown) => error instanceof StateMachineError && error.code === 'LOAD_IN_PROGRESS');
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a loadable file passes the check; a damaged, truncated or reserved one is refused', async () => {
  const directory = temporaryDirectory('load-check');
  try {
    const good = join(directory.path, 'good.db');
    const bytes = sourceDatabase(good, 200);
    await checkLoadableDatabase(good, []);
    const damaged = join(directory.path, 'damaged.db');
    writeFileSync(damaged, Buffer.concat([bytes.subarray(0, 20_000), Buffer.alloc(8192, 0x41), bytes.subarray(28_192)]));
    await assert.rejects(checkLoadableDatabase(damaged, []), /damaged|malformed/);
    const truncated = join(directory.path, 'truncated.db');
    writeFileSync(truncated, bytes.subarray(0, 50_000));
    await assert.rejects(checkLoadableDatabase(truncated, []), /malformed|damaged/);
    const reserved = join(directory.path, 'reserved.db');
    const database = new Database(reserved);
    database.exec('CREATE TABLE _QUORUMLITE_state (v)');
    database.close();
    await assert.rejects(checkLoadableDatabase(reserved, []), /reserves/);
  } finally {
    directory.cleanup();
  }
});

test('a SQL dump runs on a copy in one transaction, its framing dropped; a failing statement or a ROLLBACK leaves nothing', async () => {
  const directory = temporaryDirectory('sql-load');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    machine.apply(1, entry(['CREATE TABLE existing (v)', "INSERT INTO existing VALUES ('kept')"]));
    const copy = join(directory.path, 'copy.db');
    await copyDatabase(machine.path, copy, { readerBusyTimeoutMs: 1000, extensionPaths: [] });
    const dump = join(directory.path, 'dump.sql');
    writeFileSync(
      dump,
      [
        'PRAGMA foreign_keys=OFF;',
        'BEGIN TRANSACTION;',
        'CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT);',
        "INSERT INTO parent VALUES(1,'it''s; a semicolon');",
        'CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id), data BLOB);',
        "INSERT INTO child VALUES(1,99,X'00ff');",
        'DELETE FROM sqlite_sequence;',
        "INSERT INTO sqlite_sequence VALUES('parent',1);",
        'CREATE TRIGGER child_touch AFTER INSERT ON child BEGIN UPDATE parent SET name = name; END;',
        'CREATE VIEW names AS SELECT name FROM parent;',
        'COMMIT;',
        'PRAGMA foreign_keys=ON;',
      ].join('\n'),
    );
    assert.deepEqual(await runSqlDump(copy, dump, []), { kind: 'write', lastInsertId: 1, rowsAffected: 1 });
    const loaded = new Database(copy, { readonly: true });
    assert.deepEqual(loaded.prepare("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name").pluck().all(), [
      'child',
      'existing',
      'names',
      'parent',
      'sqlite_sequence',
    ]);
    assert.equal(loaded.prepare('SELECT name FROM parent').pluck().get(), "it's; a semicolon");
    loaded.close();
    const failing = join(directory.path, 'failing.sql');
    writeFileSync(failing, 'CREATE TABLE fresh (v);\nINSERT INTO nowhere VALUES (1);\n');
    const copy2 = join(directory.path, 'copy2.db');
    await copyDatabase(machine.path, copy2, { readerBusyTimeoutMs: 1000, extensionPaths: [] });
    assert.deepEqual(await runSqlDump(copy2, failing, []), {
      kind: 'error',
      error: 'no such table: nowhere',
      sqliteCode: 'SQLITE_ERROR',
    });
    const rolledBack = join(directory.path, 'rollback.sql');
    writeFileSync(rolledBack, 'BEGIN TRANSACTION;\nCREATE TABLE t (v);\nROLLBACK; -- due to errors\n');
    assert.match(JSON.stringify(await runSqlDump(copy2, rolledBack, [])), /rolls back/);
    const binary = join(directory.path, 'binary.bin');
    writeFileSync(binary, Buffer.from([0xff, 0xfe, 0x00, 0x80]));
    await assert.rejects(runSqlDump(copy2, binary, []), NotSqlText);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
