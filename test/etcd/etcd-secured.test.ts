/**
 * `serve --consensus etcd` with the features the embedded-Raft node has, as real
 * processes on a real etcd: -auth over HTTPS with client certificates (-http-cert,
 * -http-key, -http-ca-cert, -http-verify-client): no credentials 401, a user without the
 * permission 403, a write through a follower forwarded with the caller's name, over
 * node-to-node TLS (-node-cert, -node-key, -node-ca-cert, -node-verify-client); interactive
 * transactions (begin, statements, commit through a follower; a read the database
 * changed under is 409 TX_CONFLICT, at commit or at the next statement); change data capture in stdout mode (-cdc-config stdout).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { after, before, test } from 'node:test';
import { createClient, type Client } from '../../src/client/index.js';
import { closeTlsAgents, http, TestCluster, waitFor, type ClientTls, type TestNode } from '../cluster/harness.js';
import { TestPki, type IssuedCertificate } from '../cluster/test-certificates.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefix = `/quorumlite-secured-${process.pid}`;
const users = [
  { username: 'writer', password: 'writer secret', perms: ['execute', 'query'] },
  { username: 'reader', password: 'reader secret', perms: ['query'] },
  // The harness watches the cluster through /status and /nodes.
  { username: '*', perms: ['status', 'ready'] },
];

const directory = mkdtempSync(join(tmpdir(), 'quorumlite-etcd-secured-'));
let etcd: EtcdCluster;
let cluster: TestCluster;
let clientTls: ClientTls;
let server: IssuedCertificate;
let caCert: Buffer;
let db: Client;

before(async () => {
  const pki = new TestPki(directory);
  server = pki.issue('server');
  caCert = pki.ca.cert;
  const client = pki.issue('client', { usage: 'client' });
  clientTls = { ca: pki.ca.cert, cert: client.cert, key: client.key };
  const authPath = join(directory, 'auth.json');
  writeFileSync(authPath, JSON.stringify(users));
  etcd = await EtcdCluster.start({ size: 1 });
  cluster = await TestCluster.create({
    size: 3,
    formation: 'etcd',
    etcd: { endpoints: etcd.endpoints, prefix },
    clientTls,
    flags: [
      ...['-auth', authPath, '-cdc-config', 'stdout'],
      ...['-http-cert', server.certPath, '-http-key', server.keyPath, '-http-ca-cert', pki.ca.certPath, '-http-verify-client'],
      ...['-node-cert', server.certPath, '-node-key', server.keyPath, '-node-ca-cert', pki.ca.certPath, '-node-verify-client'],
    ],
  });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  db = createClient({
    nodes: cluster.nodes.map((node) => node.url),
    auth: { username: 'writer', password: 'writer secret' },
    tls: { ca: pki.ca.cert, cert: client.cert, key: client.key },
  });
});

after(async () => {
  await db?.close();
  await cluster?.close();
  await etcd?.close();
  await closeTlsAgents();
  rmSync(directory, { recursive: true, force: true });
});

function basic(username: string, password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}` };
}

const writer = basic('writer', 'writer secret');

/** A JSON POST with these headers (the harness's `json` option sends only its own). */
function post(node: TestNode, path: string, json: unknown, headers: Record<string, string> = {}): ReturnType<TestNode['request']> {
  return node.request(path, { method: 'POST', body: JSON.stringify(json), headers: { 'content-type': 'application/json', ...headers } });
}

async function followerOf(): Promise<{ leader: TestNode; follower: TestNode }> {
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node.id !== leader.id) as TestNode;
  return { leader, follower };
}

test('-auth over HTTPS with client certificates: 401 without credentials, 403 without the permission, a forwarded write with it', async () =>
  cluster.withLogs(async () => {
    const { leader, follower } = await followerOf();
    assert.match(leader.url, /^https:/);
    const create = ['CREATE TABLE guarded (id INTEGER PRIMARY KEY, name TEXT)'];
    const anonymous = await post(leader, '/db/execute', create);
    assert.equal(anonymous.status, 401, anonymous.text);
    const reader = await post(leader, '/db/execute', create, basic('reader', 'reader secret'));
    assert.equal(reader.status, 403, reader.text);
    const created = await post(leader, '/db/execute', create, writer);
    assert.equal(created.status, 200, created.text);
    const forwarded = await post(follower, '/db/execute', [["INSERT INTO guarded(name) VALUES ('via follower')"]], writer);
    assert.equal(forwarded.status, 200, forwarded.text);
    const refusedOnFollower = await post(follower, '/db/execute', [["INSERT INTO guarded(name) VALUES ('no')"]], basic('reader', 'reader secret'));
    assert.equal(refusedOnFollower.status, 403, refusedOnFollower.text);
    const read = await follower.request('/db/query?level=strong&q=SELECT%20name%20FROM%20guarded', { headers: basic('reader', 'reader secret') });
    assert.equal(read.status, 200, read.text);
    assert.deepEqual((read.body as { results: { values?: unknown[] }[] }).results[0]?.values, [['via follower']]);
    // Without a client certificate the TLS handshake itself is refused (-http-verify-client with -http-ca-cert).
    await assert.rejects(http(`${leader.url}/status`, { tls: { ca: clientTls.ca } }));
  }));

test('-node-cert on the etcd log: every peer port speaks TLS with the node certificate', async () => {
  for (const node of cluster.nodes) {
    const [host, port] = node.raftAddress.split(':');
    const socket = connect({ host, port: Number(port), ca: caCert, cert: server.cert, key: server.key });
    socket.on('error', () => undefined);
    try {
      await once(socket, 'secureConnect', { signal: AbortSignal.timeout(10_000) });
      assert.equal(socket.getPeerCertificate().fingerprint256, server.fingerprint256, node.raftAddress);
    } finally {
      socket.destroy();
    }
  }
});

test('interactive transactions on the etcd log: begin, statements and commit through a follower; a conflict is 409 TX_CONFLICT', async () =>
  cluster.withLogs(async () => {
    const { follower } = await followerOf();
    await db.execute(['CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL)', 'INSERT INTO counter VALUES (1, 0)']);
    const begun = await follower.request('/db/begin', { method: 'POST', headers: writer });
    assert.equal(begun.status, 200, begun.text);
    const id = (begun.body as { tx_id: string }).tx_id;
    const updated = await post(follower, `/db/execute?tx=${id}`, ['UPDATE counter SET n = n + 1 WHERE id = 1'], writer);
    assert.deepEqual((updated.body as { results: unknown[] }).results, [{ rows_affected: 1 }], updated.text);
    const inside = await post(follower, `/db/query?tx=${id}`, ['SELECT n FROM counter'], writer);
    assert.deepEqual((inside.body as { results: { values: unknown[] }[] }).results[0]?.values, [[1]], inside.text);
    const committed = await follower.request(`/db/commit?tx=${id}`, { method: 'POST', headers: writer });
    assert.equal(committed.status, 200, committed.text);

    // Two transactions read the same row; the first commits its increment, the second's read no longer holds.
    const first = await db.begin();
    const second = await db.begin();
    for (const tx of [first, second]) {
      const read = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
      assert.equal(read.results[0]?.rows[0]?.n, 1);
      await tx.execute('UPDATE counter SET n = 2 WHERE id = 1');
    }
    await first.commit();
    await assert.rejects(second.commit(), { code: 'TX_CONFLICT' });
    const conflicting = await db.begin();
    await conflicting.query('SELECT n FROM counter WHERE id = 1');
    await db.execute(['UPDATE counter SET n = 10 WHERE id = 1']);
    // Its next statement replays what it read against the changed database (through a follower): 409.
    const refused = await post(follower, `/db/execute?tx=${conflicting.id}`, ['UPDATE counter SET n = n + 1 WHERE id = 1'], writer);
    assert.equal(refused.status, 409, refused.text);
    for (const node of cluster.nodes) {
      const answer = await node.request('/db/query?level=strong&q=SELECT%20n%20FROM%20counter', { headers: writer });
      assert.deepEqual((answer.body as { results: { values?: unknown[] }[] }).results[0]?.values, [[10]], node.url);
    }
  }));

test('-cdc-config stdout on the etcd log: the leader prints each change as a JSON line in rqlite envelope', async () =>
  cluster.withLogs(async () => {
    await db.execute(['CREATE TABLE people (id INTEGER NOT NULL PRIMARY KEY, name TEXT)', "INSERT INTO people(id, name) VALUES(7, 'fiona')"]);
    const line = await waitFor('the change printed', async () =>
      cluster.nodes.flatMap((node) => node.log().split('\n')).find((text) => text.startsWith('{"node_id"') && text.includes('"people"')),
    );
    const envelope = JSON.parse(line) as { node_id: string; payload: { events: unknown[] }[] };
    assert.deepEqual(Object.keys(envelope), ['node_id', 'payload']);
    assert.deepEqual(envelope.payload[0]?.events, [{ op: 'INSERT', table: 'people', new_row_id: 7, after: { id: 7, name: 'fiona' } }]);
    const metrics = await cluster.nodes[0]!.request('/metrics', { headers: writer });
    assert.match(metrics.text, /quorumlite_cdc_queue_depth/);
  }));
