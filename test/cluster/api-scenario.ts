/**
 * The API scenarios of api.test.ts, shared with the etcd log's run
 * (test/etcd/etcd-cluster-scenarios.test.ts): the same assertions on a running 3-node
 * cluster whose nodes take `--http-max-body-bytes bodyBytesMax`.
 */
import assert from 'node:assert/strict';
// rqlite-js's built `lib/` needs @babel/runtime (undeclared, not installed); its ES source loads through tsx.
// @ts-expect-error rqlite-js ships no type declarations.
import { DataApiClient } from 'rqlite-js/es6/index.js';
import { http, type TestCluster, type TestNode } from './harness.js';

/** A follower's /nodes?ver=2 lists every node of the cluster, all voters. */
export async function everyNodeListedAsVoter(cluster: TestCluster, follower: TestNode): Promise<void> {
  const nodes = await http(`${follower.url}/nodes?ver=2`);
  const list = (nodes.body as { nodes: { id: string; voter: boolean }[] }).nodes;
  assert.deepEqual(list.map((node) => node.id).sort(), cluster.nodes.map((node) => node.id).sort());
  assert.ok(list.every((node) => node.voter));
}

/** Bad input of every kind gets a clear error and leaves the data unchanged on every node. */
export async function badInputLeavesDataUnchanged(cluster: TestCluster, leader: TestNode, follower: TestNode, bodyBytesMax: number): Promise<void> {
  assert.equal((await leader.execute(['CREATE TABLE accounts (id INTEGER PRIMARY KEY, owner TEXT NOT NULL, balance INTEGER NOT NULL)'])).status, 200);
  assert.equal((await leader.execute([["INSERT INTO accounts(owner, balance) VALUES ('ada', 100), ('bob', 50)"]])).status, 200);
  const before = await cluster.waitForConvergence();

  const malformed = await http(`${follower.url}/db/execute`, {
    method: 'POST',
    body: '[["INSERT INTO accounts',
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(malformed.status, 400, malformed.text);
  assert.match(malformed.text, /invalid JSON/i);

  const wrongType = await follower.execute([['INSERT INTO accounts(owner, balance) VALUES (?, ?)', 'eve', { nested: { object: true } }]]);
  assert.equal(wrongType.status, 400, wrongType.text);

  const oversized = await http(`${follower.url}/db/execute`, {
    method: 'POST',
    body: JSON.stringify([['INSERT INTO accounts(owner, balance) VALUES (?, 1)', 'x'.repeat(bodyBytesMax)]]),
    headers: { 'content-type': 'application/json' },
  });
  assert.equal(oversized.status, 413, oversized.text);

  const unknownLevel = await follower.query('SELECT count(*) FROM accounts', '?level=bogus');
  assert.equal(unknownLevel.status, 200, 'rqlite treats an unknown level as weak');
  assert.deepEqual((unknownLevel.body as { results: { values: number[][] }[] }).results[0]?.values, [[2]]);

  const failedTransaction = await follower.execute(
    [["UPDATE accounts SET balance = balance - 30 WHERE owner = 'ada'"], ['INSERT INTO no_such_table VALUES (1)']],
    '?transaction',
  );
  assert.equal(failedTransaction.status, 200, failedTransaction.text);
  const transactionResults = (failedTransaction.body as { results: { error?: string }[] }).results;
  assert.ok(
    transactionResults.some((result) => /no such table/.test(result.error ?? '')),
    failedTransaction.text,
  );

  const writeAsQuery = await follower.query("INSERT INTO accounts(owner, balance) VALUES ('mallory', 1000000)", '?level=none');
  const writeAsQueryError = writeAsQuery.status !== 200 || (writeAsQuery.body as { results?: { error?: string }[] }).results?.[0]?.error !== undefined;
  assert.ok(writeAsQueryError, `a write on the query path must fail: ${writeAsQuery.text}`);

  const pragma = await follower.execute(['PRAGMA journal_mode=DELETE']);
  const pragmaRefused = pragma.status === 400 || /disallowed pragma/.test(pragma.text);
  assert.ok(pragmaRefused, `PRAGMA journal_mode must be refused: ${pragma.status} ${pragma.text}`);

  const after = await cluster.waitForConvergence();
  assert.equal(after.checksum, before.checksum, 'content unchanged on every node');
  const rows = await leader.query('SELECT owner, balance FROM accounts ORDER BY id', '?level=strong');
  assert.deepEqual((rows.body as { results: { values: unknown[][] }[] }).results[0]?.values, [
    ['ada', 100],
    ['bob', 50],
  ]);
}

interface DataResults {
  hasError(): boolean;
  getFirstError(): unknown;
  get(index: number): { get(property: string): unknown; getLastInsertId(): number } | undefined;
  toArray(): Record<string, unknown>[];
}
interface DataClient {
  execute(sql: unknown, options?: Record<string, unknown>): Promise<DataResults>;
  query(sql: unknown, options?: Record<string, unknown>): Promise<DataResults>;
}

/** rqlite's own client (rqlite-js) executes and queries with parameters through a follower. */
export async function rqliteJsThroughFollower(cluster: TestCluster, follower: TestNode): Promise<void> {
  const client = new DataApiClient(follower.url) as DataClient;
  const created = await client.execute('CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)');
  assert.equal(created.hasError(), false, String(created.getFirstError()));
  const inserted = await client.execute([
    ['INSERT INTO people(name, age) VALUES(?, ?)', 'fiona', 20],
    ['INSERT INTO people(name, age) VALUES(:name, :age)', { name: 'declan', age: 25 }],
  ]);
  assert.equal(inserted.hasError(), false, String(inserted.getFirstError()));
  assert.equal(inserted.get(1)?.getLastInsertId(), 2);
  for (const level of ['weak', 'strong', 'none']) {
    const rows = await client.query([['SELECT name, age FROM people WHERE age >= ? ORDER BY id', 20]], { level });
    assert.equal(rows.hasError(), false, `${level}: ${String(rows.getFirstError())}`);
    if (level !== 'none')
      assert.deepEqual(rows.toArray(), [
        { name: 'fiona', age: 20 },
        { name: 'declan', age: 25 },
      ]);
  }
  await cluster.waitForConvergence();
}
