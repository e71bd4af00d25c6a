/**
 * `db_timeout` in the shipped form: `quorumlite serve` from dist/, where a read with a
 * deadline runs in the built read process (dist/state-machine/timed-read-process.js).
 * Through a follower of a 2-node cluster at `level=strong`: the read is forwarded, run on
 * the leader, interrupted there, and answered with rqlite's "query timeout" and the
 * read's `raft_index`; a read that ends in time is answered as without db_timeout.
 * test/node/rqlite-parameters.test.ts covers the details in process.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, http, type TestNode } from './harness.js';
import { startLeaderAndFollower } from './leader-and-follower.js';

let cluster: TestCluster;
let follower: TestNode;

before(async () => {
  cluster = await TestCluster.create({ size: 2, formation: 'join' });
  ({ follower } = await startLeaderAndFollower(cluster));
});

after(async () => {
  await cluster?.close();
});

const slowCount = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c';

test('a forwarded strong read past its db_timeout is interrupted on the leader; one in time is unchanged', async () => {
  const created = await http(`${follower.url}/db/execute`, { json: ['CREATE TABLE t (v TEXT)', "INSERT INTO t VALUES ('x')"] });
  assert.equal(created.status, 200, created.text);

  const startedMs = performance.now();
  const interrupted = await http(`${follower.url}/db/query?level=strong&raft_index&db_timeout=100ms`, { json: [slowCount] });
  assert.equal(interrupted.status, 200, interrupted.text);
  const body = interrupted.body as { results: unknown[]; raft_index?: number };
  assert.deepEqual(body.results, [{ error: 'query timeout', error_v2: { message: 'query timeout' } }], `${interrupted.text}\n${cluster.logs()}`);
  assert.ok(typeof body.raft_index === 'number' && body.raft_index > 0, interrupted.text);
  assert.ok(performance.now() - startedMs < 14_000, 'answered long before the read would have ended');

  const plain = await http(`${follower.url}/db/query?level=strong`, { json: ['SELECT v FROM t'] });
  const timed = await http(`${follower.url}/db/query?level=strong&db_timeout=10s`, { json: ['SELECT v FROM t'] });
  assert.equal(timed.text, plain.text);
  assert.equal(timed.text, '{"results":[{"columns":["v"],"types":["text"],"values":[["x"]]}]}');
});
