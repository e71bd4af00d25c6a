/**
 * Reads with a deadline (queryWithDeadline, rqlite's `db_timeout`) on the real state
 * machine: they answer what query() answers, a statement past the deadline is stopped
 * (its process killed) and answers "query timeout" with every statement after it, an
 * aborted read is killed too, reads after a kill and after a restore see the current
 * database, and the `qualify` flag travels through the log with the statements.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { decodeCommand, encodeCommand } from '../../src/state-machine/command-codec.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { TimedReads } from '../../src/state-machine/timed-reads.js';
import { command, entry, statement, temporaryDirectory } from './helpers.js';

const slowCount = statement('WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c');
/** Generous for a loaded machine (a read process starts in about a second there); the slow count runs for minutes. */
const answeredWithinMs = 20_000;

function machineWithRows(directory: string): SqliteStateMachine {
  const machine = new SqliteStateMachine({ path: join(directory, 'db.sqlite') });
  machine.apply(1, entry(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT, b BLOB, big INTEGER)']));
  machine.apply(2, entry([statement("INSERT INTO t VALUES (1, 'one', x'00ff', 9007199254740993)")]));
  return machine;
}

const noAbort = new AbortController().signal;

test('a read with a deadline answers what query() answers (bigints, blobs, qualify, transaction)', async () => {
  const directory = temporaryDirectory('timed-same');
  const machine = machineWithRows(directory.path);
  try {
    const statements = [statement('SELECT * FROM t'), statement('SELECT v FROM t WHERE id = ?', 1), statement('SELECT nope FROM t')];
    for (const options of [{}, { qualifyColumns: true }, { transaction: true }]) {
      const timed = await machine.queryWithDeadline(statements, { ...options, timeoutMs: 30_000, signal: noAbort });
      assert.deepEqual(timed, machine.query(statements, options));
    }
    const [rows] = await machine.queryWithDeadline([statement('SELECT * FROM t')], { timeoutMs: 30_000, signal: noAbort });
    assert.ok(rows?.kind === 'rows' && rows.rows[0]?.[2] instanceof Uint8Array && rows.rows[0]?.[3] === 9007199254740993n);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('a statement past the deadline is stopped: it and the statements after it answer "query timeout"', async () => {
  const directory = temporaryDirectory('timed-deadline');
  const machine = machineWithRows(directory.path);
  try {
    await machine.queryWithDeadline([statement('SELECT 1')], { timeoutMs: 30_000, signal: noAbort }); // a started process
    const startedMs = performance.now();
    const results = await machine.queryWithDeadline([statement('SELECT v FROM t'), slowCount, statement('SELECT 2')], { timeoutMs: 2_000, signal: noAbort });
    assert.ok(performance.now() - startedMs < answeredWithinMs);
    assert.deepEqual(results, [
      { kind: 'rows', columns: ['v'], types: ['text'], rows: [['one']] },
      { kind: 'error', error: 'query timeout' },
      { kind: 'error', error: 'query timeout' },
    ]);
    // The killed process is replaced: the next read runs and sees the latest write.
    machine.apply(3, entry([statement("INSERT INTO t(id, v) VALUES (2, 'two')")]));
    const after = await machine.queryWithDeadline([statement('SELECT count(*) AS n FROM t')], { timeoutMs: 30_000, signal: noAbort });
    assert.deepEqual(after, [{ kind: 'rows', columns: ['n'], types: ['integer'], rows: [[2]] }]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('aborting a read kills it and rejects with the abort reason', async () => {
  const directory = temporaryDirectory('timed-abort');
  const machine = machineWithRows(directory.path);
  try {
    const abort = new AbortController();
    const reason = new Error('client left');
    const read = machine.queryWithDeadline([slowCount], { timeoutMs: 600_000, signal: abort.signal });
    setTimeout(() => abort.abort(reason), 500);
    const startedMs = performance.now();
    await assert.rejects(read, (error: unknown) => error === reason);
    assert.ok(performance.now() - startedMs < answeredWithinMs);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('after a restore, reads with a deadline see the restored database', async () => {
  const source = temporaryDirectory('timed-source');
  const target = temporaryDirectory('timed-target');
  const from = machineWithRows(source.path);
  const machine = new SqliteStateMachine({ path: join(target.path, 'db.sqlite') });
  try {
    machine.apply(1, entry(['CREATE TABLE other (x)']));
    assert.deepEqual(await machine.queryWithDeadline([statement('SELECT count(*) AS n FROM other')], { timeoutMs: 30_000, signal: noAbort }), [
      { kind: 'rows', columns: ['n'], types: ['integer'], rows: [[0]] },
    ]);
    const snapshotPath = join(source.path, 'snapshot.sqlite');
    await from.snapshot(snapshotPath);
    await machine.restore(snapshotPath);
    const results = await machine.queryWithDeadline([statement('SELECT v FROM t')], { timeoutMs: 30_000, signal: noAbort });
    assert.deepEqual(results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['one']] }]);
  } finally {
    from.close();
    machine.close();
    source.cleanup();
    target.cleanup();
  }
});

test('reads beyond the processes wait for one, beyond the waiting bound are refused, and an aborted waiting read leaves its place', async () => {
  const directory = temporaryDirectory('timed-bounds');
  const machine = machineWithRows(directory.path);
  const reads = new TimedReads({
    path: machine.path,
    busyTimeoutMs: 5_000,
    statementCacheCountMax: 16,
    resultRowCountMax: 1_000,
    processCountMax: 1,
    waitingCountMax: 1,
    startTimeoutMs: 60_000,
    idleMs: 60_000,
  });
  const one = [statement('SELECT 1 AS one')];
  const oneRow = [{ kind: 'rows', columns: ['one'], types: ['integer'], rows: [[1]] }];
  try {
    const busy = reads.run([slowCount], { timeoutMs: 3_000, signal: noAbort });
    const leaving = new AbortController();
    const aborted = reads.run(one, { timeoutMs: 60_000, signal: leaving.signal });
    await assert.rejects(
      reads.run(one, { timeoutMs: 60_000, signal: noAbort }),
      (error: unknown) => error instanceof StateMachineError && error.code === 'UNAVAILABLE',
    );
    leaving.abort(new Error('gone'));
    await assert.rejects(aborted, /gone/);
    const waiting = reads.run(one, { timeoutMs: 60_000, signal: noAbort });
    assert.deepEqual(await busy, [{ kind: 'error', error: 'query timeout' }]);
    assert.deepEqual(await waiting, oneRow, 'served once the killed process is replaced');
    assert.deepEqual(await reads.run(one, { timeoutMs: 60_000, signal: noAbort }), oneRow);
  } finally {
    reads.close();
    machine.close();
    directory.cleanup();
  }
});

test('qualify travels in the log entry and names the columns of reads applied through it', () => {
  const qualified = { ...command(['SELECT * FROM t']), qualifyColumns: true };
  assert.equal(decodeCommand(encodeCommand(qualified)).qualifyColumns, true);
  assert.equal(decodeCommand(encodeCommand(command(['SELECT 1']))).qualifyColumns, undefined, 'absent unless asked, so older entries decode the same');
  const directory = temporaryDirectory('qualify-log');
  const machine = machineWithRows(directory.path);
  try {
    const outcome = machine.apply(3, encodeCommand({ ...command(['SELECT t.v, 1 AS one FROM t']), qualifyColumns: true }));
    assert.deepEqual(outcome.results, [{ kind: 'rows', columns: ['t.v', 'one'], types: ['text', 'integer'], rows: [['one', 1]] }]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
