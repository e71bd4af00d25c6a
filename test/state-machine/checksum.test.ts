import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, temporaryDirectory } from './helpers.js';

/** Builds a fresh database from `statements` (one entry) and returns its checksum. */
function checksumOf(
  statements: readonly string[],
  extraEntries: readonly (readonly string[])[] = [],
): { checksum: string; appliedIndex: number; rowCount: number } {
  const directory = temporaryDirectory('checksum');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    machine.apply(1, entry(statements));
    for (const [position, statementsOfEntry] of extraEntries.entries()) machine.apply(position + 2, entry(statementsOfEntry));
    return machine.checksum();
  } finally {
    machine.close();
    directory.cleanup();
  }
}

const table = 'CREATE TABLE t(id INTEGER PRIMARY KEY, v)';

test('equal content gives equal checksums; row insertion order does not matter', () => {
  const forward = checksumOf([table, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, x'00')"]);
  const backward = checksumOf([table, "INSERT INTO t VALUES (3, x'00'), (2, 'b'), (1, 'a')"]);
  assert.equal(forward.checksum, backward.checksum);
  assert.equal(forward.rowCount, backward.rowCount);
  const withoutRowid = 'CREATE TABLE w(k TEXT PRIMARY KEY, v) WITHOUT ROWID';
  assert.equal(
    checksumOf([withoutRowid, "INSERT INTO w VALUES ('x', 1), ('y', 2)"]).checksum,
    checksumOf([withoutRowid, "INSERT INTO w VALUES ('y', 2), ('x', 1)"]).checksum,
  );
});

test('one differing cell changes the checksum', () => {
  const base = checksumOf([table, "INSERT INTO t VALUES (1, 'a'), (2, 'b')"]).checksum;
  assert.notEqual(checksumOf([table, "INSERT INTO t VALUES (1, 'a'), (2, 'c')"]).checksum, base);
  assert.notEqual(checksumOf([table, "INSERT INTO t VALUES (1, 'a'), (3, 'b')"]).checksum, base, 'rowid is content');
  assert.notEqual(checksumOf([table, "INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, NULL)"]).checksum, base);
});

test("type-only differences change the checksum: 1 vs 1.0 vs '1' vs x'31'", () => {
  const values = ['1', '1.0', "'1'", "x'31'", 'NULL'];
  const checksums = values.map((value) => checksumOf([table, `INSERT INTO t VALUES (1, ${value})`]).checksum);
  assert.equal(new Set(checksums).size, values.length);
});

test('duplicate rows do not cancel out', () => {
  const noKey = 'CREATE TABLE d(v)';
  const once = checksumOf([noKey, "INSERT INTO d VALUES ('x')"]).checksum;
  const twice = checksumOf([noKey, "INSERT INTO d VALUES ('x'), ('x')"]).checksum;
  const none = checksumOf([noKey]).checksum;
  assert.equal(new Set([once, twice, none]).size, 3);
});

test('schema is part of the checksum; internal tables are not, the applied index is reported beside it', () => {
  const plain = checksumOf([table]);
  const indexed = checksumOf([table, 'CREATE INDEX t_v ON t(v)']);
  assert.notEqual(plain.checksum, indexed.checksum);
  const later = checksumOf([table], [[], ['SELECT 1']]);
  assert.equal(later.checksum, plain.checksum, 'applying more entries that change nothing keeps the checksum');
  assert.equal(plain.appliedIndex, 1);
  assert.equal(later.appliedIndex, 3);
});
