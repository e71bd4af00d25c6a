/**
 * Several databases on the etcd log (`--consensus etcd`, real processes, a 1-member
 * etcd; docs/ARCHITECTURE.md, "Several databases" and "etcd as the consensus engine"):
 * create, drop and list go through the etcd log as with the embedded Raft, writes and
 * reads per database from different nodes, `--db-count-max` holds; a node down while
 * the log is compacted past it catches up at restart from a copy of the leader's state
 * that carries every database (and none dropped meanwhile); a killed node restarts on
 * its data with every database intact and nothing applied twice. Then the embedded Raft's
 * scenario (several-databases-scenario.ts) runs unchanged on a second etcd-log cluster.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { TestCluster, type HttpAnswer, type TestNode, waitFor } from '../cluster/harness.js';
import { databasesThroughTheLog } from '../cluster/several-databases-scenario.js';
import { EtcdLogCluster } from './etcd-log-cluster.js';

const prefix = `/quorumlite-several-databases-${process.pid}`;
const lagMax = 20;

let etcdLog: EtcdLogCluster;
let cluster: TestCluster;

before(async () => {
  etcdLog = await EtcdLogCluster.start({
    prefix,
    // A killed node keeps its registration; compaction passes it once it is lagMax entries behind.
    flags: ['--etcd-lease-ttl', '120', '--etcd-compaction-lag-max', String(lagMax), '--raft-snap', '1', '--raft-trailing-logs', '0', '--db-count-max', '3'],
    firstHostIndex: 41,
  });
  cluster = etcdLog.cluster;
});

after(async () => {
  await etcdLog?.close();
});

function post(node: TestNode, path: string): Promise<HttpAnswer> {
  return node.request(path, { method: 'POST' });
}

function rowsOf(answer: HttpAnswer): unknown {
  assert.equal(answer.status, 200, answer.text);
  const results = (answer.body as { results: { values?: unknown[][]; error?: string }[] }).results;
  assert.equal(results[0]?.error, undefined, answer.text);
  return results[0]?.values;
}

async function databasesOn(node: TestNode): Promise<unknown> {
  const answer = await node.request('/db/list');
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { databases: string[] }).databases;
}

async function countOn(node: TestNode, database: string): Promise<unknown> {
  return (rowsOf(await node.query('SELECT count(*) FROM t', `?level=none&db=${database}`)) as unknown[][])[0]?.[0];
}

async function insert(node: TestNode, database: string, value: string): Promise<number> {
  const answer = await node.execute([['INSERT INTO t(v) VALUES (?)', value]], `?db=${database}&raft_index`);
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { raft_index: number }).raft_index;
}

test('databases are created, written, dropped and caught up from a copy on the etcd log', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const [follower, other] = cluster.nodes.filter((node) => node !== leader) as [TestNode, TestNode];

    // Create through a follower (forwarded to the etcd leader) and through the leader.
    const created = await post(follower, '/db/create?db=a');
    assert.equal(created.status, 200, created.text);
    assert.equal((created.body as { database: string }).database, 'a');
    assert.equal((await post(leader, '/db/create?db=b')).status, 200);
    assert.equal((await post(other, '/db/create?db=a')).status, 409);
    // --db-count-max 3: main, a, b; c is one past the bound.
    const refused = await post(leader, '/db/create?db=c');
    assert.equal(refused.status, 409, refused.text);
    assert.match(refused.text, /too many databases: at most 3/);
    assert.equal((await other.query('SELECT 1', '?db=nope')).status, 404);

    // Each database its own rows, written on one node and read on another.
    for (const database of ['main', 'a', 'b'])
      assert.equal((await follower.execute(['CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'], `?db=${database}`)).status, 200);
    await insert(follower, 'a', 'a from follower');
    await insert(other, 'b', 'b from other');
    await insert(leader, 'main', 'main from leader');
    assert.deepEqual(rowsOf(await other.query('SELECT v FROM t', '?db=a&level=linearizable')), [['a from follower']]);
    assert.deepEqual(rowsOf(await follower.query('SELECT v FROM t', '?db=b&level=strong')), [['b from other']]);
    assert.deepEqual(rowsOf(await follower.query('SELECT v FROM t', '?level=linearizable')), [['main from leader']]);
    const mixed = await other.request('/db/request?db=b', { method: 'POST', json: ["INSERT INTO t(v) VALUES ('b request')", 'SELECT count(*) FROM t'] });
    assert.equal(mixed.status, 200, mixed.text);
    assert.deepEqual((mixed.body as { results: { values?: unknown }[] }).results[1]?.values, [[2]], mixed.text);
    // An interactive transaction in b, begun on a follower: its commit applies in b only.
    const begun = await post(follower, '/db/begin?db=b');
    assert.equal(begun.status, 200, begun.text);
    const transactionId = (begun.body as { tx_id: string }).tx_id;
    const inside = await follower.request(`/db/request?tx=${transactionId}`, { method: 'POST', json: ["INSERT INTO t(v) VALUES ('b in transaction')"] });
    assert.equal(inside.status, 200, inside.text);
    const committed = await post(follower, `/db/commit?tx=${transactionId}&db=b`);
    assert.equal(committed.status, 200, committed.text);
    assert.deepEqual(rowsOf(await other.query('SELECT count(*) FROM t', '?db=b&level=linearizable')), [[3]]);
    assert.deepEqual(rowsOf(await other.query('SELECT count(*) FROM t', '?level=linearizable')), [[1]]);
    // A backup of one database: its rows only.
    const dump = await other.request('/db/backup?db=b&fmt=sql');
    assert.equal(dump.status, 200, dump.text);
    assert.match(dump.text, /b in transaction/);
    assert.doesNotMatch(dump.text, /main from leader/);

    // Kill a follower (its registration stays: a long lease); meanwhile drop b, create c,
    // and write past the compaction bound. Restarted, its next entry is gone from etcd.
    const { appliedIndex: downApplied } = await cluster.waitForConvergence();
    await other.kill();
    assert.equal((await post(follower, '/db/drop?db=b')).status, 200);
    assert.equal((await post(leader, '/db/create?db=c')).status, 200);
    assert.equal((await leader.execute(['CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'], '?db=c')).status, 200);
    for (let row = 0; row < lagMax; row += 1) {
      await insert(leader, 'a', `a while down ${row}`);
      await insert(follower, 'c', `c while down ${row}`);
    }
    await waitFor('compaction past the killed node', async () => ((await etcdLog.firstIndex()) > downApplied + 1 ? true : undefined));
    other.start(cluster.flagsFor(other));
    const { appliedIndex } = await cluster.waitForConvergence();
    await cluster.waitForApplied(appliedIndex, cluster.nodes);
    assert.match(other.log(), /"event":"etcd-catch-up-restored"/, 'the restarted node caught up from a copy');
    for (const node of cluster.nodes) {
      assert.deepEqual(await databasesOn(node), ['main', 'a', 'c'], node.id);
      assert.equal(await countOn(node, 'a'), lagMax + 1, node.id);
      assert.equal(await countOn(node, 'c'), lagMax, node.id);
      assert.equal(await countOn(node, 'main'), 1, node.id);
      assert.equal((await node.query('SELECT 1', '?db=b&level=none')).status, 404, node.id);
    }

    // kill -9 the caught-up node, write meanwhile, restart it: every database intact, nothing applied twice.
    await other.kill();
    await insert(leader, 'a', 'a down again');
    await insert(leader, 'c', 'c down again');
    other.start(cluster.flagsFor(other));
    const last = await insert(follower, 'a', 'a after restart');
    await cluster.waitForApplied(last, cluster.nodes);
    assert.deepEqual(await databasesOn(other), ['main', 'a', 'c']);
    assert.equal(await countOn(other, 'a'), lagMax + 3);
    assert.equal(await countOn(other, 'c'), lagMax + 1);
    assert.deepEqual(rowsOf(await other.query('SELECT v FROM t', '?level=none')), [['main from leader']]);
  }));

test("the Raft test's several-databases scenario runs unchanged on the etcd log", async () => {
  const shared = await TestCluster.create({
    size: 3,
    formation: 'etcd',
    etcd: { endpoints: etcdLog.etcd.endpoints, prefix: `${prefix}-shared` },
    flags: ['--db-count-max', '4'],
    firstHostIndex: 51,
  });
  try {
    await shared.start().catch((error: unknown) => {
      throw new Error(`${String(error)}\n${shared.logs()}`);
    });
    await shared.withLogs(async () => {
      const leader = await shared.waitForLeader();
      const [follower, third] = shared.nodes.filter((node) => node !== leader) as [TestNode, TestNode];
      await databasesThroughTheLog(shared, { leader, follower, third, nodes: shared.nodes });
    });
  } finally {
    await shared.close();
  }
});
