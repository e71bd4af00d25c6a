/**
 * What an idle cluster on the etcd log asks of etcd: each node reads the leader key at
 * every poll (10 a second at the default heartbeat: its contact with the leader, which
 * readiness and `freshness` read) and the log's end and the members once a second, beside
 * the watches. Reading all three at every poll kept an idle 3-node cluster and its etcd at
 * about half a core of this machine (bench/README.md, issue 16). Counted from etcd's own
 * metrics (`grpc_server_handled_total` of its KV service), over a window of real time: a
 * slow machine makes fewer calls, never more.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sleep } from '../cluster/harness.js';
import { EtcdLogCluster } from './etcd-log-cluster.js';

const prefix = `/quorumlite-idle-load-${process.pid}`;
const windowMs = 5_000;
/**
 * Per node and second: 10 leader-key reads, 1 read of the members, 1 or 2 of the log's end,
 * and on the leader 1 of the applied reports (compaction): at most 14.3, measured 12.7.
 * Every poll reading all three measured 36.5.
 */
const kvCallsPerNodeSecondMax = 15;

let etcdLog: EtcdLogCluster;

before(async () => {
  etcdLog = await EtcdLogCluster.start({ prefix, firstHostIndex: 11 });
});

after(async () => {
  await etcdLog?.close();
});

/** etcd's count of answered KV calls (Range, Txn, Put, DeleteRange), from its /metrics. */
async function kvCallCount(): Promise<number> {
  const response = await fetch(`${etcdLog.etcd.endpoint(0)}/metrics`);
  assert.equal(response.status, 200);
  let total = 0;
  for (const line of (await response.text()).split('\n')) {
    if (!line.startsWith('grpc_server_handled_total{') || !line.includes('grpc_service="etcdserverpb.KV"')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

test('an idle node reads the leader key at every poll and the rest once a second, no more', async (t) =>
  etcdLog.cluster.withLogs(async () => {
    const cluster = etcdLog.cluster;
    const leader = await cluster.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE t(id INTEGER PRIMARY KEY)'])).status, 200);
    await cluster.waitForConvergence();
    await sleep(1_500); // the last write's applied reports and compaction checks are done
    const before = await kvCallCount();
    const startedMs = performance.now();
    await sleep(windowMs);
    const calls = (await kvCallCount()) - before;
    const perNodeSecond = calls / cluster.nodes.length / ((performance.now() - startedMs) / 1000);
    t.diagnostic(`${calls} KV calls in ${windowMs} ms: ${perNodeSecond.toFixed(1)} per node per second`);
    assert.ok(perNodeSecond > 0, 'the nodes poll etcd at all');
    assert.ok(perNodeSecond <= kvCallsPerNodeSecondMax, `${perNodeSecond.toFixed(1)} KV calls per node per second, over ${kvCallsPerNodeSecondMax}`);
  }));
