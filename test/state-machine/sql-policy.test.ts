import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StateMachineError } from '../../src/state-machine/errors.js';
import Database from 'better-sqlite3';
import { checkSql, schemaObjectRefusal, sqlitePragmaNames, validateForWrite } from '../../src/state-machine/sql-policy.js';
import { splitSqlStatements } from '../../src/common/sql-statements.js';
import { statement } from './helpers.js';

test('splitting respects strings, quoted identifiers, comments and trigger bodies', () => {
  const sql = `INSERT INTO "a;b" VALUES ('x;y', [c;d], \`e;f\`); -- c;omment
    /* block; comment */ CREATE TRIGGER tr AFTER INSERT ON t BEGIN
      INSERT INTO u VALUES (1); UPDATE u SET x = CASE WHEN 1 THEN 2 END; END;
    CREATE TEMP TRIGGER tr2 AFTER DELETE ON t BEGIN SELECT 1; END ;; SELECT 'it''s'`;
  const parts = splitSqlStatements(sql).map((part) => part.sql);
  assert.equal(parts.length, 4);
  assert.equal(parts[0], `INSERT INTO "a;b" VALUES ('x;y', [c;d], \`e;f\`)`);
  assert.match(parts[1] ?? '', /^CREATE TRIGGER tr .* END$/s);
  assert.match(parts[2] ?? '', /^CREATE TEMP TRIGGER tr2 .* END$/s);
  assert.equal(parts[3], "SELECT 'it''s'");
  assert.equal(splitSqlStatements(sql)[3]?.tokens[1]?.text, "it's");
  assert.deepEqual(splitSqlStatements('  -- only a comment\n ; ;'), []);
});

test('an unterminated string is refused with a clear error', () => {
  assert.throws(() => checkSql("SELECT 'abc", 'write'), /REFUSED_SQL|unterminated string/);
  assert.throws(() => checkSql('SELECT "abc', 'read'), /unterminated quoted identifier/);
});

const refusedWrites: readonly (readonly [string, RegExp])[] = [
  ['PRAGMA journal_mode=DELETE', /disallowed pragma: journal_mode/],
  ['PRAGMA main.synchronous = OFF', /disallowed pragma: synchronous/],
  ['PRAGMA wal_checkpoint(TRUNCATE)', /disallowed pragma: wal_checkpoint/],
  ['pragma wal_autocheckpoint=0', /disallowed pragma: wal_autocheckpoint/],
  ['PRAGMA locking_mode=EXCLUSIVE', /disallowed pragma: locking_mode/],
  ['PRAGMA temp_store=MEMORY', /disallowed pragma: temp_store/],
  ['PRAGMA mmap_size=0', /disallowed pragma: mmap_size/],
  ['PRAGMA writable_schema=ON', /disallowed pragma: writable_schema/],
  ['PRAGMA foreign_keys=OFF', /disallowed pragma: foreign_keys/],
  ['PRAGMA foreign_keys', /disallowed pragma: foreign_keys/],
  ['PRAGMA application_id = 7', /disallowed pragma: application_id holds quorumlite's applied index/],
  ['PRAGMA main.application_id', /writes can neither set nor read it/],
  ['INSERT INTO t SELECT * FROM pragma_application_id', /writes can neither set nor read it/],
  ['CREATE VIEW v AS SELECT * FROM pragma_application_id()', /writes can neither set nor read it/],
  ['PRAGMA recursive_triggers=1', /disallowed pragma: recursive_triggers/],
  ['PRAGMA case_sensitive_like=1', /disallowed pragma: case_sensitive_like/],
  ['PRAGMA defer_foreign_keys=1', /disallowed pragma: defer_foreign_keys/],
  ['PRAGMA "cache_size"=10', /disallowed pragma: cache_size/],
  ['PRAGMA schema_version=7', /disallowed pragma: schema_version cannot be set/],
  ['PRAGMA optimize', /disallowed pragma: optimize/],
  ["ATTACH 'other.db' AS other", /ATTACH is not allowed/],
  ['DETACH other', /DETACH is not allowed/],
  ["SELECT load_extension('evil')", /load_extension is not allowed/],
  ["VACUUM INTO '/tmp/copy.db'", /VACUUM INTO is not allowed/],
  ['VACUUM', /VACUUM is not allowed/],
  ['BEGIN', /BEGIN is not allowed/],
  ['begin immediate transaction', /BEGIN is not allowed/],
  ['COMMIT', /COMMIT is not allowed/],
  ['END TRANSACTION', /END is not allowed/],
  ['ROLLBACK', /ROLLBACK is not allowed/],
  ['SAVEPOINT s1', /SAVEPOINT is not allowed/],
  ['RELEASE s1', /RELEASE is not allowed/],
  ['CREATE TEMP TABLE x(a)', /CREATE TEMP is not allowed/],
  ['CREATE TEMPORARY VIEW v AS SELECT 1', /CREATE TEMP is not allowed/],
  ['CREATE TABLE temp.x(a)', /temp schema/],
  ['INSERT INTO _quorumlite_state VALUES (1, 99)', /reserved for quorumlite's internal tables/],
  ['DELETE FROM "_QuorumLite_requests"', /reserved/],
  ["DELETE FROM '_quorumlite_requests'", /reserved/],
  ['DROP TABLE [_quorumlite_state]', /reserved/],
  ['CREATE TABLE _quorumlite_mine(a)', /reserved/],
  ['ALTER TABLE t RENAME TO _quorumlite_x', /reserved/],
  ['INSERT OR ROLLBACK INTO t VALUES (1)', /ROLLBACK conflict resolution/],
  ['CREATE TABLE r(a UNIQUE ON CONFLICT ROLLBACK)', /ROLLBACK conflict resolution/],
  ["CREATE TRIGGER tr BEFORE INSERT ON t BEGIN SELECT RAISE(ROLLBACK, 'no'); END", /ROLLBACK conflict resolution/],
  ['INSERT INTO t VALUES (total_changes())', /total_changes/],
  // Table-valued pragma functions whose answers differ per node (regression: these were accepted and forked the data).
  ['INSERT INTO t SELECT file FROM pragma_database_list', /disallowed pragma: database_list \(it may answer differently on each node/],
  ['INSERT INTO t SELECT data_version FROM pragma_data_version()', /disallowed pragma: data_version/],
  ['INSERT INTO t SELECT * FROM main.pragma_page_count', /disallowed pragma: page_count/],
  ['INSERT INTO t SELECT * FROM "pragma_freelist_count"', /disallowed pragma: freelist_count/],
  ["INSERT INTO t SELECT * FROM 'pragma_database_list'", /disallowed pragma: database_list/],
  ['INSERT INTO t SELECT 1 FROM t JOIN pragma_compile_options AS o JOIN pragma_cache_size', /disallowed pragma: cache_size/],
  ['CREATE VIEW v AS SELECT * FROM pragma_database_list', /disallowed pragma: database_list/],
  ['CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO u SELECT file FROM pragma_database_list; END', /disallowed pragma: database_list/],
  ['INSERT INTO t SELECT pageno FROM dbstat', /dbstat is not allowed in writes/],
  // The page size may differ between nodes (serve -sqlite-page-size applies to a database a node creates).
  ['PRAGMA page_size', /disallowed pragma: page_size/],
  ['INSERT INTO t SELECT page_size FROM pragma_page_size', /disallowed pragma: page_size/],
  ["INSERT INTO t SELECT * FROM dbstat('main')", /dbstat is not allowed in writes/],
  ['SELECT 1; PRAGMA foreign_keys=OFF', /disallowed pragma: foreign_keys/],
  ["EXPLAIN QUERY PLAN ATTACH 'x' AS y", /ATTACH is not allowed/],
];

test('every refused kind of write is refused with a clear message naming the statement', () => {
  for (const [sql, message] of refusedWrites) {
    assert.throws(
      () => validateForWrite([statement('SELECT 1'), statement(sql)]),
      (error: unknown) => {
        assert.ok(error instanceof StateMachineError, sql);
        assert.equal(error.code, 'REFUSED_SQL', sql);
        assert.match(error.message, /^statement 1: /, sql);
        assert.match(error.message, message, sql);
        return true;
      },
      sql,
    );
  }
});

test('a refused statement repeated in a batch is refused at its first position, and one after accepted repeats too', () => {
  const insert = 'INSERT INTO t VALUES (?)';
  const refused = 'INSERT INTO t VALUES (total_changes())';
  assert.throws(
    () => validateForWrite([statement(insert, 1), statement(insert, 2), statement(refused), statement(refused)]),
    /^StateMachineError: statement 2: total_changes/,
  );
  assert.throws(() => validateForWrite([statement(refused), statement(insert, 1)]), /statement 0: total_changes/);
  assert.throws(() => validateForWrite([statement(insert, 1), statement(insert, 2), statement(refused)]), /statement 2: total_changes/);
});

test('ordinary writes, and keywords only inside strings, comments or identifiers, are accepted', () => {
  validateForWrite([
    statement('CREATE TABLE t(id INTEGER PRIMARY KEY, note TEXT DEFAULT CURRENT_TIMESTAMP)'),
    statement("INSERT INTO t(note) VALUES ('PRAGMA journal_mode=DELETE; BEGIN; ATTACH')"),
    statement('INSERT INTO t(note) VALUES (?) -- ROLLBACK ; DETACH', 'x'),
    statement('UPDATE t SET note = "begin" WHERE id = 1'),
    statement('CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE t SET note = random() WHERE id = new.id; END'),
    statement('PRAGMA user_version = 3'),
    statement('PRAGMA table_info(t)'),
    statement('PRAGMA integrity_check'),
    statement('CREATE TABLE temperature(temp REAL)'),
    statement('INSERT OR ABORT INTO t VALUES (2, 2)'),
    // Pragmas whose answers are the same on every node may be read; a column named like a pragma function is a column.
    statement("INSERT INTO t SELECT cid, name FROM pragma_table_info('t')"),
    statement('INSERT INTO t SELECT user_version, 1 FROM pragma_user_version'),
    statement('CREATE TABLE notes(pragma_note TEXT, dbstat_note TEXT)'),
    statement("INSERT INTO t(note) VALUES ('pragma_database_list'), ('dbstat')"),
  ]);
});

test("the pragma names the write check knows are SQLite's own, all of them", () => {
  const database = new Database(':memory:');
  try {
    const names = (database.prepare('PRAGMA pragma_list').pluck().all() as string[]).map((name) => name.toUpperCase()).sort();
    assert.deepEqual([...sqlitePragmaNames].sort(), names);
  } finally {
    database.close();
  }
});

test('reads may use any pragma function and dbstat', () => {
  assert.equal(checkSql('SELECT file FROM pragma_database_list', 'read').length, 1);
  assert.equal(checkSql('SELECT * FROM dbstat', 'read').length, 1);
});

test('reads: info pragmas with arguments and any pragma without one are fine; settings are not', () => {
  assert.equal(checkSql('PRAGMA table_info(t)', 'read').length, 1);
  assert.equal(checkSql('PRAGMA journal_mode', 'read').length, 1);
  assert.equal(checkSql('SELECT * FROM _quorumlite_state', 'read').length, 1);
  assert.throws(() => checkSql('PRAGMA foreign_keys=OFF', 'read'), /queries cannot change settings/);
  assert.throws(() => checkSql('PRAGMA query_only(0)', 'read'), /queries cannot change settings/);
  assert.throws(() => checkSql("ATTACH 'x' AS y", 'read'), /ATTACH is not allowed/);
  assert.throws(() => checkSql('BEGIN', 'read'), /BEGIN is not allowed/);
  assert.throws(() => checkSql('', 'read'), /empty statement/);
});

test("a schema object's SQL is refused only for what would answer differently on each node, as SQLite stores it", () => {
  const database = new Database(':memory:');
  try {
    database.exec(`CREATE TABLE t (v, r DEFAULT (random()), c DEFAULT (total_changes()));
      CREATE TABLE files (p);
      CREATE VIEW path AS SELECT file FROM pragma_database_list;
      CREATE VIEW quoted AS SELECT * FROM "pragma_data_version";
      CREATE VIEW layout AS SELECT pageno FROM dbstat;
      CREATE VIEW columns AS SELECT name FROM pragma_table_info('t');
      CREATE TRIGGER stamp AFTER INSERT ON t BEGIN INSERT INTO files SELECT file FROM 'pragma_database_list'; END;
      CREATE TRIGGER guard BEFORE INSERT ON t WHEN NEW.v IS NULL BEGIN SELECT RAISE(ROLLBACK, 'v is required'); END;
      CREATE TRIGGER seeded AFTER INSERT ON files BEGIN UPDATE t SET r = random() WHERE rowid = last_insert_rowid(); END;
      CREATE INDEX by_value ON t (v) WHERE v IS NOT NULL;`);
    const refusals = Object.fromEntries(
      (database.prepare('SELECT name, sql FROM sqlite_schema WHERE sql IS NOT NULL').all() as { name: string; sql: string }[]).map((row) => [
        row.name,
        schemaObjectRefusal(row.sql),
      ]),
    );
    assert.deepEqual(refusals, {
      t: 'total_changes() depends on the connection, not the data; not allowed in writes',
      files: undefined,
      path: 'disallowed pragma: database_list (it may answer differently on each node; not allowed in writes)',
      quoted: 'disallowed pragma: data_version (it may answer differently on each node; not allowed in writes)',
      layout: "dbstat is not allowed in writes: it reports this node's file layout, which replication does not keep the same",
      columns: undefined,
      stamp: 'disallowed pragma: database_list (it may answer differently on each node; not allowed in writes)',
      // ROLLBACK is refused in writes as a rule of the request, not of determinism: every node rolls back alike.
      guard: undefined,
      seeded: undefined,
      by_value: undefined,
    });
  } finally {
    database.close();
  }
});
