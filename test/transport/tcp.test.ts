/**
 * What only the TCP transport has: loopback "hosts", address parsing, reconnect
 * backoff against a real dead port, and TLS (mutual when a CA is given).
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { TransportError } from '../../src/transport/errors.js';
import { formatAddress, parseAddress, type TlsOptions } from '../../src/transport/tcp-network.js';
import { TcpTransport } from '../../src/transport/tcp-transport.js';
import { collectMessages, Harness, sleep, waitFor, type TestMessage, type TestTransport } from './helpers.js';
import { sharedServerName, TestPki, type IssuedCertificate } from '../cluster/test-certificates.js';

async function freeAddress(host: string): Promise<string> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return formatAddress(host, port);
}

describe('tcp: addresses', () => {
  it('parses host:port and [ipv6]:port, and refuses anything else', () => {
    assert.deepStrictEqual(parseAddress('127.0.0.2:4002'), { host: '127.0.0.2', port: 4002 });
    assert.deepStrictEqual(parseAddress('[::1]:80'), { host: '::1', port: 80 });
    assert.deepStrictEqual(parseAddress('node-1.local:0'), { host: 'node-1.local', port: 0 });
    assert.equal(formatAddress('::1', 80), '[::1]:80');
    for (const bad of ['127.0.0.1', ':80', '127.0.0.1:', 'a:b', '127.0.0.1:70000', 'http://x:1']) {
      assert.throws(
        () => parseAddress(bad),
        (error: unknown) => error instanceof TransportError && error.code === 'INVALID_ARGUMENT',
        bad,
      );
    }
  });

  it('refuses a bad listen address at start()', async () => {
    const transport = new TcpTransport({ nodeId: 'a', clusterId: 'c', listenAddress: 'nonsense' });
    await assert.rejects(transport.start(), (error: unknown) => error instanceof TransportError && error.code === 'INVALID_ARGUMENT');
    await transport.close();
  });

  it('nodes on different loopback hosts talk, and advertise their own address', async () => {
    const harness = new Harness('tcp');
    try {
      const a = await harness.create('a', { listenAddress: '127.0.0.2:0' });
      const b = await harness.create('b', { listenAddress: '127.0.0.3:0' });
      assert.match(a.address, /^127\.0\.0\.2:\d+$/);
      assert.match(b.address, /^127\.0\.0\.3:\d+$/);
      harness.introduce(a, b);
      const atB = collectMessages(b);
      b.handle('whoami', async (_payload, context) => context.fromAddress);
      a.send([{ from: 'a', to: 'b', n: 1 }]);
      assert.equal(await a.call({ id: 'b' }, 'whoami', null), a.address);
      await waitFor('the message', () => atB.length === 1);
    } finally {
      await harness.dispose();
    }
  });
});

describe('tcp: source address', () => {
  it('connections leave from the listen host, so a peer (and a firewall rule) sees which node sent them', async () => {
    const harness = new Harness('tcp');
    const seen: string[] = [];
    const sink = net.createServer((socket) => {
      seen.push(socket.remoteAddress ?? '');
      socket.destroy();
    });
    try {
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.3', resolve));
      const sinkAddress = formatAddress('127.0.0.3', (sink.address() as net.AddressInfo).port);
      const fromTwo = await harness.create('a', { listenAddress: '127.0.0.2:0' });
      const fromWildcard = await harness.create('b', { listenAddress: '0.0.0.0:0' });
      fromTwo.setPeer('sink', sinkAddress);
      fromWildcard.setPeer('sink', sinkAddress);
      fromTwo.send([{ from: 'a', to: 'sink', n: 1 }]);
      await waitFor('the connection from 127.0.0.2', () => seen.length >= 1);
      assert.equal(seen[0], '127.0.0.2');
      fromWildcard.send([{ from: 'b', to: 'sink', n: 1 }]);
      await waitFor('the connection from the wildcard listener', () => seen.length >= 2);
      // A wildcard listener leaves the choice to the kernel: on loopback that is 127.0.0.1.
      assert.equal(seen[1], '127.0.0.1');
    } finally {
      await harness.dispose();
      await new Promise<void>((resolve) => sink.close(() => resolve()));
    }
  });
});

describe('tcp: reconnect backoff', () => {
  it('redials a dead peer no faster than the backoff allows, then connects when it appears', async () => {
    const harness = new Harness('tcp');
    try {
      const backoffBaseMs = 20;
      const a = await harness.create('a', { limits: { backoffBaseMs, backoffMsMax: 80 } });
      const address = await freeAddress('127.0.0.2');
      a.setPeer('b', address);
      const startedMs = Date.now();
      for (let round = 0; round < 40; round++) {
        a.send([{ from: 'a', to: 'b', round }]);
        await sleep(10);
      }
      const elapsedMs = Date.now() - startedMs;
      const failures = a.metrics().peers['b']?.connectFailures ?? 0;
      assert.ok(failures >= 2, `it kept retrying (${failures} failures)`);
      // Each wait is at least backoffBaseMs / 2, so a slower machine only means fewer attempts.
      assert.ok(failures <= Math.ceil(elapsedMs / (backoffBaseMs / 2)) + 1, `${failures} dials in ${elapsedMs} ms`);
      const b = await harness.create('b', { listenAddress: address });
      const atB = collectMessages(b);
      await waitFor('delivery once the peer listens', () => {
        a.send([{ from: 'a', to: 'b', late: true }]);
        return atB.length > 0;
      });
    } finally {
      await harness.dispose();
    }
  });
});

function opensslMissingReason(): string | undefined {
  try {
    execFileSync('openssl', ['version'], { stdio: 'pipe' });
    return undefined;
  } catch {
    return 'openssl is not installed, so no test certificate can be made';
  }
}

const skipReason = opensslMissingReason();
if (skipReason !== undefined) console.log(`skipping TLS tests: ${skipReason}`);

describe('tcp: TLS', { skip: skipReason }, () => {
  const harness = new Harness('tcp');
  let good: TlsOptions;
  let rogue: TlsOptions;
  before(async () => {
    const pki = new TestPki(await harness.temporaryDirectory());
    const goodFiles = pki.issue('good');
    // A valid certificate, but from a CA the cluster does not trust.
    const rogueFiles = pki.issue('rogue', { authority: pki.otherCa });
    good = { cert: goodFiles.cert.toString(), key: goodFiles.key.toString(), ca: pki.ca.cert.toString() };
    rogue = { cert: rogueFiles.cert.toString(), key: rogueFiles.key.toString(), ca: pki.ca.cert.toString() };
  });
  after(async () => {
    await harness.dispose();
  });

  async function tlsNode(nodeId: string, tls: TlsOptions | undefined, host: string): Promise<TestTransport> {
    return harness.create(nodeId, { listenAddress: `${host}:0`, ...(tls === undefined ? {} : { tls }) });
  }

  it('carries messages, calls and snapshots over mutually authenticated TLS', async () => {
    const a = await tlsNode('tls-a', good, '127.0.0.1');
    const b = await tlsNode('tls-b', good, '127.0.0.2');
    harness.introduce(a, b);
    const atB = collectMessages(b);
    b.handle('ping', async (payload) => ({ pong: payload }));
    a.send([{ from: 'tls-a', to: 'tls-b', data: new Uint8Array([1, 2, 3]) }]);
    assert.deepStrictEqual(await a.call({ id: 'tls-b' }, 'ping', 7n), { pong: 7n });
    await waitFor('the message', () => atB.length === 1);
    assert.deepStrictEqual(atB[0], { from: 'tls-a', to: 'tls-b', data: new Uint8Array([1, 2, 3]) });
    const directory = await harness.temporaryDirectory();
    const file = join(directory, 'snap.bin');
    writeFileSync(file, Buffer.alloc(600_000, 3));
    let size = 0;
    b.onSnapshot(async (_metadata, tempFilePath) => {
      size = readFileSync(tempFilePath).byteLength;
    });
    await a.sendSnapshot('tls-b', { index: 1 }, file);
    assert.equal(size, 600_000);
  });

  it('refuses a peer whose certificate another CA signed', async () => {
    const server = await tlsNode('tls-server', good, '127.0.0.3');
    server.handle('ping', async () => 'pong');
    const intruder = await tlsNode('tls-intruder', rogue, '127.0.0.1');
    await assert.rejects(
      intruder.call({ address: server.address }, 'ping', {}),
      (error: unknown) => error instanceof TransportError && error.code === 'UNREACHABLE',
    );
  });

  it('drops a socket that does not finish its TLS handshake within handshakeTimeoutMs', async () => {
    const server = await harness.create('tls-slow', { listenAddress: '127.0.0.3:0', tls: good, limits: { handshakeTimeoutMs: 100 } });
    const { host, port } = parseAddress(server.address);
    const socket = net.connect({ host, port });
    socket.on('error', () => undefined);
    let closed = false;
    socket.on('close', () => (closed = true));
    await waitFor('the server to drop the silent socket', () => closed);
  });

  it('bounds sockets on a TLS listener, handshakes in progress included', async () => {
    const server = await harness.create('tls-bounded', { listenAddress: '127.0.0.2:0', tls: good, limits: { inboundConnectionsMax: 1 } });
    const { host, port } = parseAddress(server.address);
    const sockets = [0, 1, 2].map(() => net.connect({ host, port }));
    const closed = sockets.map(() => false);
    sockets.forEach((socket, index) => {
      socket.on('error', () => undefined);
      socket.on('close', () => (closed[index] = true));
    });
    harness.onCleanup(() => {
      for (const socket of sockets) socket.destroy();
    });
    await waitFor('the socket above 2 x inboundConnectionsMax to be dropped', () => closed.filter(Boolean).length === 1);
    await sleep(50);
    assert.equal(closed.filter(Boolean).length, 1, 'the two sockets within the bound stay open');
  });

  it('refuses a plain-TCP peer', async () => {
    const server = await tlsNode('tls-server-2', good, '127.0.0.2');
    server.handle('ping', async () => 'pong');
    const plain = await tlsNode('plain', undefined, '127.0.0.1');
    await assert.rejects(
      plain.call({ address: server.address }, 'ping', {}),
      (error: unknown) => error instanceof TransportError && error.code === 'UNREACHABLE',
    );
  });
});

/**
 * The settings rqlited's node TLS flags map to: who asks for a certificate
 * (-node-verify-client), checking nothing (-node-no-verify), the name a server's
 * certificate must carry (-node-verify-server-name), the Common Name a client's must
 * have (-node-verify-common-name), and certificates swapped for new connections.
 */
describe('tcp: TLS settings', { skip: skipReason }, () => {
  const harness = new Harness('tcp');
  let pki: TestPki;
  let node: IssuedCertificate;
  let foreign: IssuedCertificate;
  before(async () => {
    pki = new TestPki(await harness.temporaryDirectory());
    node = pki.issue('settings-node');
    foreign = pki.issue('settings-foreign', { authority: pki.otherCa });
  });
  after(async () => {
    await harness.dispose();
  });

  function material(certificate: IssuedCertificate): TlsOptions {
    return { cert: certificate.cert, key: certificate.key, ca: pki.ca.cert };
  }

  const answering = new WeakSet<TestTransport>();

  async function reaches(client: TestTransport, server: TestTransport): Promise<boolean> {
    if (!answering.has(server)) server.handle('ping', async () => 'pong');
    answering.add(server);
    try {
      return (await client.call({ address: server.address }, 'ping', {}, { timeoutMs: 2_000 })) === 'pong';
    } catch (error) {
      if (error instanceof TransportError) return false;
      throw error;
    }
  }

  it('asks for no client certificate unless verifyClient, even with a CA', async () => {
    const open = await harness.create('open-server', { listenAddress: '127.0.0.2:0', tls: { ...material(node), verifyClient: false } });
    const mutual = await harness.create('mutual-server', { listenAddress: '127.0.0.3:0', tls: { ...material(node), verifyClient: true } });
    const stranger = await harness.create('stranger', { listenAddress: '127.0.0.1:0', tls: material(foreign) });
    assert.equal(await reaches(stranger, open), true, 'a server without verifyClient takes any client');
    assert.equal(await reaches(stranger, mutual), false, 'a server with verifyClient refuses a certificate its CA did not sign');
  });

  it('noVerify: the dialler takes a server certificate it cannot verify; the listener still wants one', async () => {
    const foreignServer = await harness.create('foreign-server', { listenAddress: '127.0.0.2:0', tls: { ...material(foreign), verifyClient: false } });
    const checking = await harness.create('checking', { listenAddress: '127.0.0.1:0', tls: material(node) });
    const trusting = await harness.create('trusting', { listenAddress: '127.0.0.1:0', tls: { ...material(node), noVerify: true } });
    assert.equal(await reaches(checking, foreignServer), false);
    assert.equal(await reaches(trusting, foreignServer), true);
    const lax = await harness.create('lax-server', { listenAddress: '127.0.0.3:0', tls: { ...material(node), verifyClient: true, noVerify: true } });
    assert.equal(
      await reaches(await harness.create('foreign-client', { listenAddress: '127.0.0.1:0', tls: { ...material(foreign), noVerify: true } }), lax),
      true,
    );
    const { host, port } = parseAddress(lax.address);
    const bare = tls.connect({ host, port, rejectUnauthorized: false });
    bare.on('error', () => undefined);
    await waitFor('a client without any certificate to be cut off', () => bare.destroyed);
  });

  it('serverName: the server certificate must carry that name, not the address dialled', async () => {
    const named = pki.issue('named-only', { subjectAltNames: [`DNS:${sharedServerName}`] });
    const server = await harness.create('named-server', { listenAddress: '127.0.0.2:0', tls: { ...material(named), verifyClient: false } });
    const byAddress = await harness.create('by-address', { listenAddress: '127.0.0.1:0', tls: material(node) });
    const byName = await harness.create('by-name', { listenAddress: '127.0.0.1:0', tls: { ...material(node), serverName: sharedServerName } });
    const byOtherName = await harness.create('by-other-name', {
      listenAddress: '127.0.0.1:0',
      tls: { ...material(node), serverName: 'other.quorumlite.test' },
    });
    assert.equal(await reaches(byAddress, server), false);
    assert.equal(await reaches(byName, server), true);
    assert.equal(await reaches(byOtherName, server), false);
  });

  it('clientCommonName: a client certificate with another Common Name is refused', async () => {
    const server = await harness.create('cn-server', {
      listenAddress: '127.0.0.2:0',
      tls: { ...material(node), verifyClient: true, clientCommonName: 'member' },
    });
    const member = await harness.create('cn-member', { listenAddress: '127.0.0.1:0', tls: material(pki.issue('cn-member', { commonName: 'member' })) });
    const other = await harness.create('cn-other', { listenAddress: '127.0.0.1:0', tls: material(pki.issue('cn-other', { commonName: 'application' })) });
    assert.equal(await reaches(member, server), true);
    assert.equal(await reaches(other, server), false);
  });

  it('updateTls: new connections get the new certificate, verify settings unchanged', async () => {
    const server = await harness.create('rotating', { listenAddress: '127.0.0.2:0', tls: { ...material(node), verifyClient: true } });
    const { host, port } = parseAddress(server.address);
    const presented = async (): Promise<string> => {
      const socket = tls.connect({ host, port, ca: pki.ca.cert, cert: node.cert, key: node.key });
      try {
        await once(socket, 'secureConnect');
        return socket.getPeerCertificate().fingerprint256;
      } finally {
        socket.destroy();
      }
    };
    assert.equal(await presented(), node.fingerprint256);
    const rotated = pki.issue('rotated');
    (server as TcpTransport<TestMessage>).updateTls(material(rotated));
    assert.equal(await presented(), rotated.fingerprint256);
    const stranger = await harness.create('rotation-stranger', { listenAddress: '127.0.0.1:0', tls: material(foreign) });
    assert.equal(await reaches(stranger, server), false, 'still mutual TLS after the rotation');
  });

  it('updateTls: the next dial shows the new client certificate', async () => {
    // A bare TLS server that records the certificate each client shows.
    const shown: string[] = [];
    const recorder = tls.createServer({ cert: node.cert, key: node.key, ca: pki.ca.cert, requestCert: true, rejectUnauthorized: true }, (socket) => {
      shown.push(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    await new Promise<void>((resolve) => recorder.listen(0, '127.0.0.2', resolve));
    harness.onCleanup(() => new Promise<void>((resolve) => recorder.close(() => resolve())));
    const address = formatAddress('127.0.0.2', (recorder.address() as net.AddressInfo).port);
    const dialler = await harness.create('rotating-dialler', { listenAddress: '127.0.0.1:0', tls: material(node) });
    const dial = async (): Promise<void> => {
      await dialler.call({ address }, 'ping', {}, { timeoutMs: 1_000 }).catch(() => undefined);
    };
    await dial();
    await waitFor('the first certificate', () => shown.length >= 1);
    assert.equal(shown[0], node.fingerprint256);
    const rotated = pki.issue('rotated-dialler');
    (dialler as TcpTransport<TestMessage>).updateTls(material(rotated));
    await dial();
    await waitFor('the second certificate', () => shown.length >= 2);
    assert.equal(shown.at(-1), rotated.fingerprint256);
  });
});
