/**
 * TLS on real processes, with rqlited's flags and openssl-made certificates: a 3-node
 * cluster whose nodes talk mutual TLS to each other and serve HTTPS with mutual TLS
 * forms (one node joins through an https:// address) and replicates; a follower forwards
 * to the leader and redirects to its https:// URL; clients without a trusted certificate
 * are refused; nodes with no certificate, an expired one or one another CA signed cannot
 * join; the client and the shell work over HTTPS with a CA file and with "insecure"; and a
 * certificate replaced on disk is what the next connection is shown, with no restart.
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { once } from 'node:events';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../src/client/index.js';
import { runCli } from '../../src/cli/main.js';
import { runShellWith } from '../shell/rqlite-harness.js';
import { http, TestCluster, waitFor, type ClientTls, type TestNode } from './harness.js';
import { TestPki, type IssuedCertificate } from './test-certificates.js';

let directory: string;
let pki: TestPki;
let client: IssuedCertificate;
let clientTls: ClientTls;
let cluster: TestCluster;
const nodeCertificates = new Map<number, IssuedCertificate>();

/** Where node N's certificate and key live: copies the test may replace to rotate them. */
function livePaths(index: number): { certPath: string; keyPath: string } {
  return { certPath: join(directory, `live-node${index}.crt`), keyPath: join(directory, `live-node${index}.key`) };
}

function install(index: number, certificate: IssuedCertificate): void {
  const live = livePaths(index);
  copyFileSync(certificate.certPath, live.certPath);
  copyFileSync(certificate.keyPath, live.keyPath);
}

/** Mutual TLS everywhere: HTTPS with client certificates, and between nodes. */
function secureFlags(index: number): string[] {
  const { certPath, keyPath } = livePaths(index);
  const ca = pki.ca.certPath;
  return [
    ...['-http-cert', certPath, '-http-key', keyPath, '-http-ca-cert', ca, '-http-verify-client'],
    ...['-node-cert', certPath, '-node-key', keyPath, '-node-ca-cert', ca, '-node-verify-client'],
  ];
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `address` is shown. */
async function presentedFingerprint(host: string, port: number): Promise<string> {
  const socket = tls.connect({ host, port, ca: pki.ca.cert, cert: client.cert, key: client.key });
  socket.on('error', () => undefined);
  try {
    await once(socket, 'secureConnect');
    return socket.getPeerCertificate().fingerprint256;
  } finally {
    socket.destroy();
  }
}

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-tls-cluster-'));
  pki = new TestPki(directory);
  client = pki.issue('app-client', { usage: 'client' });
  clientTls = { ca: pki.ca.cert, cert: client.cert, key: client.key };
  for (const index of [1, 2, 3]) {
    const certificate = pki.issue(`node${index}`, { commonName: `node${index}` });
    nodeCertificates.set(index, certificate);
    install(index, certificate);
  }
  cluster = await TestCluster.create({ size: 3, formation: 'join', clientTls });
  const [first, second, third] = [cluster.node(1), cluster.node(2), cluster.node(3)];
  first.start(secureFlags(1));
  await cluster.waitForLeader([first]);
  second.start([...secureFlags(2), '--join', first.raftAddress]);
  // Through the HTTPS API: node 3 reads node 1's Raft address from its /status, showing its own certificate.
  third.start([...secureFlags(3), '--join', first.url]);
  await cluster.waitForMembers(3);
});

after(async () => {
  await cluster?.close();
  if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
});

async function leaderAndFollower(): Promise<{ leader: TestNode; follower: TestNode }> {
  const leader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node !== leader && node.running);
  assert.ok(follower !== undefined);
  return { leader, follower };
}

describe('a cluster with mutual TLS between nodes and on HTTPS', () => {
  it('forms over TLS, with https:// addresses, and replicates', async () => {
    await cluster.withLogs(async () => {
      const { leader } = await leaderAndFollower();
      const nodes = await leader.request('/nodes?ver=2');
      const list = (nodes.body as { nodes: { api_addr: string; reachable: boolean }[] }).nodes;
      assert.equal(list.length, 3);
      for (const entry of list) {
        assert.match(entry.api_addr, /^https:\/\/127\.0\.0\.\d:\d+$/);
        assert.equal(entry.reachable, true);
      }
      const created = await leader.execute(['CREATE TABLE secrets (id INTEGER PRIMARY KEY, value TEXT)', "INSERT INTO secrets (value) VALUES ('over tls')"]);
      assert.equal(created.status, 200, created.text);
      const index = (await leader.checksum()).appliedIndex;
      const sums = await cluster.waitForApplied(index);
      assert.equal(new Set(sums).size, 1);
      for (const node of cluster.nodes) {
        const answer = await node.query('SELECT value FROM secrets', '?level=none');
        assert.deepEqual((answer.body as { results: { values: unknown[][] }[] }).results[0]?.values, [['over tls']], `node ${node.spec.index}`);
      }
      for (const node of cluster.nodes) assert.match(node.log(), /"event":"listening".*"https":"mutual","nodeTls":"mutual"/);
    });
  });

  it('a follower forwards writes to the leader over TLS, and redirects to its https:// URL', async () => {
    await cluster.withLogs(async () => {
      const { leader, follower } = await leaderAndFollower();
      const forwarded = await follower.execute([["INSERT INTO secrets (value) VALUES ('forwarded')"]]);
      assert.equal(forwarded.status, 200, forwarded.text);
      assert.equal((forwarded.body as { results: { rows_affected: number }[] }).results[0]?.rows_affected, 1);
      const redirected = await follower.execute([["INSERT INTO secrets (value) VALUES ('redirected')"]], '?redirect');
      assert.equal(redirected.status, 301);
      assert.equal(redirected.headers.get('location'), `${leader.url}/db/execute?redirect`);
      const read = await follower.query("SELECT COUNT(*) FROM secrets WHERE value = 'forwarded'", '?level=strong');
      assert.deepEqual((read.body as { results: { values: unknown[][] }[] }).results[0]?.values, [[1]]);
    });
  });

  it('refuses HTTPS clients without a certificate, with one another CA signed, or not trusting the CA', async () => {
    const { leader } = await leaderAndFollower();
    const foreign = pki.issue('foreign-client', { usage: 'client', authority: pki.otherCa });
    for (const [what, settings] of [
      ['no client certificate', { ca: pki.ca.cert }],
      ['another CA', { ca: pki.ca.cert, cert: foreign.cert, key: foreign.key }],
      ['the node not trusted', { cert: client.cert, key: client.key }],
    ] as const) {
      await assert.rejects(http(`${leader.url}/status`, { tls: settings }), (error: unknown) => error instanceof Error, what);
    }
    await assert.rejects(http(leader.url.replace('https://', 'http://')), (error: unknown) => error instanceof Error, 'plain HTTP');
  });
});

describe('nodes without a certificate the cluster trusts cannot join', () => {
  const kinds = [
    ['no certificate (plain TCP)', (): string[] => []],
    [
      'an expired certificate',
      (): string[] => {
        const expired = pki.issue('expired-node', { days: -1 });
        return ['-node-cert', expired.certPath, '-node-key', expired.keyPath, '-node-ca-cert', pki.ca.certPath];
      },
    ],
    [
      'a certificate another CA signed',
      (): string[] => {
        const rogue = pki.issue('rogue-node', { authority: pki.otherCa });
        return ['-node-cert', rogue.certPath, '-node-key', rogue.keyPath, '-node-ca-cert', pki.ca.certPath];
      },
    ],
  ] as const;

  for (const [kind, flagsOf] of kinds) {
    it(`a node with ${kind}`, async () => {
      const { leader } = await leaderAndFollower();
      const intruder = await cluster.addNodeSpec();
      intruder.start([...flagsOf(), '--join', leader.raftAddress, '--join-attempts', '2', '--join-interval', '200ms', '--log-level', 'info']);
      await waitFor(`the node with ${kind} to give up`, () => (intruder.running ? undefined : true));
      assert.notEqual(intruder.process?.exitCode, 0, 'it exits with an error');
      assert.match(intruder.log(), /failed to join cluster: .*closed the connection during the handshake/);
      const nodes = await leader.request('/nodes?nonvoters&ver=2');
      const ids = (nodes.body as { nodes: { id: string }[] }).nodes.map((node) => node.id);
      assert.equal(ids.length, 3, JSON.stringify(ids));
      assert.ok(!ids.includes(intruder.id));
    });
  }
});

describe('the client and the shell over HTTPS', () => {
  it('the TypeScript client trusts the CA file, or skips verification with insecure', async () => {
    const { follower } = await leaderAndFollower();
    const trusting = createClient({ nodes: [follower.url], tls: { ca: pki.ca.cert, cert: client.cert, key: client.key } });
    const insecure = createClient({ nodes: [follower.url], tls: { insecure: true, cert: client.cert, key: client.key } });
    const unaware = createClient({ nodes: [follower.url], tls: { cert: client.cert, key: client.key }, deadlineMs: 2_000 });
    try {
      await trusting.execute({ sql: 'INSERT INTO secrets (value) VALUES (?)', args: ['from the client'] });
      const read = await trusting.query<{ n: number }>("SELECT COUNT(*) AS n FROM secrets WHERE value = 'from the client'", { consistency: 'strong' });
      assert.equal(read.results[0]?.rows[0]?.n, 1);
      const viaInsecure = await insecure.query<{ n: number }>('SELECT COUNT(*) AS n FROM secrets', { consistency: 'strong' });
      assert.ok((viaInsecure.results[0]?.rows[0]?.n ?? 0) >= 3);
      await assert.rejects(unaware.query('SELECT 1'), (error: Error & { code?: string }) => error.code === 'DEADLINE_EXCEEDED');
    } finally {
      await Promise.all([trusting.close(), insecure.close(), unaware.close()]);
    }
  });

  it('the shell (rqlite style and sqlite3 style) with --ca-cert, and with -i', async () => {
    const { follower } = await leaderAndFollower();
    const url = new URL(follower.url);
    const connection = ['-H', url.hostname, '-p', url.port, '-s', 'https', '-d', client.certPath, '-k', client.keyPath];
    const trusting = await runShellWith([...connection, '--ca-cert', pki.ca.certPath, '--command', 'SELECT 6*7 AS answer']);
    assert.equal(trusting.stdout, '+--------+\n| answer |\n+--------+\n| 42     |\n+--------+\n', trusting.stderr);
    const insecure = await runShellWith([...connection, '-i', '--command', 'SELECT 1 AS one']);
    assert.equal(insecure.stdout, '+-----+\n| one |\n+-----+\n| 1   |\n+-----+\n', insecure.stderr);
    const unverified = await runShellWith([...connection, '--command', 'SELECT 1']);
    assert.notEqual(unverified.code, 0, 'a server certificate it cannot verify is refused');
    const sqlite3 = await runShellWith(['--style', 'sqlite3', ...connection, '-c', pki.ca.certPath, '--mode', 'csv', '--command', 'SELECT 5 AS five;']);
    assert.equal(sqlite3.stdout, 'five\r\n5\r\n', sqlite3.stderr);
  });

  it('quorumlite status over HTTPS with --ca-cert and a client certificate', async () => {
    const { follower } = await leaderAndFollower();
    const out: string[] = [];
    const io = { stdout: (text: string) => void out.push(text), stderr: (text: string) => void out.push(text) };
    const address = `${follower.spec.host}:${follower.spec.httpPort}`;
    const argv = ['status', '--json', '--http-addr', address, '--ca-cert', pki.ca.certPath, '--client-cert', client.certPath, '--client-key', client.keyPath];
    assert.equal(await runCli(argv, io), 0, out.join(''));
    assert.match(out.join(''), /"client_auth": "RequireAndVerifyClientCert"/);
    assert.equal(await runCli(['status', '--http-addr', address, '--ca-cert', pki.ca.certPath], io), 1, 'no client certificate: refused');
  });
});

describe('certificates replaced on disk', () => {
  it('the next HTTPS and node-to-node connection is shown the new certificate, with no restart, and the cluster keeps replicating', async () => {
    await cluster.withLogs(async () => {
      const node = cluster.node(1);
      const before = nodeCertificates.get(1);
      assert.equal(await presentedFingerprint(node.spec.host, node.spec.httpPort), before?.fingerprint256);
      assert.equal(await presentedFingerprint(node.spec.host, node.spec.raftPort), before?.fingerprint256);
      const next = pki.issue('node1-next', { commonName: 'node1' });
      install(1, next);
      await waitFor('node 1 to present its new HTTPS certificate', async () =>
        (await presentedFingerprint(node.spec.host, node.spec.httpPort)) === next.fingerprint256 ? true : undefined,
      );
      await waitFor('node 1 to present its new node certificate', async () =>
        (await presentedFingerprint(node.spec.host, node.spec.raftPort)) === next.fingerprint256 ? true : undefined,
      );
      assert.equal(node.process?.pid !== undefined && node.running, true, 'the same process');
      assert.match(node.log(), /"event":"tls-reloaded"/);
      const { leader } = await leaderAndFollower();
      const written = await leader.execute([["INSERT INTO secrets (value) VALUES ('after rotation')"]]);
      assert.equal(written.status, 200, written.text);
      await cluster.waitForApplied((await leader.checksum()).appliedIndex, cluster.nodes.slice(0, 3));
    });
  });
});
