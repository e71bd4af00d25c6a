import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { StateMachineHaltedError } from '../../src/state-machine/errors.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { entry, namedStatement, statement, temporaryDirectory } from './helpers.js';

function withMachine(label: string, body: (machine: SqliteStateMachine, directory: string) => void, options = {}): void {
  const directory = temporaryDirectory(label);
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite'), ...options });
  try {
    body(machine, directory.path);
  } finally {
    machine.close();
    directory.cleanup();
  }
}

function rows(result: StatementResult | undefined): readonly (readonly unknown[])[] {
  assert.equal(
    result?.kind,
    'rows',
    JSON.stringify(result, (_, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value)),
  );
  return result.rows;
}

const schema = 'CREATE TABLE t(id INTEGER PRIMARY KEY, a, b TEXT)';

test('writes, reads, RETURNING and DDL have rqlite-shaped results; big integers stay exact', () => {
  withMachine('results', (machine) => {
    const first = machine.apply(1, entry([schema, statement('INSERT INTO t(a, b) VALUES (?, ?)', 2n ** 60n + 3n, 'x')]));
    assert.deepEqual(first.results, [{ kind: 'empty' }, { kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
    const second = machine.apply(
      2,
      entry([
        'SELECT id, a, b, a + 1 AS expression FROM t',
        "INSERT INTO t(a, b) VALUES (1.5, x'00ff') RETURNING id, b",
        'UPDATE t SET b = b',
        'INSERT INTO t(id) VALUES (9007199254740993)',
      ]),
    );
    assert.deepEqual(second.results[0], {
      kind: 'rows',
      columns: ['id', 'a', 'b', 'expression'],
      types: ['integer', 'integer', 'text', 'integer'],
      rows: [[1, 2n ** 60n + 3n, 'x', 2n ** 60n + 4n]],
    });
    assert.deepEqual(rows(second.results[1]), [[2, new Uint8Array([0, 255])]]);
    assert.deepEqual(second.results[2], { kind: 'write', lastInsertId: 2, rowsAffected: 2 });
    assert.deepEqual(second.results[3], { kind: 'write', lastInsertId: 9007199254740993n, rowsAffected: 1 });
    assert.equal(machine.appliedIndex, 2);
  });
});

test('parameters: positional, named, mixed, booleans, blobs; wrong counts are error results', () => {
  withMachine('parameters', (machine) => {
    const outcome = machine.apply(
      1,
      entry([
        schema,
        statement('INSERT INTO t(a, b) VALUES (?, ?)', true, null),
        namedStatement('INSERT INTO t(a, b) VALUES (:a, @b)', { a: new Uint8Array([1, 2]), b: 'named' }),
        namedStatement('INSERT INTO t(a, b) VALUES (?, $b)', { b: 'mixed' }, [7]),
        statement('SELECT typeof(?), typeof(?), typeof(?)', 3, 3.25, false),
        statement('INSERT INTO t(a) VALUES (?)'),
        statement('INSERT INTO t(a) VALUES (?)', 1, 2),
        namedStatement('INSERT INTO t(a) VALUES (:missing)', { other: 1 }),
        statement('SELECT ?; SELECT ?', 1, 2),
      ]),
    );
    assert.deepEqual(
      outcome.results.slice(1, 4).map((result) => result.kind),
      ['write', 'write', 'write'],
    );
    assert.deepEqual(rows(outcome.results[4]), [['integer', 'real', 'integer']]);
    for (const result of outcome.results.slice(5)) assert.equal(result.kind, 'error');
    assert.match((outcome.results[5] as { error: string }).error, /Too few parameter values/);
    assert.match((outcome.results[6] as { error: string }).error, /Too many parameter values/);
    assert.match((outcome.results[7] as { error: string }).error, /Missing named parameter "missing"/);
    assert.match((outcome.results[8] as { error: string }).error, /exactly one SQL statement/);
    const stored = machine.query([statement('SELECT a, b FROM t ORDER BY id')]);
    assert.deepEqual(rows(stored[0]), [
      [1, null],
      [new Uint8Array([1, 2]), 'named'],
      [7, 'mixed'],
    ]);
  });
});

test('without transaction each statement stands alone; a syntax error keeps the earlier statements', () => {
  withMachine('no-transaction', (machine) => {
    const outcome = machine.apply(1, entry([schema, "INSERT INTO t(b) VALUES ('kept')", 'INSERT INTO t VALUES (', "INSERT INTO t(b) VALUES ('after')"]));
    assert.deepEqual(
      outcome.results.map((result) => result.kind),
      ['empty', 'write', 'error', 'write'],
    );
    assert.match((outcome.results[2] as { error: string }).error, /incomplete input|syntax error/);
    assert.deepEqual(rows(machine.query([statement('SELECT b FROM t ORDER BY id')])[0]), [['kept'], ['after']]);
    assert.equal(machine.appliedIndex, 1);
  });
});

test('with transaction a syntax error in the middle commits nothing and stops; the index still advances', () => {
  withMachine('transaction', (machine) => {
    machine.apply(1, entry([schema]));
    const outcome = machine.apply(
      2,
      entry(["INSERT INTO t(b) VALUES ('one')", 'INSERT INTO nowhere VALUES (1)', "INSERT INTO t(b) VALUES ('two')"], { transaction: true }),
    );
    assert.deepEqual(
      outcome.results.map((result) => result.kind),
      ['write', 'error'],
    );
    assert.match((outcome.results[1] as { error: string }).error, /no such table: nowhere/);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[0]]);
    assert.equal(machine.appliedIndex, 2);
    const good = machine.apply(3, entry(["INSERT INTO t(b) VALUES ('one')", "INSERT INTO t(b) VALUES ('two')"], { transaction: true }));
    assert.deepEqual(
      good.results.map((result) => result.kind),
      ['write', 'write'],
    );
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[2]]);
  });
});

test('refused statements at apply are deterministic error results; nothing stored changes', () => {
  withMachine('refused', (machine) => {
    machine.apply(1, entry([schema, "INSERT INTO t(b) VALUES ('x')", 'CREATE TABLE child(t_id REFERENCES t(id))']));
    const outcome = machine.apply(
      2,
      entry(['PRAGMA foreign_keys=OFF', 'DELETE FROM _quorumlite_state', 'BEGIN', "ATTACH 'x' AS y", 'CREATE TEMP TABLE z(a)', 'UPDATE t SET b = 1']),
    );
    assert.deepEqual(
      outcome.results.map((result) => result.kind),
      ['error', 'error', 'error', 'error', 'error', 'write'],
    );
    assert.equal(machine.appliedIndex, 2);
    const orphan = machine.apply(3, entry(['INSERT INTO child VALUES (99)'])).results[0];
    assert.deepEqual(orphan, { kind: 'error', error: 'FOREIGN KEY constraint failed' }, 'foreign keys stayed on');
    assert.deepEqual(rows(machine.query([statement('SELECT applied_index FROM _quorumlite_state')])[0]), [[3]]);
  });
});

test('each entry starts with the same changes() and last_insert_rowid(), whatever ran before or a restart', () => {
  const directory = temporaryDirectory('connection-state');
  const path = join(directory.path, 'db.sqlite');
  try {
    let machine = new SqliteStateMachine({ path });
    machine.apply(1, entry([schema, 'INSERT INTO t(a) VALUES (1), (2), (3)']));
    const warm = machine.apply(2, entry(['SELECT changes(), last_insert_rowid()']));
    machine.close();
    machine = new SqliteStateMachine({ path });
    const cold = machine.apply(3, entry(['SELECT changes(), last_insert_rowid()']));
    machine.close();
    assert.deepEqual(warm.results, cold.results);
    assert.deepEqual(rows(cold.results[0]), [[1, 1]]);
  } finally {
    directory.cleanup();
  }
});

test('replayed entries at or below the applied index are skipped; a gap is a programmer error', () => {
  withMachine('replay', (machine) => {
    machine.apply(1, entry([schema, 'INSERT INTO t(a) VALUES (1)']));
    const again = machine.apply(1, entry([schema, 'INSERT INTO t(a) VALUES (1)']));
    assert.equal(again.skipped, true);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[1]]);
    assert.throws(() => machine.apply(3, entry(['SELECT 1'])), /entry 3 follows applied index 1/);
    assert.equal(machine.applyNoop(2).skipped, false);
    assert.equal(machine.apply(3, new Uint8Array(0)).results.length, 0);
    assert.equal(machine.appliedIndex, 3);
  });
});

test('an undecodable entry halts (never skipped) and the same index can be retried', () => {
  withMachine('bad-entry', (machine) => {
    assert.throws(
      () => machine.apply(1, Uint8Array.of(0x51, 99)),
      (error: unknown) => {
        assert.ok(error instanceof StateMachineHaltedError);
        assert.equal(error.code, 'BAD_COMMAND');
        assert.match(error.message, /unsupported command version 99/);
        return true;
      },
    );
    assert.equal(machine.healthy, false);
    assert.equal(machine.appliedIndex, 0);
    machine.apply(1, entry(['SELECT 1']));
    assert.equal(machine.healthy, true);
    assert.equal(machine.appliedIndex, 1);
  });
});

test('a repeated request id returns the first result without running again', () => {
  withMachine('dedup', (machine) => {
    machine.apply(1, entry([schema]));
    const insert = ['INSERT INTO t(a) VALUES (random())', 'SELECT count(*) FROM t'];
    const first = machine.apply(2, entry(insert, { requestId: 'client-1:7' }));
    const repeat = machine.apply(3, entry(insert, { requestId: 'client-1:7', seed: 9n, timestampMs: 1_700_000_060_000 }));
    assert.equal(first.deduplicated, false);
    assert.equal(repeat.deduplicated, true);
    assert.deepEqual(repeat.results, first.results);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[1]]);
    const other = machine.apply(4, entry(insert, { requestId: 'client-1:8' }));
    assert.equal(other.deduplicated, false);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')])[0]), [[2]]);
    assert.equal(machine.appliedIndex, 4);
  });
});

test('the dedup table forgets by count (dedupRequestCountMax) and by entry-time age, never by the local clock', () => {
  withMachine(
    'dedup-bounds',
    (machine) => {
      machine.apply(1, entry([schema]));
      const insert = ['INSERT INTO t(a) VALUES (1)'];
      const at = (seconds: number): number => 1_700_000_000_000 + seconds * 1000;
      machine.apply(2, entry(insert, { requestId: 'a', timestampMs: at(0) }));
      machine.apply(3, entry(insert, { requestId: 'b', timestampMs: at(1) }));
      machine.apply(4, entry(insert, { requestId: 'c', timestampMs: at(2) }));
      const count = (): unknown => rows(machine.query([statement('SELECT count(*) FROM _quorumlite_requests')])[0])[0]?.[0];
      assert.equal(count(), 2, 'at the bound: 2 remembered');
      assert.equal(machine.apply(5, entry(insert, { requestId: 'c', timestampMs: at(3) })).deduplicated, true);
      assert.equal(machine.apply(6, entry(insert, { requestId: 'a', timestampMs: at(4) })).deduplicated, false, 'a was forgotten by count');
      assert.equal(machine.apply(7, entry(insert, { requestId: 'c', timestampMs: at(2 + 10) })).deduplicated, true, 'at the window edge');
      assert.equal(machine.apply(8, entry(insert, { requestId: 'a', timestampMs: at(4 + 11) })).deduplicated, false, 'older than the window');
    },
    { dedupRequestCountMax: 2, dedupWindowMs: 10_000 },
  );
});

test('queries run read-only with the real clock; a write sent as a query fails and changes nothing', () => {
  withMachine('query', (machine) => {
    machine.apply(1, entry([schema, "INSERT INTO t(b) VALUES ('x')"]));
    const results = machine.query([
      statement('INSERT INTO t(b) VALUES (?)', 'sneaky'),
      statement('DELETE FROM t'),
      statement('PRAGMA foreign_keys=OFF'),
      statement("SELECT strftime('%Y', 'now') = strftime('%Y', ?)", new Date().toISOString().slice(0, 10)),
      statement('SELECT b FROM t'),
      statement('SELECT * FROM nowhere'),
    ]);
    assert.match((results[0] as { error: string }).error, /attempt to change the database in a query/);
    assert.match((results[1] as { error: string }).error, /attempt to change the database in a query/);
    assert.match((results[2] as { error: string }).error, /queries cannot change settings/);
    assert.deepEqual(rows(results[3]), [[1]]);
    assert.deepEqual(rows(results[4]), [['x']]);
    assert.match((results[5] as { error: string }).error, /no such table/);
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM t')], { transaction: true })[0]), [[1]]);
  });
});

test('userTables and dump hide internal tables; the dump restores to the same content', () => {
  withMachine('dump', (machine, directory) => {
    machine.apply(
      1,
      entry([
        'CREATE TABLE a(id INTEGER PRIMARY KEY AUTOINCREMENT, v)',
        'CREATE TABLE "b c"(x REAL, y BLOB)',
        'CREATE INDEX a_v ON a(v)',
        "INSERT INTO a(v) VALUES ('it''s'), (NULL), (3), (2.0)",
        'INSERT INTO "b c" VALUES (1.0, x\'0102\'), (-1e300, NULL)',
      ]),
    );
    assert.deepEqual(machine.userTables(), ['a', 'b c']);
    const dump = machine.dump();
    assert.doesNotMatch(dump, /_quorumlite_/);
    assert.match(dump, /INSERT INTO "a" VALUES\(1,'it''s'\);/);
    assert.match(dump, /INSERT INTO "b c" VALUES\(1\.0,X'0102'\);/);
    assert.match(dump, /INSERT INTO sqlite_sequence VALUES\('a',4\);/);
    assert.match(machine.dump(['b c']), /CREATE TABLE "b c"/);
    assert.doesNotMatch(machine.dump(['b c']), /CREATE TABLE a/);
    const copy = new SqliteStateMachine({ path: join(directory, 'copy.sqlite') });
    try {
      const body = dump.split('\n').filter((line) => line !== '' && !/^(PRAGMA|BEGIN|COMMIT)/.test(line));
      copy.apply(1, entry(body, { transaction: true }));
      assert.equal(copy.checksum().checksum, machine.checksum().checksum);
    } finally {
      copy.close();
    }
  });
});

test('the prepared-statement cache holds at most statementCacheCountMax statements', () => {
  withMachine(
    'cache',
    (machine) => {
      const sqls = Array.from({ length: 12 }, (_, position) => `SELECT ${position}`);
      const outcome = machine.apply(1, entry(sqls));
      assert.equal(outcome.results.length, 12);
      assert.equal(machine.cachedApplyStatementCount, 4);
    },
    { statementCacheCountMax: 4 },
  );
});

test('status reports the SQLite version, applied index and health', () => {
  withMachine('status', (machine) => {
    machine.applyNoop(1);
    const status = machine.status();
    assert.match(status.sqliteVersion, /^3\.\d+\.\d+$/);
    assert.equal(status.appliedIndex, 1);
    assert.equal(status.healthy, true);
  });
});

test('a process without TZ=UTC is refused with a clear error', () => {
  const script = `import { SqliteStateMachine } from ${JSON.stringify(new URL('../../src/state-machine/state-machine.ts', import.meta.url).pathname)};
    try { new SqliteStateMachine({ path: ':memory:' }); console.log('opened'); } catch (error) { console.log(error.code, error.message); }`;
  const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
    env: { ...process.env, TZ: 'America/New_York' },
    encoding: 'utf8',
    timeout: 60_000,
  });
  assert.match(child.stdout, /BAD_ENVIRONMENT the process must run with TZ=UTC \(TZ=America\/New_York\)/, child.stderr);
});

test('isReadOnly: SQLite judges, the read policy refines; bad SQL counts as a write', () => {
  withMachine('is-read-only', (machine) => {
    machine.apply(1, entry([schema]));
    const readOnly = (sql: string): boolean => machine.isReadOnly(statement(sql));
    assert.equal(readOnly('SELECT * FROM t'), true);
    assert.equal(readOnly('SELECT 1; SELECT 2'), true);
    assert.equal(readOnly('PRAGMA table_info(t)'), true);
    assert.equal(readOnly("INSERT INTO t(b) VALUES ('x')"), false);
    assert.equal(readOnly('SELECT 1; DELETE FROM t'), false);
    assert.equal(readOnly('WITH x AS (SELECT 1) DELETE FROM t'), false);
    assert.equal(readOnly('PRAGMA foreign_keys=OFF'), false, 'SQLite calls it read-only; it changes the connection');
    assert.equal(readOnly('CREATE TABLE u(a)'), false);
    assert.equal(readOnly('SELEC 1'), false);
    assert.equal(readOnly("SELECT 'unterminated"), false);
  });
});

test('timings: results carry timeSeconds when asked; stored dedup results never do', () => {
  withMachine(
    'timings',
    (machine) => {
      const insert = entry([schema, "INSERT INTO t(b) VALUES ('x')"], { requestId: 'timed' });
      const first = machine.apply(1, insert);
      for (const result of first.results) assert.equal(typeof result.timeSeconds, 'number');
      const repeat = machine.apply(2, insert);
      assert.equal(repeat.deduplicated, true);
      for (const result of repeat.results) assert.equal(result.timeSeconds, undefined);
      assert.deepEqual(
        repeat.results,
        first.results.map(({ timeSeconds: _timeSeconds, ...rest }) => rest),
      );
      const [timed] = machine.query([statement('SELECT 1')], { timings: true });
      assert.ok(typeof timed?.timeSeconds === 'number' && timed.timeSeconds >= 0);
      assert.equal(machine.query([statement('SELECT 1')])[0]?.timeSeconds, undefined);
    },
    { timings: true },
  );
});

test('a repeated statement reuses its prepared statement across schema changes, and a repeated write is still refused as a query', () => {
  withMachine('repeated-statement', (machine) => {
    const insert = (value: number) => statement('INSERT INTO m VALUES (?)', value);
    const outcome = machine.apply(
      1,
      entry([
        'CREATE TABLE m(a)',
        insert(1),
        insert(2),
        'DROP TABLE m',
        insert(3),
        'CREATE TABLE m(a, b DEFAULT 7)',
        insert(4),
        'CREATE TABLE n(x)',
        'DROP TABLE m',
        'CREATE TABLE m(a)',
        insert(5),
        insert(6),
      ]),
    );
    assert.deepEqual(
      outcome.results.map((result) => result.kind),
      ['empty', 'write', 'write', 'empty', 'error', 'empty', 'error', 'empty', 'empty', 'empty', 'write', 'write'],
    );
    assert.match((outcome.results[4] as { error: string }).error, /no such table: m/);
    assert.match((outcome.results[6] as { error: string }).error, /table m has 2 columns but 1 values were supplied/);
    assert.deepEqual(rows(machine.query([statement('SELECT a FROM m ORDER BY a')])[0]), [[5], [6]]);
    const asQuery = machine.query([insert(7), insert(8)]);
    assert.deepEqual(
      asQuery.map((result) => result.kind),
      ['error', 'error'],
    );
    assert.deepEqual(rows(machine.query([statement('SELECT count(*) FROM m')])[0]), [[2]]);
  });
});
