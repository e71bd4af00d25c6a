/**
 * Hostile HTTP clients against a real in-process node over real sockets: a slowloris
 * client, huge headers, a flood of connections and deeply nested JSON. Each is refused
 * or dropped within its bound, the node's memory does not grow with what it refuses,
 * and other clients are served throughout. Each limit is tested at the bound and one
 * past it. The bounds are shrunk here so the tests reach them quickly; their defaults
 * are in docs/API.md ("Limits").
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { startTestNode } from '../node/start-node.js';
import { closedWithin } from '../socket-closed.js';

const headersTimeoutMs = 1_500;
const connectionsCheckingIntervalMs = 100;
const headerBytesMax = 4096;
const connectionCountMax = 12;
const responseStallTimeoutMs = 1_500;
/** Hang guards, not speed assertions: a closed or answered socket long before these is the test. */
const hangGuardMs = 20_000;

let node: QuorumNode;
let port: number;
let directory: string;

before(async () => {
  const started = await startTestNode('hostile-clients', {
    http: {
      headersTimeoutMs,
      requestTimeoutMs: 3_000,
      connectionsCheckingIntervalMs,
      headerBytesMax,
      urlBytesMax: 1024,
      connectionCountMax,
      keepAliveTimeoutMs: 30_000,
      responseStallTimeoutMs,
    },
  });
  ({ node, dataDirectory: directory } = started);
  port = Number(new URL(started.baseUrl).port);
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

/** One request on its own connection (no pooled socket left holding a connection slot). */
function fetchOnce(
  path: string,
  options: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<{ status: number; text: string; errorCode: string | undefined }> {
  return new Promise((resolve, reject) => {
    const request = httpRequest({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => {
        const code = response.headers['x-quorumlite-error'];
        resolve({ status: response.statusCode ?? 0, text, errorCode: typeof code === 'string' ? code : undefined });
      });
    });
    request.on('error', reject);
    request.end(options.body);
  });
}

/** A raw connection: what it received, and a promise of its close. */
interface RawClient {
  readonly socket: Socket;
  readonly received: () => string;
  readonly closed: Promise<boolean>;
}

function openRaw(): RawClient {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => undefined);
  const closed = closedWithin(socket, hangGuardMs);
  return { socket, received: () => received, closed };
}

/** Client connections the node's HTTP server holds open. */
function openConnectionCount(): Promise<number> {
  return new Promise((resolve, reject) => node.http.server.getConnections((error, count) => (error ? reject(error) : resolve(count))));
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

describe('slow clients (headersTimeoutMs)', () => {
  it('serves a client that sends its headers a byte at a time but finishes within the bound', async () => {
    const client = openRaw();
    const head = 'GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n';
    // 53 bytes, 10 ms apart: about a third of headersTimeoutMs.
    for (const byte of head) {
      client.socket.write(byte);
      await sleep(10);
    }
    assert.equal(await client.closed, true);
    assert.match(client.received(), /^HTTP\/1\.1 200 /);
  });

  it('drops a slowloris client that never finishes its headers, and serves others meanwhile', async () => {
    const client = openRaw();
    const startedAtMs = performance.now();
    let closedAtMs = 0;
    void client.closed.then(() => (closedAtMs = performance.now()));
    client.socket.write('GET /status HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    // One more byte of a header value every 50 ms: always busy, never done.
    const trickle = setInterval(() => client.socket.write('a'), 50);
    let served = 0;
    try {
      while (closedAtMs === 0 && performance.now() - startedAtMs < hangGuardMs) {
        const response = await fetchOnce('/status');
        assert.equal(response.status, 200, 'another client is served while the slow one trickles');
        served++;
        await sleep(100);
      }
    } finally {
      clearInterval(trickle);
    }
    assert.equal(await client.closed, true, 'the slow client was dropped');
    assert.ok(closedAtMs - startedAtMs >= headersTimeoutMs - 50, `dropped after ${Math.round(closedAtMs - startedAtMs)} ms, before headersTimeoutMs`);
    assert.match(client.received(), /^HTTP\/1\.1 408 /);
    assert.ok(served >= 3, `served ${served} other requests meanwhile`);
  });
});

/** A GET whose head Node counts as exactly `countedBytes` (the target plus header names and values). */
function headOfCountedBytes(countedBytes: number): string {
  const target = '/status';
  const fixed = target.length + 'Host'.length + 'x'.length + 'Connection'.length + 'close'.length + 'X-Padding'.length;
  return `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Padding: ${'p'.repeat(countedBytes - fixed)}\r\n\r\n`;
}

async function sendRaw(head: string | Buffer): Promise<string> {
  const client = openRaw();
  client.socket.write(head);
  assert.equal(await client.closed, true);
  return client.received();
}

/** Live heap plus Buffers after a full collection, in bytes. */
function retainedBytes(): number {
  setFlagsFromString('--expose-gc');
  const collect = runInNewContext('gc') as () => void;
  collect();
  collect();
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.external;
}

describe('huge headers (headerBytesMax)', () => {
  it('accepts a head of exactly headerBytesMax and answers 431 for one byte more', async () => {
    assert.match(await sendRaw(headOfCountedBytes(headerBytesMax)), /^HTTP\/1\.1 200 /);
    const refused = await sendRaw(headOfCountedBytes(headerBytesMax + 1));
    assert.match(refused, /^HTTP\/1\.1 431 /);
    assert.match(refused, /\r\nX-Quorumlite-Error: HEADERS_TOO_LARGE\r\n/);
  });

  it('refuses 100 heads of 1 MiB each without keeping them: memory stays flat', async () => {
    const hugeHead = Buffer.from(`GET /status HTTP/1.1\r\nHost: x\r\nX-Padding: ${'p'.repeat(1024 * 1024)}\r\n\r\n`);
    await sendRaw(hugeHead);
    const beforeBytes = retainedBytes();
    for (let round = 0; round < 10; round++) {
      const replies = await Promise.all(Array.from({ length: 10 }, () => sendRaw(hugeHead)));
      for (const reply of replies) assert.ok(reply === '' || reply.startsWith('HTTP/1.1 431 '), reply.slice(0, 40));
    }
    const grownBytes = retainedBytes() - beforeBytes;
    assert.ok(grownBytes < 16 * 1024 * 1024, `retained ${Math.round(grownBytes / 1024)} KiB more after refusing 100 MiB of headers`);
    assert.equal((await fetchOnce('/status')).status, 200);
  });
});

describe('connections (connectionCountMax)', () => {
  /** A keep-alive connection that has been served once and stays open. */
  async function heldConnection(): Promise<RawClient> {
    const client = openRaw();
    client.socket.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor('the held connection to be served', () => (client.received().startsWith('HTTP/1.1 200 ') ? true : undefined));
    return client;
  }

  it('serves connectionCountMax open connections, drops one more, and serves again once one closes', async () => {
    const held: RawClient[] = [];
    try {
      for (let index = 0; index < connectionCountMax; index++) held.push(await heldConnection());
      const extra = openRaw();
      extra.socket.write('GET /status HTTP/1.1\r\nHost: x\r\n\r\n');
      assert.equal(await extra.closed, true);
      assert.equal(extra.received(), '', 'the connection past the bound is closed unanswered');
      held.pop()?.socket.destroy();
      await waitFor('a slot to free', async () => ((await fetchOnce('/status').catch(() => undefined))?.status === 200 ? true : undefined));
    } finally {
      for (const client of held) client.socket.destroy();
    }
  });

  it('reclaims connections that never send a byte after headersTimeoutMs, then serves again', async () => {
    const idle = Array.from({ length: connectionCountMax }, () => openRaw());
    await sleep(200);
    await assert.rejects(fetchOnce('/status'), /socket hang up|ECONNRESET/);
    const closed = await Promise.all(idle.map((client) => client.closed));
    assert.deepEqual(new Set(closed), new Set([true]), 'every idle connection was closed by the server');
    for (const client of idle) assert.match(client.received(), /^HTTP\/1\.1 408 /);
    assert.equal((await fetchOnce('/status')).status, 200);
  });

  it('keeps serving after a burst of ten times the bound', async () => {
    const burst = Array.from({ length: connectionCountMax * 10 }, () => openRaw());
    for (const client of burst) client.socket.write('GET /status HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    const closed = await Promise.all(burst.map((client) => client.closed));
    assert.ok(closed.every(Boolean));
    const served = burst.filter((client) => client.received().startsWith('HTTP/1.1 200 ')).length;
    assert.ok(served >= 1, `${served} of ${burst.length} served`);
    assert.equal((await fetchOnce('/status')).status, 200);
  });
});

describe('deeply nested JSON', () => {
  for (const [name, body] of [
    ['100,000 unclosed arrays', '['.repeat(100_000)],
    ['100,000 nested arrays', `${'['.repeat(100_000)}${']'.repeat(100_000)}`],
    ['100,000 nested objects as a parameter', `[["SELECT ?", ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]]`],
  ] as const) {
    it(`answers ${name} with 400, not a stack overflow, and keeps serving`, async () => {
      for (const path of ['/db/execute', '/db/query', '/db/request']) {
        const response = await fetchOnce(path, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
        assert.equal(response.status, 400);
        assert.equal(response.errorCode, 'BAD_REQUEST');
        assert.match(response.text, /^invalid JSON body: JSON nested deeper than 4 levels/);
      }
      const write = await fetchOnce('/db/execute', {
        method: 'POST',
        body: '["CREATE TABLE IF NOT EXISTS t (x)"]',
        headers: { 'Content-Type': 'application/json' },
      });
      assert.equal(write.status, 200);
    });
  }
});

describe('clients that stop reading (responseStallTimeoutMs)', () => {
  // About 12 MB of JSON: far more than the socket buffers hold, so the server waits on the client.
  const rows = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 12000)';
  const bigQuery = `/db/query?q=${encodeURIComponent(`${rows} SELECT x, printf('%.1000c', 'y') FROM c`)}`;

  it('sends the whole response to a client that pauses for less than the bound between reads', async () => {
    const client = openRaw();
    client.socket.write(`GET ${bigQuery} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    // Read for 50 ms, pause for well under the bound, again and again.
    const pacing = setInterval(
      () => {
        client.socket.pause();
        setTimeout(() => client.socket.resume(), responseStallTimeoutMs / 3);
      },
      responseStallTimeoutMs / 3 + 50,
    );
    try {
      assert.equal(await client.closed, true);
    } finally {
      clearInterval(pacing);
    }
    const text = client.received();
    assert.match(text, /^HTTP\/1\.1 200 /);
    assert.ok(text.length > 12_000_000, `received ${text.length} characters`);
    assert.ok(text.endsWith('\r\n0\r\n\r\n'), 'the chunked response ended properly');
  });

  it('drops a client that stops reading a response, and serves others meanwhile', async () => {
    const client = openRaw();
    client.socket.once('data', () => client.socket.pause());
    const startedAtMs = performance.now();
    client.socket.write(`GET ${bigQuery} HTTP/1.1\r\nHost: x\r\n\r\n`);
    // A paused client cannot see its connection close; the server's own count can.
    let droppedAtMs = 0;
    while (droppedAtMs === 0 && performance.now() - startedAtMs < hangGuardMs) {
      assert.equal((await fetchOnce('/status')).status, 200, 'another client is served meanwhile');
      await sleep(100);
      if ((await openConnectionCount()) === 0) droppedAtMs = performance.now();
    }
    assert.ok(droppedAtMs > 0, 'the server closed the stalled connection');
    assert.ok(droppedAtMs - startedAtMs >= responseStallTimeoutMs, `dropped after ${Math.round(droppedAtMs - startedAtMs)} ms`);
    client.socket.resume();
    assert.equal(await client.closed, true);
    assert.ok(!client.received().endsWith('\r\n0\r\n\r\n'), 'the response was cut off');
  });
});
