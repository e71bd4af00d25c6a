/**
 * JSON `2.0`, `1e2` and `-0.0` are REALs on every node of a real 3-node cluster: written
 * through the leader and through a follower (forwarded to the leader over the peer
 * transport), into a column without a declared type, read back on each node with
 * `typeof`, and the nodes' content checksums agree.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, type HttpAnswer, type TestNode } from './harness.js';
import { startLeaderAndFollower } from './leader-and-follower.js';

let cluster: TestCluster;
let leader: TestNode;
let follower: TestNode;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'bootstrap-expect', firstHostIndex: 91 });
  ({ leader, follower } = await startLeaderAndFollower(cluster));
});

after(async () => {
  await cluster?.close();
});

function post(node: TestNode, path: string, body: string): Promise<HttpAnswer> {
  return node.request(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
}

function values(answer: HttpAnswer): unknown[][] {
  assert.equal(answer.status, 200, answer.text);
  const [first] = (answer.body as { results: { values?: unknown[][]; error?: string }[] }).results;
  assert.equal(first?.error, undefined, answer.text);
  return first?.values ?? [];
}

test('whole-number REALs are stored as REAL on every node, written through the leader or a follower', async () => {
  assert.equal((await post(leader, '/db/execute', '["CREATE TABLE t (id INTEGER PRIMARY KEY, value)"]')).status, 200);
  const direct = await post(leader, '/db/execute', '[["INSERT INTO t VALUES (1, ?), (2, ?), (3, ?), (4, ?)", 2.0, 1e2, -0.0, 2]]');
  assert.equal(direct.status, 200, direct.text);
  const forwarded = await post(follower, '/db/execute', '[["INSERT INTO t VALUES (5, ?), (6, :v)", 3.0, {"v": 4e0}]]');
  assert.equal(forwarded.status, 200, forwarded.text);
  await cluster.waitForConvergence();
  const expected = [
    [1, 'real', 2],
    [2, 'real', 100],
    [3, 'real', 0],
    [4, 'integer', 2],
    [5, 'real', 3],
    [6, 'real', 4],
  ];
  for (const node of cluster.nodes) {
    const answer = await node.request(`/db/query?level=none&q=${encodeURIComponent('SELECT id, typeof(value), value FROM t ORDER BY id')}`);
    assert.deepEqual(values(answer), expected, `node ${node.spec.index}`);
  }
  const checksums = await Promise.all(cluster.nodes.map((node) => node.checksum()));
  assert.equal(new Set(checksums.map((state) => state.checksum)).size, 1, JSON.stringify(checksums));
});
