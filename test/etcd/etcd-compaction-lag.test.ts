/**
 * `--etcd-compaction-lag-max` on real processes: a node that stays registered in etcd
 * (a lease TTL longer than the test) but is SIGSTOPped while writes continue holds the
 * etcd log's compaction back while it is at most the bound behind the leader, and no
 * longer once it is one entry past it; after SIGCONT it catches up (from a copy of the
 * leader's database, when its next entry is gone) and has every row.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { sleep, type TestCluster, type TestNode, waitFor } from '../cluster/harness.js';
import { EtcdLogCluster } from './etcd-log-cluster.js';

const prefix = `/quorumlite-compaction-lag-${process.pid}`;
const lagMax = 50;

let etcdLog: EtcdLogCluster;
let cluster: TestCluster;

before(async () => {
  etcdLog = await EtcdLogCluster.start({
    prefix,
    // The paused node keeps its registration (and its reported applied index) for the whole test.
    flags: ['--etcd-lease-ttl', '120', '--etcd-compaction-lag-max', String(lagMax), '--raft-snap', '1', '--raft-trailing-logs', '0'],
    firstHostIndex: 7,
  });
  cluster = etcdLog.cluster;
});

after(async () => {
  await etcdLog?.close();
});

async function insert(node: TestNode, value: string): Promise<number> {
  const answer = await node.execute([['INSERT INTO t(v) VALUES (?)', value]], '?raft_index');
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { raft_index: number }).raft_index;
}

async function rowCount(node: TestNode): Promise<unknown> {
  const answer = await node.query('SELECT count(*) FROM t', '?level=none');
  return (answer.body as { results: { values?: unknown[][] }[] }).results[0]?.values?.[0]?.[0];
}

test('compaction waits for a paused node up to the lag bound, passes it one entry later; the node catches up with every row', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'])).status, 200);
    let rows = 0;
    for (; rows < 10; rows += 1) await insert(leader, `before ${rows}`);
    const [paused, third] = cluster.nodes.filter((node) => node !== leader) as [TestNode, TestNode];
    const { appliedIndex: pausedApplied } = await cluster.waitForConvergence();
    // Every node applied everything: compaction reaches the end (trailing 0) before the pause.
    await waitFor('compaction up to the common applied index', async () => ((await etcdLog.firstIndex()) === pausedApplied + 1 ? true : undefined));
    const pid = paused.process?.pid;
    assert.ok(pid !== undefined);
    process.kill(pid, 'SIGSTOP');
    try {
      // Exactly at the bound: the leader is lagMax entries past the paused node, which still holds the log.
      let last = pausedApplied;
      for (let count = 0; count < lagMax; count += 1, rows += 1) last = await insert(leader, `paused ${count}`);
      assert.equal(last - pausedApplied, lagMax);
      await waitFor('the third node applied', async () => ((await third.checksum()).appliedIndex === last ? true : undefined));
      // Several polls of the leader (one a second at most) with every other member reported: nothing may go.
      await sleep(4000);
      assert.equal(await etcdLog.firstIndex(), pausedApplied + 1, 'compaction waits for a node at the bound');
      // One entry past the bound: compaction passes the paused node.
      last = await insert(leader, 'past the bound');
      rows += 1;
      const first = await waitFor('compaction past the paused node', async () => {
        const value = await etcdLog.firstIndex();
        return value > pausedApplied + 1 ? value : undefined;
      });
      assert.ok(first > pausedApplied + lagMax, `first ${first}`);
      // The node's log is written asynchronously: the line may land just after etcd shows the compaction.
      await waitFor('the compaction past the paused node logged', async () => (/"event":"etcd-compacted".*"passed":\[/.test(leader.log()) ? true : undefined));
      assert.match(leader.log(), /"event":"etcd-compacted".*"passed":\[/);
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    await waitFor('the paused node has every row', async () => ((await rowCount(paused)) === rows ? true : undefined));
    await cluster.waitForConvergence();
  }));
