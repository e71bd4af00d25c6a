/**
 * A read with a deadline (rqlite's `db_timeout`) runs in a child process with its own
 * read-only connection: it must read the dialect the node reads everywhere else — the
 * same double-quoted-string rule and the same foreign_keys setting as the in-process read
 * connection, whatever --fk says.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

const noAbort = new AbortController().signal;

for (const foreignKeys of [false, true]) {
  test(`db_timeout reads answer double-quoted literals and foreign_keys as query() does (foreignKeys ${foreignKeys})`, async () => {
    const directory = temporaryDirectory(`timed-dialect-${foreignKeys}`);
    const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite'), foreignKeys });
    try {
      machine.apply(
        1,
        entry([
          'CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)',
          'INSERT INTO foo(name) VALUES ("fiona")',
          'CREATE VIEW named AS SELECT "x" AS label, name FROM foo',
        ]),
      );
      const statements = [
        statement('SELECT * FROM foo WHERE name = "fiona"'),
        statement('SELECT "fiona", name FROM foo'),
        statement('SELECT label, name FROM named'),
        statement('SELECT "no such column" AS "alias", id FROM foo'),
        statement('PRAGMA foreign_keys'),
      ];
      const inProcess = machine.query(statements);
      const timed = await machine.queryWithDeadline(statements, { timeoutMs: 30_000, signal: noAbort });
      assert.deepEqual(timed, inProcess);
      assert.deepEqual(inProcess[0], { kind: 'rows', columns: ['id', 'name'], types: ['integer', 'text'], rows: [[1, 'fiona']] });
      assert.deepEqual(inProcess[1], { kind: 'rows', columns: ['"fiona"', 'name'], types: ['text', 'text'], rows: [['fiona', 'fiona']] });
      assert.deepEqual(inProcess[4], { kind: 'rows', columns: ['foreign_keys'], types: ['integer'], rows: [[foreignKeys ? 1 : 0]] });
    } finally {
      machine.close();
      directory.cleanup();
    }
  });
}
