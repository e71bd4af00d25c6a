import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { randomBlobBytesMax } from '../../src/state-machine/deterministic-functions.js';
import { encodeResults, resultTooLargeToKeepMessage, storedResultsBytesMax } from '../../src/state-machine/result-codec.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

function withMachine(body: (machine: SqliteStateMachine) => void): void {
  const directory = temporaryDirectory('bounds');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    body(machine);
  } finally {
    machine.close();
    directory.cleanup();
  }
}

test('randomBlobBytesMax: randomblob at the bound works, one over is a deterministic error result', () => {
  withMachine((machine) => {
    const outcome = machine.apply(
      1,
      entry([
        statement('SELECT length(randomblob(?))', randomBlobBytesMax),
        statement('SELECT length(randomblob(?))', randomBlobBytesMax + 1),
        statement("SELECT length(randomblob(0)), length(randomblob(-5)), length(randomblob(NULL)), length(randomblob('4'))"),
      ]),
    );
    assert.deepEqual(outcome.results[0], { kind: 'rows', columns: ['length(randomblob(?))'], types: ['integer'], rows: [[randomBlobBytesMax]] });
    assert.equal(outcome.results[1]?.kind, 'error');
    assert.match((outcome.results[1] as { error: string }).error, /randomblob\(1048577\) is over the bound 1048576 bytes/);
    assert.deepEqual((outcome.results[2] as { rows: unknown }).rows, [[1, 1, 1, 4]]);
  });
});

test('storedResultsBytesMax: a result too large to keep is remembered as a clear marker, not executed again', () => {
  withMachine((machine) => {
    machine.apply(1, entry(['CREATE TABLE t(v)']));
    const big = 'x'.repeat(storedResultsBytesMax);
    const insert = [statement('INSERT INTO t VALUES (?) RETURNING v', big)];
    const first = machine.apply(2, entry(insert, { requestId: 'big' }));
    assert.deepEqual((first.results[0] as { rows: unknown }).rows, [[big]], 'the first caller gets the real result');
    const repeat = machine.apply(3, entry(insert, { requestId: 'big' }));
    assert.equal(repeat.deduplicated, true);
    assert.deepEqual(repeat.results, [{ kind: 'error', error: resultTooLargeToKeepMessage }]);
    assert.deepEqual((machine.query([statement('SELECT count(*) FROM t')])[0] as { rows: unknown }).rows, [[1]]);
    const rowsResult = (text: string): StatementResult => ({ kind: 'rows', columns: ['v'], types: ['text'], rows: [[text]] });
    const overhead = encodeResults([rowsResult('')]).length;
    const atBound = 'y'.repeat(storedResultsBytesMax - overhead);
    assert.equal(encodeResults([rowsResult(atBound)]).length, storedResultsBytesMax);
    const atBoundInsert = [statement('INSERT INTO t VALUES (?) RETURNING v', atBound)];
    const kept = machine.apply(4, entry(atBoundInsert, { requestId: 'at-bound' }));
    assert.deepEqual(kept.results, [rowsResult(atBound)]);
    assert.deepEqual(machine.apply(5, entry(atBoundInsert, { requestId: 'at-bound' })).results, kept.results, 'kept at the bound');
    const overInsert = [statement('INSERT INTO t VALUES (?) RETURNING v', `${atBound}y`)];
    machine.apply(6, entry(overInsert, { requestId: 'over' }));
    assert.deepEqual(machine.apply(7, entry(overInsert, { requestId: 'over' })).results, [{ kind: 'error', error: resultTooLargeToKeepMessage }]);
  });
});

test('resultRowCountMax: a result at the bound is returned, one row over is an error result (reads and writes)', () => {
  const directory = temporaryDirectory('row-bound');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite'), resultRowCountMax: 3 });
  try {
    const outcome = machine.apply(
      1,
      entry([
        'CREATE TABLE t(v)',
        'INSERT INTO t VALUES (1), (2), (3) RETURNING v',
        'SELECT v FROM t',
        'INSERT INTO t VALUES (4), (5), (6), (7) RETURNING v',
        'SELECT count(*) FROM t',
      ]),
    );
    assert.deepEqual((outcome.results[1] as { rows: unknown }).rows, [[1], [2], [3]]);
    assert.deepEqual((outcome.results[2] as { rows: unknown }).rows, [[1], [2], [3]]);
    assert.deepEqual(outcome.results[3], { kind: 'error', error: 'result has more than 3 rows (resultRowCountMax)' });
    assert.deepEqual((outcome.results[4] as { rows: unknown }).rows, [[7]], 'without transaction the rows were still inserted');
    const withTransaction = machine.apply(2, entry(['INSERT INTO t VALUES (8), (9), (10), (11) RETURNING v'], { transaction: true }));
    assert.equal(withTransaction.results[0]?.kind, 'error');
    const reads = machine.query([statement('SELECT v FROM t LIMIT 3'), statement('SELECT v FROM t LIMIT 4')]);
    assert.equal(reads[0]?.kind, 'rows');
    assert.deepEqual(reads[1], { kind: 'error', error: 'result has more than 3 rows (resultRowCountMax)' });
    assert.deepEqual((machine.query([statement('SELECT count(*) FROM t')])[0] as { rows: unknown }).rows, [[7]], 'the transaction rolled back');
  } finally {
    machine.close();
    directory.cleanup();
  }
});
