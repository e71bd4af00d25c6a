import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { resolveHttpServerOptions } from '../../src/http/options.js';
import { errorCode, postJson, startHarness, type Harness, type Json } from './harness.js';

const bodyBytesMax = 1000;
const statementCountMax = 10;
const urlBytesMax = 200;
const headerBytesMax = 4096;

let harness: Harness;
let base: string;
let port: number;

before(async () => {
  harness = await startHarness({
    bodyBytesMax,
    statementCountMax,
    urlBytesMax,
    headerBytesMax,
    headersTimeoutMs: 200,
    requestTimeoutMs: 400,
    connectionsCheckingIntervalMs: 50,
  });
  base = harness.base;
  port = Number(new URL(base).port);
});

after(async () => {
  await harness.close();
});

/** A one-statement JSON body of exactly `byteCount` bytes. */
function bodyOfBytes(byteCount: number): string {
  const prefix = '["SELECT \'';
  const suffix = '\'"]';
  const body = `${prefix}${'x'.repeat(byteCount - prefix.length - suffix.length)}${suffix}`;
  assert.equal(Buffer.byteLength(body), byteCount);
  return body;
}

/** Sends a body in chunks without Content-Length; resolves with status, text and the error code header. */
function postChunked(path: string, chunks: string[]): Promise<{ status: number; text: string; connection: string; errorCode: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest(`${base}${path}`, { method: 'POST', headers: { 'Transfer-Encoding': 'chunked' } }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        const code = response.headers['x-quorumlite-error'];
        resolve({
          status: response.statusCode ?? 0,
          text,
          connection: response.headers.connection ?? '',
          errorCode: typeof code === 'string' ? code : undefined,
        });
      });
    });
    request.on('error', reject);
    for (const chunk of chunks) request.write(chunk);
    request.end();
  });
}

describe('body size', () => {
  it('accepts a body of exactly bodyBytesMax', async () => {
    const response = await postJson(base, '/db/query', bodyOfBytes(bodyBytesMax));
    assert.equal(response.status, 200);
    const body = (await response.json()) as Json;
    assert.equal(body.results[0].values[0][0].length, bodyBytesMax - 13);
  });

  it('answers 413 for one byte more, with a clear message, and closes the connection', async () => {
    const response = await postJson(base, '/db/query', bodyOfBytes(bodyBytesMax + 1));
    assert.equal(response.status, 413);
    assert.equal(response.headers.get('connection'), 'close');
    assert.equal(errorCode(response), 'BODY_TOO_LARGE');
    assert.equal(await response.text(), `request body too large: the maximum is ${bodyBytesMax} bytes\n`);
  });

  it('counts a chunked body without Content-Length: exactly the max passes, one more byte is 413', async () => {
    const exact = bodyOfBytes(bodyBytesMax);
    const accepted = await postChunked('/db/query', [exact.slice(0, 500), exact.slice(500)]);
    assert.equal(accepted.status, 200);
    assert.equal(accepted.errorCode, undefined);
    const over = bodyOfBytes(bodyBytesMax + 1);
    const refused = await postChunked('/db/query', [over.slice(0, 600), over.slice(600)]);
    assert.equal(refused.status, 413);
    assert.equal(refused.connection, 'close');
    assert.equal(refused.errorCode, 'BODY_TOO_LARGE');
    assert.match(refused.text, /^request body too large/);
  });

  it('stores nothing from a refused body', async () => {
    await postJson(base, '/db/execute', ['CREATE TABLE IF NOT EXISTS big (x)']);
    const response = await postJson(base, '/db/execute', `["INSERT INTO big VALUES(1)", "${'y'.repeat(bodyBytesMax)}"]`);
    assert.equal(response.status, 413);
    await response.text();
    const count = (await (await fetch(`${base}/db/query?q=SELECT+COUNT(*)+FROM+big`)).json()) as Json;
    assert.deepEqual(count.results[0].values, [[0]]);
  });
});

/** POSTs with `Expect: 100-continue`, sending the body only after `100 Continue`. */
function postExpectingContinue(path: string, body: string): Promise<{ status: number; continued: boolean }> {
  return new Promise((resolve, reject) => {
    let continued = false;
    const request = httpRequest(
      `${base}${path}`,
      { method: 'POST', headers: { Expect: '100-continue', 'Content-Length': Buffer.byteLength(body) } },
      (response) => {
        response.resume();
        response.on('end', () => resolve({ status: response.statusCode ?? 0, continued }));
      },
    );
    request.on('continue', () => {
      continued = true;
      request.end(body);
    });
    request.on('error', reject);
    request.flushHeaders();
  });
}

describe('Expect: 100-continue', () => {
  it('sends 100 Continue for a body within the bound', async () => {
    assert.deepEqual(await postExpectingContinue('/db/query', bodyOfBytes(bodyBytesMax)), { status: 200, continued: true });
  });

  it('refuses a declared body over the bound with 413 before the client sends it', async () => {
    assert.deepEqual(await postExpectingContinue('/db/query', bodyOfBytes(bodyBytesMax + 1)), { status: 413, continued: false });
  });
});

describe('body size metrics', () => {
  it('counts the refused bodies', async () => {
    const text = await (await fetch(`${base}/metrics`)).text();
    const match = /^quorumlite_http_bodies_too_large_total (\d+)$/m.exec(text);
    assert.ok(match !== null, text);
    assert.ok(Number(match[1]) >= 3, `expected at least the three 413s above, got ${match[1]}`);
  });
});

describe('statement count', () => {
  it('accepts statementCountMax statements and answers 413 for one more', async () => {
    const atMax = await postJson(base, '/db/query', Array(statementCountMax).fill('SELECT 1'));
    assert.equal(atMax.status, 200);
    assert.equal(((await atMax.json()) as Json).results.length, statementCountMax);
    const over = await postJson(base, '/db/query', Array(statementCountMax + 1).fill('SELECT 1'));
    assert.equal(over.status, 413);
    assert.equal(errorCode(over), 'TOO_MANY_STATEMENTS');
    assert.equal(await over.text(), `too many statements: ${statementCountMax + 1} exceeds the maximum of ${statementCountMax}\n`);
  });
});

describe('URL and header size', () => {
  function pathOfBytes(byteCount: number): string {
    const prefix = '/db/query?q=SELECT+';
    const path = `${prefix}${'1'.repeat(byteCount - prefix.length)}`;
    assert.equal(path.length, byteCount);
    return path;
  }

  it('accepts a URL of exactly urlBytesMax and answers 414 for one byte more', async () => {
    const atMax = await fetch(`${base}${pathOfBytes(urlBytesMax)}`);
    assert.equal(atMax.status, 200);
    await atMax.body?.cancel();
    const over = await fetch(`${base}${pathOfBytes(urlBytesMax + 1)}`);
    assert.equal(over.status, 414);
    assert.equal(errorCode(over), 'URL_TOO_LONG');
    assert.equal(await over.text(), `request URL too long: the maximum is ${urlBytesMax} bytes\n`);
  });

  it('answers 431 when the headers exceed headerBytesMax', async () => {
    const response = await fetch(`${base}/status`, { headers: { 'X-Padding': 'p'.repeat(headerBytesMax) } });
    assert.equal(response.status, 431);
    assert.equal(errorCode(response), 'HEADERS_TOO_LARGE');
    await response.body?.cancel();
  });
});

describe('server timeouts', () => {
  it('closes a connection whose headers never finish (headersTimeoutMs)', async () => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.write('GET /status HTTP/1.1\r\nHost: x\r\n');
    const closed = await new Promise<boolean>((resolve) => {
      // A hang guard, not a speed assertion: the server must close well before this.
      const guard = setTimeout(() => resolve(false), 20_000);
      socket.on('close', () => {
        clearTimeout(guard);
        resolve(true);
      });
    });
    socket.destroy();
    assert.equal(closed, true, 'the server closed the stalled connection');
    assert.match(received, /^HTTP\/1\.1 408/);
    assert.match(received, /\r\nX-Quorumlite-Error: TIMEOUT\r\n/);
  });
});

describe('request timeout', () => {
  it('closes a connection whose body never finishes (requestTimeoutMs), and nothing reaches the service', async () => {
    const before = harness.service.requests.length;
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.write('POST /db/execute HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n["INSERT');
    const closed = await new Promise<boolean>((resolve) => {
      // A hang guard, not a speed assertion.
      const guard = setTimeout(() => resolve(false), 20_000);
      socket.on('close', () => {
        clearTimeout(guard);
        resolve(true);
      });
      socket.on('error', () => undefined);
      socket.resume();
    });
    socket.destroy();
    assert.equal(closed, true, 'the server closed the stalled connection');
    assert.equal(harness.service.requests.length, before);
    assert.equal(received, 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nX-Quorumlite-Error: TIMEOUT\r\n\r\n');
  });
});

describe('graceful close', () => {
  it('lets a request in flight finish, then refuses new connections', async () => {
    const local = await startHarness({ serviceGraceMs: 0 });
    local.service.knobs.hang = true;
    const inFlight = postJson(local.base, '/db/execute?timeout=200ms', ['SELECT 1']);
    // Wait until the service holds the request before closing.
    for (let attempt = 0; attempt < 200 && local.service.requests.length === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(local.service.requests.length, 1);
    const closing = local.close();
    const response = await inFlight;
    assert.equal(response.status, 503, 'the in-flight request got its answer');
    await response.text();
    await closing;
    await assert.rejects(fetch(`${local.base}/status`));
  });
});

describe('connection count', () => {
  it('serves connectionCountMax connections and drops one more', async () => {
    const { Agent, request } = await import('undici');
    const local = await startHarness({ connectionCountMax: 1 });
    const first = new Agent({ connections: 1, keepAliveTimeout: 10_000 });
    const second = new Agent({ connections: 1 });
    try {
      const held = await request(`${local.base}/status`, { dispatcher: first });
      assert.equal(held.statusCode, 200);
      await held.body.text();
      await assert.rejects(request(`${local.base}/status`, { dispatcher: second }), /other side closed|ECONNRESET|socket/i);
    } finally {
      await first.close();
      await second.close();
      await local.close();
    }
  });
});

describe('option validation', () => {
  it('refuses nonsensical bounds (programmer errors)', () => {
    assert.throws(() => resolveHttpServerOptions({ bodyBytesMax: 0 }), /bodyBytesMax must be a positive integer/);
    assert.throws(() => resolveHttpServerOptions({ statementCountMax: 1.5 }), /statementCountMax/);
    assert.throws(() => resolveHttpServerOptions({ urlBytesMax: 20_000 }), /urlBytesMax must be below headerBytesMax/);
    assert.throws(() => resolveHttpServerOptions({ defaultTimeoutMs: 700_000 }), /defaultTimeoutMs/);
    assert.equal(resolveHttpServerOptions({ bodyBytesMax: undefined }).bodyBytesMax, 64 * 1024 * 1024);
  });
});
