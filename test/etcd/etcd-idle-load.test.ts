/**
 * What an idle cluster on the etcd log asks of etcd: each node reads the leader key, the
 * log's end and the members once a second, beside the watches; a read's `freshness` or
 * readiness that needs fresher contact with the leader asks for it then (one read of the
 * leader key, shared). Reading the leader key at every poll (10 a second at the default
 * heartbeat) kept an idle 3-node cluster and its etcd at a fifth of a core, and all three
 * at half a core (bench/README.md, issue 16). Counted from etcd's own metrics
 * (`grpc_server_handled_total` of its KV service), over a window of real time: a slow
 * machine makes fewer calls, never more.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leaderContactWaitMsMax } from '../../src/node/leader-contact.js';
import { sleep } from '../cluster/harness.js';
import { EtcdLogCluster } from './etcd-log-cluster.js';

const prefix = `/quorumlite-idle-load-${process.pid}`;
const windowMs = 5_000;
/**
 * Per node and second: 1 leader-key read, 1 read of the members, 1 or 2 of the log's end,
 * and on the leader 1 of the applied reports (compaction): at most 5.3. The leader key read
 * at every poll measured 12.7; every poll reading all three, 36.5.
 */
const kvCallsPerNodeSecondMax = 6;

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

test('an idle node reads the leader key, the log and the members once a second, no more', async (t) =>
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

test("a follower's freshness tighter than its polls asks etcd for contact then: answered while etcd answers, stale once it does not", async () =>
  etcdLog.cluster.withLogs(async () => {
    const cluster = etcdLog.cluster;
    const leader = await cluster.waitForLeader();
    const follower = cluster.running().find((node) => node !== leader) as (typeof cluster.nodes)[number];
    for (let attempt = 0; attempt < 5; attempt++) {
      await sleep(300); // contact from the last poll is older than the freshness asked
      const fresh = await follower.query('SELECT count(*) FROM t', '?level=none&freshness=50ms');
      assert.equal(fresh.status, 200, fresh.text);
      assert.deepEqual((fresh.body as { results: { values: unknown[][] }[] }).results[0]?.values, [[0]], fresh.text);
      assert.equal((await follower.request('/readyz')).status, 200);
    }
    // etcd (one member here) stopped: contact cannot be renewed, so the same read is stale, after waiting at most its freshness.
    etcdLog.etcd.pause(0);
    try {
      await sleep(300);
      const startedMs = performance.now();
      const stale = await follower.query('SELECT count(*) FROM t', '?level=none&freshness=50ms');
      const waitedMs = performance.now() - startedMs;
      assert.equal(stale.status, 200, stale.text);
      assert.deepEqual(stale.body, { results: [], error: 'stale read' });
      assert.ok(waitedMs < 50 + 450, `the stale answer took ${waitedMs.toFixed(0)} ms`);
      assert.equal((await follower.query('SELECT count(*) FROM t', '?level=none')).status, 200, 'without freshness the node still answers');
      // A freshness longer than the wait bound waits at most leaderContactWaitMsMax (1 s) for etcd's answer.
      await sleep(2_100);
      const boundStartedMs = performance.now();
      const bounded = await follower.query('SELECT count(*) FROM t', '?level=none&freshness=2s');
      const boundWaitedMs = performance.now() - boundStartedMs;
      assert.deepEqual(bounded.body, { results: [], error: 'stale read' });
      assert.ok(boundWaitedMs >= leaderContactWaitMsMax - 50 && boundWaitedMs < leaderContactWaitMsMax + 500, `waited ${boundWaitedMs.toFixed(0)} ms`);
    } finally {
      etcdLog.etcd.resume(0);
    }
  }));
