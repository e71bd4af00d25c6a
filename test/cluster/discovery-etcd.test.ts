/**
 * -disco-mode etcd-kv with a real etcd: three nodes started with only discovery flags form
 * one cluster (one claims the key and bootstraps, the others join the leader it names); the
 * key follows the leader; a leader killed with -9 comes back into the cluster, restarted on
 * its state or, without it, rejoining through the leader the key names; a node started
 * after the cluster formed joins it through the key. Bad input: an unknown
 * mode or a malformed config exits 2, an unreachable etcd fails the start after the bounded
 * attempts with an error naming etcd.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { Etcd3 } from 'etcd3';
import { EtcdCluster } from '../etcd/etcd-cluster.js';
import { freePort, TestCluster, waitFor, type TestNode } from './harness.js';

let etcd: EtcdCluster;
let etcdClient: Etcd3;
const clusters: TestCluster[] = [];

before(async () => {
  etcd = await EtcdCluster.start({ size: 1, subnet: 4 });
  etcdClient = new Etcd3({ hosts: etcd.endpoints });
});

after(async () => {
  for (const cluster of clusters) await cluster.close();
  etcdClient?.close();
  await etcd?.close();
});

async function createCluster(size: number, firstHostIndex: number): Promise<TestCluster> {
  const cluster = await TestCluster.create({ size, formation: 'join', firstHostIndex, explicitNodeIds: true });
  clusters.push(cluster);
  return cluster;
}

function etcdFlags(key: string): string[] {
  const config = JSON.stringify({ endpoints: etcd.endpoints.map((endpoint) => endpoint.replace('http://', '')) });
  return ['-disco-mode', 'etcd-kv', '-disco-key', key, '-disco-config', config, '-join-interval', '0.5s', '-join-attempts', '60'];
}

async function recordedLeader(key: string): Promise<{ id: string; api_addr: string; addr: string } | undefined> {
  const value = await etcdClient.get(`/${key}/leader`).string();
  return value === null ? undefined : (JSON.parse(value) as { id: string; api_addr: string; addr: string });
}

function exitCode(node: TestNode): Promise<number | null> {
  const child = node.process;
  if (child === undefined) throw new Error('not started');
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

test('etcd-kv: three nodes form a cluster; the key follows the leader; a killed leader comes back (with or without data); a later node joins', async () => {
  const cluster = await createCluster(3, 1);
  const key = `quorumlite-test-${process.pid}`;
  const flags = etcdFlags(key);
  await cluster.withLogs(async () => {
    for (const node of cluster.nodes) node.start(flags);
    await cluster.waitForMembers(3);
    const claimed = cluster.nodes.filter((node) => node.log().includes('"event":"disco-claimed"'));
    assert.equal(claimed.length, 1, 'exactly one node claimed the key and bootstrapped');
    const leader = await cluster.waitForLeader();
    await waitFor('etcd names the leader', async () => ((await recordedLeader(key))?.addr === leader.raftAddress ? true : undefined));
    assert.deepEqual(await recordedLeader(key), { id: leader.id, api_addr: leader.url, addr: leader.raftAddress });
    await cluster.writeTableEverywhere('formed');

    await leader.kill();
    const survivors = cluster.nodes.filter((node) => node !== leader);
    const next = await cluster.waitForLeader(survivors);
    await waitFor('etcd names the new leader', async () => ((await recordedLeader(key))?.addr === next.raftAddress ? true : undefined));
    leader.start(flags);
    await cluster.waitForMembers(3);
    await cluster.writeTableEverywhere('restarted');

    // A leader killed and restarted without its data is a new node to itself: it finds the
    // current leader in etcd and rejoins through it (the cluster replicates to it from scratch).
    const lost = await cluster.waitForLeader();
    await lost.kill();
    rmSync(lost.dataDirectory, { recursive: true, force: true });
    const current = await cluster.waitForLeader(cluster.nodes.filter((node) => node !== lost));
    await waitFor('etcd names the current leader', async () => ((await recordedLeader(key))?.addr === current.raftAddress ? true : undefined));
    lost.start(flags);
    await cluster.waitForMembers(3);
    await cluster.writeTableEverywhere('rejoined');
    assert.match(lost.log(), new RegExp(`"event":"disco-leader".*"address":"${current.raftAddress}"`), 'it joined the leader etcd names');

    const later = await cluster.addNodeSpec();
    later.start(flags);
    await cluster.waitForMembers(4);
    await cluster.writeTableEverywhere('later');
    assert.match(later.log(), /"event":"disco-leader"/, 'the later node joined the leader etcd names');
  });
});

test('etcd-kv bad input: an unknown mode and a malformed config exit 2; an unreachable etcd fails the start after bounded attempts', async () => {
  const cluster = await createCluster(3, 7);
  await cluster.withLogs(async () => {
    const [unknownMode, badConfig, unreachable] = cluster.nodes as [TestNode, TestNode, TestNode];
    unknownMode.start(['-disco-mode', 'zookeeper']);
    assert.equal(await exitCode(unknownMode), 2);
    assert.match(unknownMode.log(), /invalid disco mode zookeeper/);
    badConfig.start(['-disco-mode', 'etcd-kv', '-disco-config', '{"endpoints": [']);
    assert.equal(await exitCode(badConfig), 2);
    assert.match(badConfig.log(), /-disco-config: not valid JSON/);
    const closedPort = await freePort('127.0.4.200');
    const started = Date.now();
    unreachable.start([
      ...['-disco-mode', 'etcd-kv', '-disco-config', JSON.stringify({ endpoints: [`127.0.4.200:${closedPort}`], 'dial-timeout': '500ms' })],
      ...['-join-attempts', '2', '-join-interval', '100ms'],
    ]);
    assert.equal(await exitCode(unreachable), 1);
    assert.match(
      unreachable.log(),
      /-disco-mode etcd-kv: no cluster to form or join through etcd at http:\/\/127\.0\.4\.200:\d+ \(key \/rqlite\/leader\) after 2 attempts/,
    );
    assert.ok(Date.now() - started < 30_000, 'the attempts are bounded');
  });
});
