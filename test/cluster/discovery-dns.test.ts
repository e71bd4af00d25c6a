/**
 * -disco-mode dns and dns-srv with a real DNS server (dnsmasq on 127.0.3.1, asked through
 * the -disco-config `resolver`): three nodes started with only discovery flags and
 * -bootstrap-expect 3 form one cluster, from three A records (every node on the same Raft
 * port, rqlite's rule; the records appear only after the nodes started, as a headless
 * service's do) or from SRV records (each its own port). The cluster re-forms when
 * every node restarts on its state, and a node added to the records later joins it.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { Dnsmasq } from './dnsmasq.js';
import { freePort, TestCluster, waitFor, type TestNode } from './harness.js';

const clusters: TestCluster[] = [];
const dnsServers: Dnsmasq[] = [];

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, host, () => server.close(() => resolve(true)));
  });
}

/** A port free on every host: plain DNS gives addresses only, so every node listens on the same Raft port. */
async function portFreeOn(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt += 1) {
    const port = await freePort(hosts[0] ?? '127.0.0.1');
    const free = await Promise.all(hosts.map((host) => canBind(host, port)));
    if (free.every(Boolean)) return port;
  }
  throw new Error(`no port free on all of ${hosts.join(', ')}`);
}

after(async () => {
  for (const cluster of clusters) await cluster.close();
  for (const server of dnsServers) await server.close();
});

async function startDns(options: Parameters<typeof Dnsmasq.start>[0]): Promise<Dnsmasq> {
  const server = await Dnsmasq.start(options);
  dnsServers.push(server);
  return server;
}

async function createCluster(firstHostIndex: number): Promise<TestCluster> {
  const cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex });
  clusters.push(cluster);
  return cluster;
}

function discoveryFlags(mode: 'dns' | 'dns-srv', config: Record<string, unknown>, dnsServer: Dnsmasq): string[] {
  const disco = ['-disco-mode', mode, '-disco-config', JSON.stringify({ ...config, resolver: dnsServer.address })];
  return [...disco, '-bootstrap-expect', '3', '-join-interval', '0.5s', '-join-attempts', '60'];
}

test('dns: three A records and -bootstrap-expect 3 form one cluster; it re-forms after a restart of every node; a node added to DNS joins', async () => {
  const cluster = await createCluster(1);
  const hosts = cluster.nodes.map((node) => node.spec.host);
  const raftPort = await portFreeOn([...hosts, '127.0.0.4']);
  for (const node of cluster.nodes) node.spec = { ...node.spec, raftPort };
  // No records at first (pods not yet ready): the nodes keep resolving until the records appear.
  const dnsServer = await startDns({ host: '127.0.3.1', hosts: [] });
  const flags = discoveryFlags('dns', { name: 'rqlite.test' }, dnsServer);
  await cluster.withLogs(async () => {
    for (const node of cluster.nodes) node.start(flags);
    const resolvedNothing = '"event":"disco-resolved","name":"rqlite.test","addresses":[]';
    await waitFor('every node resolved the name to nothing yet', () =>
      cluster.nodes.every((node) => node.log().includes(resolvedNothing)) ? true : undefined,
    );
    await dnsServer.setHosts(hosts.map((address) => ({ address, name: 'rqlite.test' })));
    await cluster.waitForMembers(3);
    await cluster.writeTableEverywhere('first');
    for (const node of cluster.nodes) assert.equal(await node.terminate(), 0);
    for (const node of cluster.nodes) node.start(flags);
    await cluster.waitForMembers(3);
    await cluster.writeTableEverywhere('again');
    const added: TestNode = await cluster.addNodeSpec();
    added.spec = { ...added.spec, raftPort };
    await dnsServer.setHosts([...hosts, added.spec.host].map((address) => ({ address, name: 'rqlite.test' })));
    added.start(flags);
    await cluster.waitForMembers(4);
    await cluster.writeTableEverywhere('later');
  });
});

test('dns-srv: SRV records name each node and its own Raft port; -bootstrap-expect 3 forms one cluster', async () => {
  const cluster = await createCluster(5);
  const srvName = '_rqlite-raft._tcp.srv.test';
  const dnsServer = await startDns({
    host: '127.0.3.2',
    hosts: cluster.nodes.map((node) => ({ address: node.spec.host, name: `node${node.spec.index}.srv.test` })),
    srv: cluster.nodes.map((node) => ({ name: srvName, target: `node${node.spec.index}.srv.test`, port: node.spec.raftPort })),
  });
  const flags = discoveryFlags('dns-srv', { name: 'srv.test', service: 'rqlite-raft' }, dnsServer);
  await cluster.withLogs(async () => {
    for (const node of cluster.nodes) node.start(flags);
    await cluster.waitForMembers(3);
    await cluster.writeTableEverywhere('srv');
    const bootstrapped = cluster.nodes.filter((node) => node.log().includes('"event":"bootstrap-expect"'));
    assert.ok(bootstrapped.length >= 1, 'the nodes bootstrapped through -bootstrap-expect discovery');
  });
});
