import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { ChangeCapture, type CapturedEntry, type ChangeCaptureSettings } from '../../src/state-machine/change-capture.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';
import { workloadEntry } from './fixtures/workload.js';

interface Recorded {
  readonly entries: Map<number, CapturedEntry>;
}

function capturingMachine(label: string, settings: Partial<ChangeCaptureSettings> = {}, foreignKeys = false) {
  const directory = temporaryDirectory(`cdc-${label}`);
  const recorded: Recorded = { entries: new Map() };
  const capture = new ChangeCapture(
    { tableFilter: undefined, rowIdsOnly: false, entryChangeCountMax: 100_000, ...settings },
    {
      record(firstIndex, lastIndex, entries) {
        for (let index = firstIndex; index <= lastIndex; index++) recorded.entries.delete(index);
        for (const captured of entries) recorded.entries.set(captured.index, captured);
      },
    },
  );
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite'), changeCapture: capture, foreignKeys });
  let index = 0;
  const apply = (...statements: string[]) => {
    index += 1;
    machine.apply(index, entry(statements));
    return index;
  };
  /** The changes of entry `at`, compactly: "OP table old new before after". */
  const changes = (at: number): string[] =>
    (recorded.entries.get(at)?.changes ?? []).map((change) =>
      [change.operation, change.table, change.oldRowId ?? '-', change.newRowId ?? '-', change.before ?? '-', change.after ?? '-'].join(' '),
    );
  const close = () => {
    machine.close();
    directory.cleanup();
  };
  return { machine, recorded, apply, changes, close, nextIndex: () => index + 1, setIndex: (value: number) => (index = value) };
}

test('insert, update and delete: row ids, values before and after, keys in byte order', () => {
  const { apply, changes, close } = capturingMachine('basic');
  try {
    assert.deepEqual(changes(apply('CREATE TABLE users (name TEXT, id INTEGER PRIMARY KEY, score REAL, photo BLOB)')), []);
    const inserted = apply(`INSERT INTO users (id, name, score, photo) VALUES (7, 'fiona', 0.30000000000000004, x'0102')`);
    assert.deepEqual(changes(inserted), ['INSERT users - 7 - {"id":7,"name":"fiona","photo":"AQI=","score":0.30000000000000004}']);
    const updated = apply(`UPDATE users SET name = 'fi"o' WHERE id = 7`);
    assert.deepEqual(changes(updated), [
      'UPDATE users 7 7 {"id":7,"name":"fiona","photo":"AQI=","score":0.30000000000000004} {"id":7,"name":"fi\\"o","photo":"AQI=","score":0.30000000000000004}',
    ]);
    const deleted = apply('DELETE FROM users');
    assert.deepEqual(changes(deleted), ['DELETE users 7 - {"id":7,"name":"fi\\"o","photo":"AQI=","score":0.30000000000000004} -']);
  } finally {
    close();
  }
});

test('changes made by triggers and foreign key cascades are captured, in order', () => {
  const { apply, changes, close } = capturingMachine('triggers', {}, true);
  try {
    apply(
      'CREATE TABLE parents (id INTEGER PRIMARY KEY)',
      'CREATE TABLE children (id INTEGER PRIMARY KEY, parent INTEGER REFERENCES parents(id) ON DELETE CASCADE)',
      'CREATE TABLE audit (what TEXT)',
      `CREATE TRIGGER parents_audit AFTER INSERT ON parents BEGIN INSERT INTO audit (what) VALUES ('parent ' || NEW.id); END`,
    );
    assert.deepEqual(changes(apply('INSERT INTO parents (id) VALUES (1)')), ['INSERT parents - 1 - {"id":1}', 'INSERT audit - 1 - {"what":"parent 1"}']);
    apply('INSERT INTO children (id, parent) VALUES (10, 1), (11, 1)');
    assert.deepEqual(changes(apply('DELETE FROM parents WHERE id = 1')), [
      'DELETE children 10 - {"id":10,"parent":1} -',
      'DELETE children 11 - {"id":11,"parent":1} -',
      'DELETE parents 1 - {"id":1} -',
    ]);
  } finally {
    close();
  }
});

test('REPLACE conflict resolution reports the deleted row, UPSERT an update; users see recursive_triggers as it was', () => {
  const { machine, apply, changes, close } = capturingMachine('replace');
  try {
    apply('CREATE TABLE kv (k TEXT PRIMARY KEY, v INTEGER)', `INSERT INTO kv VALUES ('a', 1)`);
    assert.deepEqual(changes(apply(`INSERT OR REPLACE INTO kv VALUES ('a', 2)`)), ['DELETE kv 1 - {"k":"a","v":1} -', 'INSERT kv - 2 - {"k":"a","v":2}']);
    assert.deepEqual(changes(apply(`INSERT INTO kv VALUES ('a', 3) ON CONFLICT (k) DO UPDATE SET v = excluded.v`)), [
      'UPDATE kv 2 2 {"k":"a","v":2} {"k":"a","v":3}',
    ]);
    assert.deepEqual(machine.query([statement('PRAGMA recursive_triggers')])[0], {
      kind: 'rows',
      columns: ['recursive_triggers'],
      types: ['integer'],
      rows: [[0]],
    });
  } finally {
    close();
  }
});

test('WITHOUT ROWID tables have no row ids; tables created and altered within an entry are captured', () => {
  const { apply, changes, close } = capturingMachine('without-rowid');
  try {
    const created = apply('CREATE TABLE pairs (a TEXT, b TEXT, PRIMARY KEY (a, b)) WITHOUT ROWID', `INSERT INTO pairs VALUES ('x', 'y')`);
    assert.deepEqual(changes(created), ['INSERT pairs - - - {"a":"x","b":"y"}']);
    const altered = apply('CREATE TABLE t (a)', 'INSERT INTO t VALUES (1)', 'ALTER TABLE t ADD COLUMN b', 'INSERT INTO t VALUES (2, 3)');
    assert.deepEqual(changes(altered), ['INSERT t - 1 - {"a":1}', 'INSERT t - 2 - {"a":2,"b":3}']);
    // Capture never stands in the way of DDL (a trigger naming a column would make DROP COLUMN fail).
    const dropped = apply('ALTER TABLE t DROP COLUMN b', 'UPDATE t SET a = 5 WHERE a = 2', 'DROP TABLE t');
    assert.deepEqual(changes(dropped), ['UPDATE t 2 2 {"a":2} {"a":5}']);
  } finally {
    close();
  }
});

test('a failing statement captures nothing; a failing transaction captures nothing of the entry', () => {
  const { machine, apply, changes, close, nextIndex, setIndex } = capturingMachine('failing');
  try {
    apply('CREATE TABLE u (id INTEGER PRIMARY KEY, name TEXT UNIQUE)', `INSERT INTO u VALUES (1, 'a')`);
    assert.deepEqual(changes(apply(`INSERT INTO u VALUES (2, 'b'), (3, 'a')`, `INSERT INTO u VALUES (4, 'd')`)), ['INSERT u - 4 - {"id":4,"name":"d"}']);
    const index = nextIndex();
    machine.apply(index, entry([`INSERT INTO u VALUES (5, 'e')`, `INSERT INTO u VALUES (6, 'a')`], { transaction: true }));
    setIndex(index);
    assert.deepEqual(changes(index), []);
  } finally {
    close();
  }
});

test('a batch captures each entry on its own, as applying one at a time does', () => {
  const single = capturingMachine('single');
  const batched = capturingMachine('batched');
  try {
    for (let index = 1; index <= 200; index++) single.machine.apply(index, workloadEntry(index));
    for (let first = 1; first <= 200; first += 25) {
      batched.machine.applyBatch(Array.from({ length: 25 }, (_, offset) => ({ index: first + offset, data: workloadEntry(first + offset) })));
    }
    assert.ok(single.recorded.entries.size > 50, `the workload changes rows (${single.recorded.entries.size} entries)`);
    assert.deepEqual([...batched.recorded.entries.entries()], [...single.recorded.entries.entries()]);
  } finally {
    single.close();
    batched.close();
  }
});

test('table filter, row ids only, and the per-entry bound (the entry marked truncated)', () => {
  const { apply, recorded, changes, close } = capturingMachine('bounds', { tableFilter: /^kept$/, rowIdsOnly: true, entryChangeCountMax: 3 });
  try {
    apply('CREATE TABLE kept (a)', 'CREATE TABLE other (a)');
    const index = apply(
      'INSERT INTO other VALUES (1)',
      'WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5) INSERT INTO kept SELECT x FROM n',
    );
    assert.deepEqual(changes(index), ['INSERT kept - 1 - -', 'INSERT kept - 2 - -', 'INSERT kept - 3 - -']);
    assert.equal(recorded.entries.get(index)?.truncated, true);
    const next = apply('INSERT INTO kept VALUES (6)', 'INSERT INTO kept VALUES (7)');
    assert.deepEqual([changes(next).length, recorded.entries.get(next)?.truncated], [2, false]);
  } finally {
    close();
  }
});

test('with triggers of the user’s (recursive_triggers stays off for them), REPLACE deletions are still reported, once', () => {
  const { apply, changes, close } = capturingMachine('replace-probe');
  try {
    apply(
      'CREATE TABLE kv (id INTEGER PRIMARY KEY, k TEXT UNIQUE, v INTEGER)',
      'CREATE TABLE log (what TEXT)',
      // A user's delete trigger: REPLACE must not fire it (recursive_triggers off, as without capture).
      `CREATE TRIGGER kv_deleted AFTER DELETE ON kv BEGIN INSERT INTO log VALUES ('deleted ' || OLD.k); END`,
      `INSERT INTO kv VALUES (1, 'a', 1), (2, 'b', 2), (3, 'c', 3)`,
    );
    assert.deepEqual(changes(apply(`INSERT OR REPLACE INTO kv VALUES (1, 'b', 10)`)), [
      'DELETE kv 1 - {"id":1,"k":"a","v":1} -',
      'DELETE kv 2 - {"id":2,"k":"b","v":2} -',
      'INSERT kv - 1 - {"id":1,"k":"b","v":10}',
    ]);
    assert.deepEqual(changes(apply(`UPDATE OR REPLACE kv SET k = 'c' WHERE id = 1`)), [
      'DELETE kv 3 - {"id":3,"k":"c","v":3} -',
      'UPDATE kv 1 1 {"id":1,"k":"b","v":10} {"id":1,"k":"c","v":10}',
    ]);
    assert.deepEqual(changes(apply(`INSERT OR IGNORE INTO kv VALUES (1, 'z', 0)`, `INSERT INTO kv VALUES (4, 'd', 4)`)), [
      'INSERT kv - 4 - {"id":4,"k":"d","v":4}',
    ]);
    // A plain DELETE fires the user's trigger and is reported once.
    assert.deepEqual(changes(apply('DELETE FROM kv WHERE id = 4')), ['DELETE kv 4 - {"id":4,"k":"d","v":4} -', 'INSERT log - 1 - {"what":"deleted d"}']);
  } finally {
    close();
  }
});

test('with triggers of the user’s, REPLACE deletions are reported for WITHOUT ROWID tables and unique indexes on expressions and collations', () => {
  const { apply, changes, close } = capturingMachine('replace-probe-keys');
  try {
    apply(
      'CREATE TABLE log (what TEXT)',
      `CREATE TRIGGER any_user_trigger AFTER INSERT ON log BEGIN SELECT 1; END`,
      'CREATE TABLE wr (k TEXT COLLATE NOCASE, n INTEGER, u TEXT, PRIMARY KEY (k, n)) WITHOUT ROWID',
      'CREATE UNIQUE INDEX wr_u ON wr (lower(u) DESC)',
      `INSERT INTO wr VALUES ('a', 1, 'x'), ('b', 2, 'y'), ('c', 3, 'z')`,
      'CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT, name TEXT)',
      'CREATE UNIQUE INDEX people_email ON people (lower(trim(email)))',
      'CREATE UNIQUE INDEX people_name ON people (name COLLATE NOCASE)',
      `INSERT INTO people VALUES (1, 'Ann@x', 'ann'), (2, 'bob@x', 'Bob'), (3, 'cy@x', 'cy')`,
    );
    // The primary key, compared as it is declared (NOCASE), and an expression index.
    assert.deepEqual(changes(apply(`INSERT OR REPLACE INTO wr VALUES ('A', 1, 'Y')`)), [
      'DELETE wr - - {"k":"a","n":1,"u":"x"} -',
      'DELETE wr - - {"k":"b","n":2,"u":"y"} -',
      'INSERT wr - - - {"k":"A","n":1,"u":"Y"}',
    ]);
    assert.deepEqual(changes(apply(`UPDATE OR REPLACE wr SET u = 'Z' WHERE n = 1`)), [
      'DELETE wr - - {"k":"c","n":3,"u":"z"} -',
      'UPDATE wr - - {"k":"A","n":1,"u":"Y"} {"k":"A","n":1,"u":"Z"}',
    ]);
    // An UPDATE that keeps its own key replaces nothing.
    assert.deepEqual(changes(apply(`UPDATE OR REPLACE wr SET k = 'a' WHERE n = 1`)), ['UPDATE wr - - {"k":"A","n":1,"u":"Z"} {"k":"a","n":1,"u":"Z"}']);
    assert.deepEqual(changes(apply(`REPLACE INTO people VALUES (4, ' ANN@X ', 'BOB')`)), [
      'DELETE people 1 - {"email":"Ann@x","id":1,"name":"ann"} -',
      'DELETE people 2 - {"email":"bob@x","id":2,"name":"Bob"} -',
      'INSERT people - 4 - {"email":" ANN@X ","id":4,"name":"BOB"}',
    ]);
    assert.deepEqual(changes(apply(`INSERT OR IGNORE INTO people VALUES (5, 'cy@x', 'z')`)), []);
  } finally {
    close();
  }
});

test('a table the REPLACE probe cannot follow gets an error event before each INSERT and UPDATE, never a silent miss', () => {
  const { apply, changes, recorded, close } = capturingMachine('replace-probe-refusal');
  try {
    const keyColumns = Array.from({ length: 9 }, (_, position) => `c${position}`);
    apply(
      'CREATE TABLE log (what TEXT)',
      `CREATE TRIGGER any_user_trigger AFTER INSERT ON log BEGIN SELECT 1; END`,
      `CREATE TABLE wide (${keyColumns.join(', ')}, PRIMARY KEY (${keyColumns.join(', ')})) WITHOUT ROWID`,
    );
    const inserted = apply(`INSERT OR REPLACE INTO wide VALUES (${keyColumns.map(() => 1).join(', ')})`);
    assert.deepEqual(changes(inserted).length, 2);
    const refusal = recorded.entries.get(inserted)?.changes[0];
    assert.equal(refusal?.operation, 'UNKNOWN');
    assert.equal(refusal?.table, 'wide');
    assert.match(refusal?.error ?? '', /REPLACE deleted from table wide may be missing: its primary key has more than 8 columns/);
  } finally {
    close();
  }
});
