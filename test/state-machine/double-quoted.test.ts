/**
 * Double-quoted string literals are accepted as SQLite accepts them with DQS on: a
 * double-quoted token that names no column is a string; one that does stays the column.
 * The expected answers are what SQLite built with DQS on gives for the same SQL. Writes
 * (at apply) and reads (on the query connection) alike, and every node decides the same.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { doubleQuotedPrepareCountMax } from '../../src/state-machine/double-quoted-strings.js';
import type { Statement, StatementResult } from '../../src/state-machine/types.js';
import { entry, namedStatement, statement, temporaryDirectory } from './helpers.js';
import { rows } from './internal-layout.js';

function errorOf(result: StatementResult | undefined): string {
  assert.equal(result?.kind, 'error', JSON.stringify(result));
  return result.error;
}

function withMachine(
  label: string,
  body: (machine: SqliteStateMachine, apply: (...statements: (Statement | string)[]) => readonly StatementResult[]) => void,
): void {
  const directory = temporaryDirectory(label);
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const apply = (...statements: (Statement | string)[]): readonly StatementResult[] => machine.apply(machine.appliedIndex + 1, entry(statements)).results;
    body(machine, apply);
  } finally {
    machine.close();
    directory.cleanup();
  }
}

const read = (machine: SqliteStateMachine, sql: string): StatementResult | undefined => machine.query([statement(sql)])[0];

test('rqlite\'s own example: VALUES("fiona") inserts the string, in a write and in a read', () => {
  withMachine('fiona', (machine, apply) => {
    apply('CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT)');
    assert.deepEqual(apply('INSERT INTO foo(name) VALUES("fiona")'), [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
    assert.deepEqual(rows(read(machine, 'SELECT * FROM foo WHERE name = "fiona"')), [[1, 'fiona']]);
    assert.deepEqual(rows(apply('SELECT count(*) FROM foo WHERE name IN ("fiona", "declan")')[0]), [[1]]);
  });
});

test('a token that names a column stays the column; only the tokens that fail become strings', () => {
  withMachine('collide', (machine, apply) => {
    apply('CREATE TABLE t(fiona, name)', 'CREATE TABLE has_v(v)', 'CREATE TABLE lacks_v(w)', 'INSERT INTO has_v VALUES (1)', 'INSERT INTO lacks_v VALUES (2)');
    apply('INSERT INTO t(fiona, name) VALUES ("x", "fiona")');
    assert.deepEqual(rows(read(machine, 'SELECT * FROM t')), [['x', 'fiona']]);
    assert.deepEqual(rows(read(machine, 'SELECT name FROM t WHERE name = "fiona"')), [], '"fiona" is the column fiona here');
    assert.deepEqual(rows(read(machine, 'SELECT "fiona" FROM t')), [['x']]);
    assert.deepEqual(rows(read(machine, 'SELECT "v" FROM has_v UNION ALL SELECT "v" FROM lacks_v')), [[1], ['v']], 'a column of one table, not of the other');
    apply('INSERT INTO t("name") VALUES ("name")');
    assert.deepEqual(rows(read(machine, 'SELECT fiona, name FROM t ORDER BY rowid')), [
      ['x', 'fiona'],
      [null, 'name'],
    ]);
    assert.deepEqual(rows(read(machine, 'SELECT "t" FROM "t"')), [['t'], ['t']], 'a table named like the literal');
    assert.deepEqual(rows(read(machine, 'SELECT "name" FROM t WHERE EXISTS (SELECT 1 FROM lacks_v WHERE "name" = "name") ORDER BY 1')), [['fiona'], ['name']]);
  });
});

test('escapes, quotes inside strings and comments, parameters and several statements in one request', () => {
  withMachine('escapes', (machine, apply) => {
    assert.deepEqual(rows(read(machine, `SELECT "a""b", "it's"`)), [['a"b', "it's"]]);
    apply('CREATE TABLE m(a, b); INSERT INTO m VALUES ("one", \'say "hi"\') -- "a comment"');
    apply(statement('INSERT INTO m VALUES (?, "two")', 2));
    apply(namedStatement('INSERT INTO m VALUES (:a, "three")', { a: null }));
    assert.deepEqual(rows(read(machine, 'SELECT a, b FROM m ORDER BY rowid')), [
      ['one', 'say "hi"'],
      [2, 'two'],
      [null, 'three'],
    ]);
  });
});

test('result columns are named as the client wrote them, as SQLite names them with DQS on', () => {
  withMachine('column-names', (machine, apply) => {
    apply('CREATE TABLE n(v)', "INSERT INTO n VALUES ('row')");
    const columns = (result: StatementResult | undefined): unknown => (result as { columns?: unknown }).columns;
    assert.deepEqual(columns(read(machine, `SELECT "x", 'x', "a""b", "x"`)), ['"x"', "'x'", '"a""b"', '"x"']);
    assert.deepEqual(columns(read(machine, 'SELECT CASE WHEN 1 THEN "yes" ELSE "no" END, "v" FROM n')), ['CASE WHEN 1 THEN "yes" ELSE "no" END', 'v']);
    assert.deepEqual(columns(apply('SELECT "lit" AS named, upper("it\'s") FROM n')[0]), ['named', 'upper("it\'s")']);
  });
});

test('DDL: DEFAULT, CHECK, a partial index, a generated column and a view', () => {
  withMachine('ddl', (machine, apply) => {
    const created = apply(
      'CREATE TABLE d (a TEXT DEFAULT "x", b TEXT CHECK (b <> "y"), c TEXT, g TEXT AS ("gen"))',
      'CREATE INDEX d_c ON d(a) WHERE c = "z"',
      'CREATE VIEW v1 AS SELECT "x" AS a',
      'CREATE VIEW v2(k) AS SELECT "a" FROM d',
    );
    assert.deepEqual(
      created.map((result) => result.kind),
      ['empty', 'empty', 'empty', 'empty'],
      JSON.stringify(created),
    );
    apply("INSERT INTO d(b, c) VALUES ('ok', 'z')");
    assert.match(errorOf(apply("INSERT INTO d(b) VALUES ('y')")[0]), /CHECK constraint failed/);
    assert.deepEqual(rows(read(machine, 'SELECT a, b, c, g FROM d')), [['x', 'ok', 'z', 'gen']]);
    assert.deepEqual(rows(read(machine, 'SELECT * FROM v1')), [['x']]);
    assert.deepEqual(rows(read(machine, 'SELECT * FROM v2')), [['x']], '"a" in v2 is the column a of d');
    assert.deepEqual(rows(read(machine, "SELECT count(*) FROM d INDEXED BY d_c WHERE c = 'z'")), [[1]]);
  });
});

test('triggers: the WHEN clause and the body, for INSERT, UPDATE (with and without OF) and DELETE', () => {
  withMachine('triggers', (machine, apply) => {
    const created = apply(
      'CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, note TEXT)',
      'CREATE TABLE log(what TEXT, v TEXT)',
      'CREATE TRIGGER t_insert AFTER INSERT ON t WHEN NEW.v <> "quiet" BEGIN INSERT INTO log VALUES ("inserted", NEW."v"); END',
      'CREATE TRIGGER t_update AFTER UPDATE ON "t" BEGIN INSERT INTO log SELECT "updated", "v" FROM t WHERE id = NEW.id; END',
      'CREATE TRIGGER t_note AFTER UPDATE OF note ON main.t BEGIN INSERT INTO log VALUES ("noted", NEW.note); END',
      'CREATE TRIGGER t_delete BEFORE DELETE ON t BEGIN INSERT INTO log VALUES ("deleted", OLD.v); END',
    );
    assert.deepEqual(
      created.map((result) => result.kind),
      ['empty', 'empty', 'empty', 'empty', 'empty', 'empty'],
      JSON.stringify(created),
    );
    apply("INSERT INTO t(v) VALUES ('a')", "INSERT INTO t(v) VALUES ('quiet')", "UPDATE t SET note = 'n' WHERE id = 1", 'DELETE FROM t WHERE id = 2');
    assert.deepEqual(rows(read(machine, 'SELECT what, v FROM log ORDER BY rowid')), [
      ['inserted', 'a'],
      // SQLite fires the newest trigger first.
      ['noted', 'n'],
      ['updated', 'a'],
      ['deleted', 'quiet'],
    ]);
    const stored = rows(read(machine, "SELECT sql FROM sqlite_master WHERE name = 't_update'"))[0]?.[0];
    assert.equal(
      stored,
      'CREATE TRIGGER t_update AFTER UPDATE ON "t" BEGIN INSERT INTO log SELECT \'updated\', "v" FROM t WHERE id = NEW.id; END',
      '"v" stays a column',
    );
  });
});

test('errors that are not an unresolved double-quoted token are left as SQLite gives them', () => {
  withMachine('errors', (machine, apply) => {
    apply('CREATE TABLE foo (name TEXT)');
    assert.equal(errorOf(read(machine, 'SELECT foo."nope" FROM foo')), 'no such column: foo.nope');
    assert.equal(errorOf(read(machine, 'SELECT "x" FROM missing')), 'no such table: missing');
    assert.equal(errorOf(apply('INSERT INTO foo VALUES ("a", "b")')[0]), 'table foo has 1 columns but 2 values were supplied');
    assert.equal(errorOf(apply('SELECT nope, "x" FROM foo')[0]), 'no such column: nope');
    // Views are resolved when used: a body SQLite cannot prepare yet is SQLite's to report then.
    assert.equal(apply('CREATE VIEW later AS SELECT "x" FROM not_yet')[0]?.kind, 'empty');
  });
});

test('more distinct literals than the prepare bound: SQLite’s error, after the bound', () => {
  withMachine('bound', (machine) => {
    const many = Array.from({ length: doubleQuotedPrepareCountMax + 1 }, (_, position) => `"w${position}"`).join(', ');
    assert.match(errorOf(read(machine, `SELECT ${many}`)), /^no such column: "w\d+" - should this be a string literal in single-quotes\?$/);
    const within = Array.from({ length: doubleQuotedPrepareCountMax - 1 }, (_, position) => `"w${position}"`).join(', ');
    assert.equal(rows(read(machine, `SELECT ${within}`))[0]?.length, doubleQuotedPrepareCountMax - 1);
  });
});

test('same SQL and same schema give the same answer on every node: a cached statement follows a schema change', () => {
  const directory = temporaryDirectory('schema-change');
  try {
    const log = [
      entry(['CREATE TABLE t(a)', "INSERT INTO t VALUES ('row')"]),
      entry(['SELECT "later" FROM t']),
      entry(['ALTER TABLE t ADD COLUMN later DEFAULT 42']),
      entry(['SELECT "later" FROM t']),
      entry(['ALTER TABLE t DROP COLUMN later']),
      entry(['SELECT "later" FROM t']),
    ];
    // One node applies the whole log with its statement cache warm; the other restarts before every entry.
    const warm = new SqliteStateMachine({ path: join(directory.path, 'warm.sqlite') });
    const warmResults = log.map((data, position) => warm.apply(position + 1, data).results);
    warm.close();
    const coldResults = log.map((data, position) => {
      const cold = new SqliteStateMachine({ path: join(directory.path, 'cold.sqlite') });
      try {
        return cold.apply(position + 1, data).results;
      } finally {
        cold.close();
      }
    });
    assert.deepEqual(warmResults, coldResults);
    assert.deepEqual(rows(warmResults[1]?.[0]), [['later']]);
    assert.deepEqual(rows(warmResults[3]?.[0]), [[42]]);
    assert.deepEqual(rows(warmResults[5]?.[0]), [['later']]);
  } finally {
    directory.cleanup();
  }
});
