/**
 * What a statement answers of its connection (rqlite reports changes() and
 * last_insert_rowid() after every statement, so DDL repeats the last INSERT, UPDATE or
 * DELETE): each entry answers as a fresh connection would, never with a rowid or count
 * from quorumlite's internal writes, and the same on every node — alone or batched,
 * before and after a restart. SQL errors name SQLite's result code, also when a
 * repeated request id answers from the stored results.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { entry, temporaryDirectory } from './helpers.js';

const entries: readonly (readonly string[])[] = [
  [
    'CREATE TABLE t (id INTEGER PRIMARY KEY, v UNIQUE)',
    "INSERT INTO t(v) VALUES ('a'), ('b')",
    'CREATE INDEX t_v ON t(v)',
    "UPDATE t SET v = v || '!' WHERE id = 1",
    'CREATE TABLE keyed (k PRIMARY KEY) WITHOUT ROWID',
    "INSERT INTO keyed VALUES ('x'), ('y'), ('z')",
    'DROP TABLE keyed',
  ],
  ['CREATE TABLE alone (a)'],
  ["UPDATE t SET v = 'u' WHERE id = 2", 'CREATE TABLE after_update (a)'],
  ["INSERT INTO t(id, v) VALUES (1, 'z') ON CONFLICT(id) DO UPDATE SET v = 'upserted'", 'PRAGMA user_version = 3'],
  ["INSERT INTO t(v) VALUES ('u')", 'CREATE TABLE after_failure (a)', "INSERT INTO t(v) VALUES ('c') RETURNING id", 'CREATE TABLE after_returning (a)'],
];

const write = (lastInsertId: number, rowsAffected: number): StatementResult => ({ kind: 'write', lastInsertId, rowsAffected });
const uniqueFailed: StatementResult = { kind: 'error', error: 'UNIQUE constraint failed: t.v', sqliteCode: 'SQLITE_CONSTRAINT_UNIQUE' };

const expected: readonly (readonly StatementResult[])[] = [
  [{ kind: 'empty' }, write(2, 2), write(2, 2), write(2, 1), write(2, 1), write(2, 3), write(2, 3)],
  [{ kind: 'empty' }],
  [write(0, 1), write(0, 1)],
  [write(0, 1), write(0, 1)],
  [uniqueFailed, { kind: 'empty' }, { kind: 'rows', columns: ['id'], types: ['integer'], rows: [[3]] }, write(3, 1)],
];

function resultsOf(machine: SqliteStateMachine, index: number): readonly StatementResult[] {
  return machine.apply(index, entry(entries[index - 1] as readonly string[])).results;
}

test("DDL repeats the entry's last changes() and last_insert_rowid(); every entry starts as a fresh connection", () => {
  const directory = temporaryDirectory('connection-values');
  const path = join(directory.path, 'db.sqlite');
  let machine = new SqliteStateMachine({ path });
  try {
    const results: (readonly StatementResult[])[] = [];
    for (let index = 1; index <= entries.length; index++) {
      results.push(resultsOf(machine, index));
      // A restart between entries changes nothing a statement answers.
      if (index === 2) {
        machine.close();
        machine = new SqliteStateMachine({ path });
      }
    }
    assert.deepEqual(results, expected);
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test('batched entries answer what entries applied one by one answer', () => {
  const directory = temporaryDirectory('connection-values-batch');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const outcomes = machine.applyBatch(entries.map((statements, position) => ({ index: position + 1, data: entry(statements) })));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.results),
      expected,
    );
  } finally {
    machine.close();
    directory.cleanup();
  }
});

test("a repeated request id answers the stored results, SQLite's result code included", () => {
  const directory = temporaryDirectory('connection-values-dedup');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    machine.apply(1, entry(['CREATE TABLE u (v UNIQUE)', "INSERT INTO u VALUES ('a')"]));
    const failing = entry(["INSERT INTO u VALUES ('a')", 'CREATE TABLE u2 (a)'], { requestId: 'repeat' });
    const first = machine.apply(2, failing);
    const repeated = machine.apply(3, failing);
    assert.equal(repeated.deduplicated, true);
    assert.deepEqual(first.results, [{ kind: 'error', error: 'UNIQUE constraint failed: u.v', sqliteCode: 'SQLITE_CONSTRAINT_UNIQUE' }, { kind: 'empty' }]);
    assert.deepEqual(repeated.results, first.results);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
