/**
 * The db_timeout scenario of db-timeout.test.ts, shared with the etcd log's run
 * (test/etcd/etcd-cluster-scenarios.test.ts): the same assertions through a follower of a
 * running cluster that has no table `t`.
 */
import assert from 'node:assert/strict';
import { http, type TestCluster, type TestNode } from './harness.js';

const slowCount = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c';

/** A forwarded strong read past its db_timeout is interrupted on the leader; one in time is unchanged. */
export async function forwardedStrongReadTimeout(cluster: TestCluster, follower: TestNode): Promise<void> {
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
}
