/**
 * Several databases through the log, shared by the embedded Raft's test
 * (several-databases.test.ts) and the etcd log's (test/etcd/etcd-several-databases.test.ts):
 * create, drop and list with their refusals and `--db-count-max 4`; writes and reads per
 * database at every read level; `/db/request`, idempotency keys, a per-database backup,
 * the client and an interactive transaction per database; a drop under a write load on
 * another database loses nothing on any of `nodes`. Ends with databases main, a and b
 * (b re-created, one row in u).
 */
import assert from 'node:assert/strict';
import { createClient } from '../../src/client/index.js';
import { type HttpAnswer, type TestCluster, type TestNode, waitFor } from './harness.js';

function post(node: TestNode, path: string): Promise<HttpAnswer> {
  return node.request(path, { method: 'POST' });
}

export function rowsOf(answer: HttpAnswer): unknown {
  assert.equal(answer.status, 200, answer.text);
  const results = (answer.body as { results: { values?: unknown[][]; error?: string }[] }).results;
  assert.equal(results[0]?.error, undefined, answer.text);
  return results[0]?.values;
}

export async function databasesOn(node: TestNode): Promise<unknown> {
  const answer = await node.request('/db/list');
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { databases: string[] }).databases;
}

export async function countOn(node: TestNode, database: string, table: string): Promise<number> {
  const values = rowsOf(await node.query(`SELECT count(*) FROM ${table}`, `?level=none&db=${database}`)) as number[][];
  return values[0]?.[0] ?? -1;
}

/** `third` is any node (read with min_index); `nodes` are every running node, `leader` and `follower` among them. */
export async function databasesThroughTheLog(
  cluster: TestCluster,
  parts: { leader: TestNode; follower: TestNode; third: TestNode; nodes: readonly TestNode[] },
): Promise<void> {
  const { leader, follower, third, nodes } = parts;
  // Through a follower: forwarded to the leader, one log entry each.
  const created = await post(follower, '/db/create?db=a');
  assert.equal(created.status, 200, created.text);
  assert.equal((created.body as { database: string }).database, 'a');
  assert.equal((await post(leader, '/db/create?db=b')).status, 200);
  // The answers a production user gets wrong otherwise.
  assert.equal((await post(leader, '/db/create?db=a')).status, 409);
  assert.equal((await post(leader, '/db/create?db=-bad')).status, 400);
  assert.equal((await post(leader, `/db/create?db=${'x'.repeat(65)}`)).status, 400);
  assert.equal((await post(leader, '/db/drop?db=main')).status, 400);
  assert.equal((await post(leader, '/db/drop?db=nope')).status, 404);
  assert.equal((await leader.query('SELECT 1', '?db=nope')).status, 404);
  assert.equal((await leader.execute(['CREATE TABLE t(v)'], '?db=nope')).status, 404);
  // --db-count-max 4: main, a, b, c; d is one past the bound.
  assert.equal((await post(leader, '/db/create?db=c')).status, 200);
  const refused = await post(leader, '/db/create?db=d');
  assert.equal(refused.status, 409, refused.text);
  assert.match(refused.text, /too many databases: at most 4/);
  assert.equal((await post(leader, '/db/drop?db=c')).status, 200);

  // Writes per database, through a follower; each database its own tables.
  assert.equal((await follower.execute(['CREATE TABLE t(v)', "INSERT INTO t VALUES ('main')"])).status, 200);
  assert.equal((await follower.execute(['CREATE TABLE t(v)', "INSERT INTO t VALUES ('a')"], '?db=a')).status, 200);
  const written = await follower.execute(['CREATE TABLE u(v)', "INSERT INTO u VALUES ('b')"], '?db=b&raft_index');
  const index = (written.body as { results: unknown[]; raft_index?: number }).raft_index ?? 0;
  // Read levels: linearizable and strong on a follower, none with min_index on another.
  assert.deepEqual(rowsOf(await follower.query('SELECT v FROM t', '?db=a&level=linearizable')), [['a']]);
  assert.deepEqual(rowsOf(await follower.query('SELECT v FROM u', '?db=b&level=strong')), [['b']]);
  assert.deepEqual(rowsOf(await third.query('SELECT v FROM t', `?db=main&level=none&min_index=${index}`)), [['main']]);
  assert.equal((await leader.query('SELECT v FROM u', '?db=a')).status, 200);
  assert.match((await leader.query('SELECT v FROM u', '?db=a')).text, /no such table: u/);
  // /db/request routes by the database's own schema.
  const mixed = await leader.request('/db/request?db=a', { method: 'POST', json: ["INSERT INTO t VALUES ('a2')", 'SELECT count(*) FROM t'] });
  assert.equal(mixed.status, 200, mixed.text);
  // The same idempotency key in two databases: each applies it once.
  for (const database of ['a', 'b', 'a']) {
    const table = database === 'a' ? 't' : 'u';
    const keyed = await leader.request(`/db/execute?db=${database}`, {
      method: 'POST',
      body: JSON.stringify([`INSERT INTO ${table} VALUES ('keyed')`]),
      headers: { 'content-type': 'application/json', 'Idempotency-Key': 'k1' },
    });
    assert.equal(keyed.status, 200, keyed.text);
  }
  assert.equal(await countOn(leader, 'a', "t WHERE v = 'keyed'"), 1);
  assert.equal(await countOn(leader, 'b', "u WHERE v = 'keyed'"), 1);

  // A backup of one database, through a follower (the leader's copy): its objects only.
  const dump = await follower.request('/db/backup?db=b&fmt=sql');
  assert.equal(dump.status, 200, dump.text);
  assert.match(dump.text, /CREATE TABLE u/);
  assert.doesNotMatch(dump.text, /CREATE TABLE t\b/);
  assert.equal((await follower.request('/db/backup?db=nope')).status, 404);
  assert.equal((await leader.request('/db/load?db=nope', { method: 'POST', body: 'SELECT 1' })).status, 404);

  // The client addresses its database on every call; an unknown one is a 404 it does not retry.
  const client = createClient({ nodes: [follower.url], database: 'a', discoverNodes: false });
  const missing = createClient({ nodes: [follower.url], database: 'nope', discoverNodes: false });
  try {
    await client.execute("INSERT INTO t VALUES ('client')");
    const read = await client.query<{ n: number }>("SELECT count(*) AS n FROM t WHERE v = 'client'", { consistency: 'linearizable' });
    assert.deepEqual(read.results[0]?.rows, [{ n: 1 }]);
    await assert.rejects(missing.query('SELECT 1'), /database "nope" does not exist/);
  } finally {
    await client.close();
    await missing.close();
  }

  // An interactive transaction in database a: its statements see a, its commit applies in a only.
  assert.equal((await post(leader, '/db/begin?db=nope')).status, 404);
  const begun = await post(leader, '/db/begin?db=a');
  assert.equal(begun.status, 200, begun.text);
  const transactionId = (begun.body as { tx_id: string }).tx_id;
  const inside = await leader.request(`/db/request?tx=${transactionId}`, {
    method: 'POST',
    json: ["INSERT INTO t VALUES ('in-tx')", "SELECT count(*) FROM t WHERE v = 'in-tx'"],
  });
  assert.equal(inside.status, 200, inside.text);
  assert.deepEqual((inside.body as { results: { values?: unknown }[] }).results[1]?.values, [[1]], inside.text);
  const committed = await post(leader, `/db/commit?tx=${transactionId}&db=a`);
  assert.equal(committed.status, 200, committed.text);
  assert.equal(await countOn(leader, 'a', "t WHERE v = 'in-tx'"), 1);
  assert.equal(await countOn(leader, 'main', "t WHERE v = 'in-tx'"), 0);

  // Drop b under a write load on a: every acknowledged write to a is there, on every node.
  let acknowledged = 0;
  let writing = true;
  const load = (async () => {
    while (writing) {
      const answer = await leader.execute([['INSERT INTO t VALUES (?)', `load-${acknowledged}`]], '?db=a');
      assert.equal(answer.status, 200, answer.text);
      acknowledged += 1;
    }
  })();
  await waitFor('some writes under load', () => Promise.resolve(acknowledged >= 20 ? true : undefined));
  assert.equal((await post(follower, '/db/drop?db=b')).status, 200);
  await waitFor('more writes after the drop', () => Promise.resolve(acknowledged >= 60 ? true : undefined));
  writing = false;
  await load;
  const lastWrite = await leader.execute(["INSERT INTO t VALUES ('last')"], '?db=a&raft_index');
  const lastIndex = (lastWrite.body as { raft_index: number }).raft_index;
  await cluster.waitForApplied(lastIndex, nodes);
  for (const node of nodes) {
    assert.deepEqual(await databasesOn(node), ['main', 'a']);
    assert.equal(await countOn(node, 'a', "t WHERE v LIKE 'load-%'"), acknowledged);
  }
  assert.equal((await leader.query('SELECT 1', '?db=b')).status, 404);
  // Re-created, b starts empty.
  assert.equal((await post(leader, '/db/create?db=b')).status, 200);
  assert.equal((await leader.execute(['CREATE TABLE u(v)', "INSERT INTO u VALUES ('b-again')"], '?db=b')).status, 200);
}
