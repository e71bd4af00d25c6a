/**
 * The dialect scenarios of dialect.test.ts, shared with the etcd log's run
 * (test/etcd/etcd-cluster-scenarios.test.ts): the same assertions on a running 3-node
 * cluster with no user tables, run in this order (each builds on the one before).
 */
import assert from 'node:assert/strict';
import type { HttpAnswer, TestCluster, TestNode } from './harness.js';

interface Result {
  readonly values?: unknown[][];
  readonly error?: string;
  readonly last_insert_id?: number;
  readonly rows_affected?: number;
}

export function results(answer: HttpAnswer): Result[] {
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { results: Result[] }).results;
}

export function values(answer: HttpAnswer): unknown[][] {
  const [first] = results(answer);
  assert.equal(first?.error, undefined, answer.text);
  return first?.values ?? [];
}

/** Double-quoted string literals are strings unless they name a column, on the leader and on a follower, also in db_timeout reads. Wants no user tables yet. */
export async function doubleQuotedLiterals(cluster: TestCluster, leader: TestNode, follower: TestNode): Promise<void> {
  assert.deepEqual(results(await leader.execute(['CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, fiona TEXT)'])), [{}]);
  const inserted = results(await leader.execute(['INSERT INTO foo(name) VALUES("fiona")', 'INSERT INTO foo(name, fiona) VALUES("declan", "x")']));
  assert.deepEqual(inserted, [
    { last_insert_id: 1, rows_affected: 1 },
    { last_insert_id: 2, rows_affected: 1 },
  ]);
  await cluster.waitForConvergence();
  assert.deepEqual(values(await follower.query('SELECT id, name, fiona FROM foo WHERE name IN ("declan", "ada") OR id = 1 ORDER BY id', '?level=none')), [
    [1, 'fiona', null],
    [2, 'declan', 'x'],
  ]);
  // "fiona" names a column of foo: it stays the column, as SQLite with DQS on has it.
  assert.deepEqual(values(await follower.query('SELECT id FROM foo WHERE "fiona" = "x"', '?level=none')), [[2]]);
  assert.deepEqual(values(await follower.query('SELECT id FROM foo WHERE name IN ("fiona", "declan")', '?level=none')), [[2]]);
  // db_timeout reads run in a child process: the same rule there.
  const timed = await follower.query('SELECT id, name, "ada" FROM foo WHERE name IN ("declan", "ada") OR id = 1 ORDER BY id', '?level=none&db_timeout=30s');
  assert.deepEqual(values(timed), [
    [1, 'fiona', 'ada'],
    [2, 'declan', 'ada'],
  ]);
  assert.deepEqual(values(await follower.query('SELECT id FROM foo WHERE "fiona" = "x"', '?level=none&db_timeout=30s')), [[2]]);
}

/** Foreign keys are off without --fk: a dangling reference is accepted, as in rqlite. */
export async function foreignKeysOffWithoutFlag(leader: TestNode): Promise<void> {
  results(await leader.execute(['CREATE TABLE parent (id INTEGER PRIMARY KEY)', 'CREATE TABLE child (parent_id INTEGER REFERENCES parent(id))']));
  assert.deepEqual(results(await leader.execute(['INSERT INTO child VALUES (99)'])), [{ last_insert_id: 1, rows_affected: 1 }]);
  assert.deepEqual(values(await leader.query('PRAGMA foreign_keys')), [[0]]);
  assert.deepEqual(values(await leader.query('PRAGMA foreign_keys', '?db_timeout=30s')), [[0]]);
}

/** sqlite_master lists only user objects (foo, parent, child from the two before), and dropping every listed table succeeds. */
export async function sqliteMasterListsOnlyUserObjects(cluster: TestCluster, leader: TestNode, follower: TestNode): Promise<void> {
  results(await leader.execute([['INSERT INTO foo(name) VALUES (?)', 'keyed']], ''));
  const listed = values(await follower.query('SELECT name FROM sqlite_master ORDER BY name', '?level=strong'));
  assert.deepEqual(listed, [['child'], ['foo'], ['parent']]);
  const tables = values(await leader.query("SELECT name FROM sqlite_master WHERE type = 'table'"));
  const dropped = await leader.execute(tables.map(([name]) => `DROP TABLE "${String(name)}"`));
  assert.deepEqual(results(dropped), [{}, {}, {}]);
  await cluster.waitForConvergence();
  for (const node of cluster.nodes) assert.deepEqual(values(await node.query('SELECT count(*) FROM sqlite_master', '?level=none')), [[0]], node.id);
}
