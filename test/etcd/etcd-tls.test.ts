/**
 * `serve --consensus etcd` on an etcd that serves TLS and demands client certificates
 * (etcd's --client-cert-auth): nodes given `--etcd-ca-cert`, `--etcd-cert` and
 * `--etcd-key` with https:// endpoints elect a leader and replicate writes; a node given
 * the CA but no client certificate is refused by etcd and never becomes ready.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { closeTlsAgents, http, sleep, TestCluster } from '../cluster/harness.js';
import { TestPki, type IssuedCertificate } from '../cluster/test-certificates.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefix = `/quorumlite-etcd-tls-${process.pid}`;
/** How long a node without a client certificate is watched for never becoming ready. */
const refusedWatchMs = 5_000;

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-etcd-tls-'));
let pki: TestPki;
let client: IssuedCertificate;
let etcd: EtcdCluster;
const clusters: TestCluster[] = [];

before(async () => {
  pki = new TestPki(directory);
  const server = pki.issue('etcd-server', { usage: 'server', subjectAltNames: ['IP:127.0.2.1'] });
  client = pki.issue('etcd-client', { usage: 'client' });
  etcd = await EtcdCluster.start({
    size: 1,
    tls: { caPath: pki.ca.certPath, certPath: server.certPath, keyPath: server.keyPath, client: { ca: pki.ca.cert, cert: client.cert, key: client.key } },
  });
});

after(async () => {
  for (const cluster of clusters) await cluster.close();
  await etcd?.close();
  await closeTlsAgents();
  rmSync(directory, { recursive: true, force: true });
});

test('nodes with --etcd-ca-cert, --etcd-cert and --etcd-key on https:// endpoints elect a leader and replicate', async () => {
  assert.match(etcd.endpoint(0), /^https:\/\//);
  // etcd itself refuses a client without a certificate: the flags are what lets the nodes in.
  await assert.rejects(http(`${etcd.endpoint(0)}/health`, { tls: { ca: pki.ca.cert } }));
  const cluster = await TestCluster.create({
    size: 2,
    formation: 'etcd',
    etcd: { endpoints: etcd.endpoints, prefix },
    flags: ['--etcd-ca-cert', pki.ca.certPath, '--etcd-cert', client.certPath, '--etcd-key', client.keyPath],
  });
  clusters.push(cluster);
  await cluster.withLogs(async () => {
    await cluster.start();
    const leader = await cluster.waitForLeader();
    const created = await leader.execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)', "INSERT INTO t(name) VALUES ('over tls')"]);
    assert.equal(created.status, 200, created.text);
    for (const node of cluster.nodes) {
      const answer = await node.query('SELECT name FROM t', '?level=linearizable');
      assert.deepEqual((answer.body as { results: { values?: unknown[] }[] }).results[0]?.values, [['over tls']], node.url);
    }
  });
});

test('a node with the CA but no client certificate is refused by etcd and never becomes ready', async () => {
  const cluster = await TestCluster.create({
    size: 1,
    formation: 'etcd',
    etcd: { endpoints: etcd.endpoints, prefix: `${prefix}-refused` },
    flags: ['--etcd-ca-cert', pki.ca.certPath],
  });
  clusters.push(cluster);
  const node = cluster.node(1);
  node.start(cluster.flagsFor(node));
  const deadline = Date.now() + refusedWatchMs;
  while (Date.now() < deadline) {
    const ready = await http(`${node.url}/readyz`).catch(() => undefined);
    assert.notEqual(ready?.status, 200, `a node without a client certificate became ready: ${ready?.text ?? ''}`);
    await sleep(250);
  }
});
