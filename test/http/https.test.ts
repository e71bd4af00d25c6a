/**
 * The HTTP API over HTTPS (rqlited -http-cert, -http-key, -http-ca-cert,
 * -http-verify-client, -http-verify-common-name) on the real server, in process, with
 * openssl-made certificates: what it presents, whom it lets in under mutual TLS, what
 * /status says, and a certificate swapped for new connections.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import tls from 'node:tls';
import { after, before, describe, it } from 'node:test';
import { Agent, fetch as undiciFetch } from 'undici';
import type { HttpsOptions } from '../../src/http/options.js';
import { TestPki, type IssuedCertificate } from '../cluster/test-certificates.js';
import { startHarness, type Harness, type Json } from './harness.js';

let directory: string;
let pki: TestPki;
let server: IssuedCertificate;
let client: IssuedCertificate;
const harnesses: Harness[] = [];
const agents: Agent[] = [];

before(() => {
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-https-'));
  pki = new TestPki(directory);
  server = pki.issue('server', { usage: 'server' });
  client = pki.issue('client', { usage: 'client', commonName: 'app-client' });
});

after(async () => {
  for (const agent of agents) await agent.close();
  for (const harness of harnesses) await harness.close();
  rmSync(directory, { recursive: true, force: true });
});

function httpsOptions(overrides: Partial<HttpsOptions> = {}): HttpsOptions {
  return {
    cert: server.cert,
    key: server.key,
    ca: pki.ca.cert,
    verifyClient: false,
    clientCommonName: undefined,
    certFile: server.certPath,
    keyFile: server.keyPath,
    caFile: pki.ca.certPath,
    ...overrides,
  };
}

async function start(overrides: Partial<HttpsOptions> = {}): Promise<string> {
  const harness = await startHarness({ https: httpsOptions(overrides) });
  harnesses.push(harness);
  return harness.base.replace('http://', 'https://');
}

/** GET `url` trusting the test CA, presenting `certificate` if given; the status, or the error's text. */
async function get(url: string, certificate?: IssuedCertificate): Promise<{ status: number; body: Json } | { failed: string }> {
  const agent = new Agent({ connect: { ca: pki.ca.cert, ...(certificate === undefined ? {} : { cert: certificate.cert, key: certificate.key }) } });
  agents.push(agent);
  try {
    const response = await undiciFetch(url, { dispatcher: agent });
    const text = await response.text();
    return { status: response.status, body: /^[{"]/.test(text) ? JSON.parse(text) : text };
  } catch (error) {
    return { failed: String((error as Error).cause ?? error) };
  }
}

describe('HTTPS', () => {
  it('serves the API over TLS with the given certificate, and /status says so', async () => {
    const base = await start();
    const answer = await get(`${base}/status?key=http.tls`);
    assert.ok('status' in answer, JSON.stringify(answer));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, {
      enabled: 'enabled',
      client_auth: 'NoClientCert',
      cert_file: server.certPath,
      key_file: server.keyPath,
      ca_file: pki.ca.certPath,
      next_protos: ['http/1.1'],
    });
    const plain = await fetch(base.replace('https://', 'http://')).then(
      (response) => `status ${response.status}`,
      () => 'refused',
    );
    assert.notEqual(plain, 'status 200', 'plain HTTP gets no answer from the HTTPS port');
  });

  it('a client that does not trust the CA refuses the server', async () => {
    const base = await start();
    const agent = new Agent();
    agents.push(agent);
    await assert.rejects(undiciFetch(`${base}/status`, { dispatcher: agent }), (error: Error) => /certificate/i.test(String(error.cause)));
  });
});

describe('HTTPS with mutual TLS (-http-verify-client)', () => {
  let base: string;
  before(async () => {
    base = await start({ verifyClient: true });
  });

  it('answers a client whose certificate the CA signed, and reports RequireAndVerifyClientCert', async () => {
    const answer = await get(`${base}/status?key=http.tls.client_auth`, client);
    assert.deepEqual(answer, { status: 200, body: 'RequireAndVerifyClientCert' });
  });

  it('refuses a client without a certificate, with one another CA signed, and with an expired one', async () => {
    const foreign = pki.issue('foreign-client', { usage: 'client', authority: pki.otherCa });
    const expired = pki.issue('expired-client', { usage: 'client', days: -1 });
    for (const [what, certificate] of [
      ['no certificate', undefined],
      ['another CA', foreign],
      ['expired', expired],
    ] as const) {
      const answer = await get(`${base}/db/query?q=SELECT+1`, certificate);
      assert.ok('failed' in answer, `${what}: ${JSON.stringify(answer)}`);
    }
  });

  it('-http-verify-common-name: only a client certificate with that Common Name gets in', async () => {
    const strict = await start({ verifyClient: true, clientCommonName: 'app-client' });
    const other = pki.issue('other-client', { usage: 'client', commonName: 'someone-else' });
    const admitted = await get(`${strict}/readyz`, client);
    assert.ok('status' in admitted && admitted.status === 200, JSON.stringify(admitted));
    const refused = await get(`${strict}/readyz`, other);
    assert.ok('failed' in refused, JSON.stringify(refused));
  });
});

describe('HTTPS certificate rotation', () => {
  it('updateTls: a new connection is given the new certificate', async () => {
    const harness = await startHarness({ https: httpsOptions() });
    harnesses.push(harness);
    const port = Number(new URL(harness.base).port);
    const presented = async (): Promise<string> => {
      const socket = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.cert });
      try {
        await once(socket, 'secureConnect');
        return socket.getPeerCertificate().fingerprint256;
      } finally {
        socket.destroy();
      }
    };
    assert.equal(await presented(), server.fingerprint256);
    const rotated = pki.issue('rotated-server', { usage: 'server' });
    harness.server.updateTls({ cert: rotated.cert, key: rotated.key, ca: pki.ca.cert });
    assert.equal(await presented(), rotated.fingerprint256);
  });

  it('a plain HTTP server has no certificate to update', async () => {
    const harness = await startHarness();
    harnesses.push(harness);
    assert.throws(() => harness.server.updateTls({ cert: server.cert, key: server.key }), /plain HTTP/);
  });
});
