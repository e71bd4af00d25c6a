/**
 * The client branches on the server's `X-Quorumlite-Error` code, not on message text:
 * a double that sends each code (with misleading text) gets the client code the code
 * names; a HALTED node reads as NODE_HALTED and the client moves on to another node;
 * text is read only from servers that are not quorumlite (rqlite); and every service
 * failure arrives at the client with its code through the real HTTP server.
 */
import assert from 'node:assert/strict';
import type { ServerResponse } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { createClient, QuorumliteError, type ClientConfig, type QuorumliteErrorCode } from '../../src/client/index.js';
import { clientCodeForServerCode, errorBodyCharactersMax, errorBodyJsonBytesMax, errorForStatus } from '../../src/client/reply-errors.js';
import { httpErrorCodes, type HttpErrorCode } from '../../src/http/http-error.js';
import { ServiceError, serviceErrorCodes, type ServiceErrorCode } from '../../src/service/service.js';
import { startHarness, type Harness } from '../http/harness.js';
import { sendJson, startFakeNode, type FakeNode } from './helpers/fake-node.js';
import { startMiniRqlite, type MiniRqlite } from './helpers/mini-rqlite.js';

const fastRetry = { initialDelayMs: 1, delayMsMax: 10 };

function clientFor(nodes: string[], extra: Partial<ClientConfig> = {}) {
  return createClient({ nodes, discoverNodes: false, retry: fastRetry, ...extra });
}

/** One attempt only, so the error is the reply's own, not DEADLINE_EXCEEDED. */
function singleAttemptClient(url: string, extra: Partial<ClientConfig> = {}) {
  return clientFor([url], { retry: { ...fastRetry, attemptsMax: 1 }, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<QuorumliteError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof QuorumliteError, `expected QuorumliteError, got ${String(error)}`);
  return error;
}

/** The status a quorumlite server pairs with each code, and what the client makes of it. */
const serverReplies: Readonly<Record<HttpErrorCode, { readonly status: number; readonly clientCode: QuorumliteErrorCode }>> = {
  NOT_LEADER: { status: 503, clientCode: 'NO_LEADER' },
  NO_LEADER: { status: 503, clientCode: 'NO_LEADER' },
  STALE_READ: { status: 200, clientCode: 'STALE_READ' },
  TIMEOUT: { status: 503, clientCode: 'TIMEOUT' },
  BAD_REQUEST: { status: 400, clientCode: 'BAD_REQUEST' },
  REFUSED_SQL: { status: 200, clientCode: 'BAD_REQUEST' },
  UNAUTHORIZED: { status: 401, clientCode: 'UNAUTHORIZED' },
  FORBIDDEN: { status: 403, clientCode: 'UNAUTHORIZED' },
  UNAVAILABLE: { status: 503, clientCode: 'UNAVAILABLE' },
  HALTED: { status: 503, clientCode: 'NODE_HALTED' },
  NOT_FOUND: { status: 404, clientCode: 'HTTP_ERROR' },
  INTERNAL: { status: 500, clientCode: 'SERVER_ERROR' },
  BODY_TOO_LARGE: { status: 413, clientCode: 'BODY_TOO_LARGE' },
  TOO_MANY_STATEMENTS: { status: 413, clientCode: 'BODY_TOO_LARGE' },
  URL_TOO_LONG: { status: 414, clientCode: 'HTTP_ERROR' },
  HEADERS_TOO_LARGE: { status: 431, clientCode: 'HTTP_ERROR' },
  METHOD_NOT_ALLOWED: { status: 405, clientCode: 'HTTP_ERROR' },
  NOT_READY: { status: 503, clientCode: 'UNAVAILABLE' },
  TX_CONFLICT: { status: 409, clientCode: 'TX_CONFLICT' },
  TX_NOT_FOUND: { status: 404, clientCode: 'TX_NOT_FOUND' },
  TX_LIMIT: { status: 429, clientCode: 'TX_LIMIT' },
  LOG_COMPACTED: { status: 410, clientCode: 'HTTP_ERROR' },
  DB_CONFLICT: { status: 409, clientCode: 'HTTP_ERROR' },
  SETTINGS_MISMATCH: { status: 409, clientCode: 'HTTP_ERROR' },
};

/** Answers like a quorumlite node: status, code header, version header, and the given body. */
function answerCoded(response: ServerResponse, status: number, code: string, body: unknown): void {
  sendJson(response, status, body, { 'x-quorumlite-error': code, 'x-quorumlite-version': '0.1.0' });
}

describe('the client knows every server code', () => {
  it('maps each code the server can send, and nothing else', () => {
    assert.deepEqual([...clientCodeForServerCode.keys()].sort(), [...httpErrorCodes].sort());
    for (const code of httpErrorCodes) assert.equal(clientCodeForServerCode.get(code), serverReplies[code].clientCode, code);
  });
});

describe('an error body in a message', () => {
  const encoder = new TextEncoder();
  const detailOf = (body: string): string => {
    const error = errorForStatus({ status: 500, location: undefined, contentType: 'application/json', body: encoder.encode(body) }, 'http://n1');
    assert.ok(error !== undefined);
    return error.message.slice('http://n1 answered HTTP 500: '.length);
  };

  it('keeps a message of errorBodyCharactersMax characters whole and cuts one more, never inside a surrogate pair', () => {
    const atBound = 'x'.repeat(errorBodyCharactersMax);
    assert.equal(detailOf(JSON.stringify({ error: atBound })), atBound);
    assert.equal(detailOf(JSON.stringify({ error: `${atBound}y` })), `${atBound}…`);
    // A pair across the bound: the cut drops its first half rather than keep half a character.
    const pairAcross = `${'x'.repeat(errorBodyCharactersMax - 1)}😀z`;
    assert.equal(detailOf(JSON.stringify({ error: pairAcross })), `${'x'.repeat(errorBodyCharactersMax - 1)}…`);
  });

  it("reads a JSON body's error field up to errorBodyJsonBytesMax, and past it the text the body starts with", () => {
    const longError = 'e'.repeat(3000);
    assert.equal(detailOf(JSON.stringify({ error: longError })), `${'e'.repeat(errorBodyCharactersMax)}…`);
    const fill = (bytes: number): string => JSON.stringify({ error: 'f'.repeat(bytes - '{"error":""}'.length) });
    assert.equal(encoder.encode(fill(errorBodyJsonBytesMax)).byteLength, errorBodyJsonBytesMax);
    assert.equal(detailOf(fill(errorBodyJsonBytesMax)), `${'f'.repeat(errorBodyCharactersMax)}…`);
    assert.equal(detailOf(fill(errorBodyJsonBytesMax + 1)), `{"error":"${'f'.repeat(errorBodyCharactersMax - '{"error":"'.length)}…`);
    assert.equal(detailOf('plain text, not JSON'), 'plain text, not JSON');
  });
});

describe('a double that sends each code', () => {
  let node: FakeNode;
  before(async () => {
    node = await startFakeNode();
  });
  after(async () => {
    await node.close();
  });

  for (const code of httpErrorCodes) {
    const { status, clientCode } = serverReplies[code];
    it(`${code} (HTTP ${status}) reads as ${clientCode}, whatever the text says`, async () => {
      // "not leader" would read as NO_LEADER if the client still matched text.
      node.handler = (_request, response) => answerCoded(response, status, code, { error: 'not leader' });
      const client = singleAttemptClient(node.url);
      try {
        const error = await rejection(client.execute('SELECT 1'));
        assert.equal(error.code, clientCode);
        assert.equal(error.serverCode, code);
      } finally {
        await client.close();
      }
    });
  }

  it('reads the code on the fetch transport too', async () => {
    node.handler = (_request, response) => answerCoded(response, 503, 'HALTED', 'leader not found');
    const client = singleAttemptClient(node.url, { fetch: (input, init) => fetch(input, init) });
    try {
      const error = await rejection(client.execute('SELECT 1'));
      assert.equal(error.code, 'NODE_HALTED');
      assert.equal(error.serverCode, 'HALTED');
    } finally {
      await client.close();
    }
  });

  it('falls back to the status for a code it does not know (a newer server), never to the text', async () => {
    node.handler = (_request, response) => answerCoded(response, 404, 'SOMETHING_NEW', { error: 'not leader' });
    const client = singleAttemptClient(node.url);
    try {
      const error = await rejection(client.execute('SELECT 1'));
      assert.equal(error.code, 'HTTP_ERROR');
      assert.equal(error.serverCode, 'SOMETHING_NEW');
    } finally {
      await client.close();
    }
  });
});

describe('text is read only from servers that are not quorumlite', () => {
  const nodes: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const node of nodes) await node.close();
  });
  async function fake(...args: Parameters<typeof startFakeNode>): Promise<FakeNode> {
    const started = await startFakeNode(...args);
    nodes.push(started);
    return started;
  }

  it('a 404 "not leader" is NO_LEADER from rqlite (no headers) and HTTP_ERROR with the NOT_FOUND code', async () => {
    const rqlite = await fake((_request, response) => sendJson(response, 404, { error: 'not leader' }));
    const quorumlite = await fake((_request, response) => answerCoded(response, 404, 'NOT_FOUND', { error: 'not leader' }));
    const fromRqlite = singleAttemptClient(rqlite.url);
    const fromQuorumlite = singleAttemptClient(quorumlite.url);
    try {
      assert.equal((await rejection(fromRqlite.execute('SELECT 1'))).code, 'NO_LEADER');
      assert.equal((await rejection(fromQuorumlite.execute('SELECT 1'))).code, 'HTTP_ERROR');
    } finally {
      await fromRqlite.close();
      await fromQuorumlite.close();
    }
  });

  it('a per-statement "not leader" is a SQL error from quorumlite, not retried', async () => {
    const quorumlite = await fake((_request, response) =>
      sendJson(response, 200, { results: [{ error: 'no such table: not leader' }] }, { 'x-quorumlite-version': '0.1.0' }),
    );
    const client = clientFor([quorumlite.url]);
    try {
      const error = await rejection(client.execute('SELECT * FROM "not leader"'));
      assert.equal(error.code, 'SQL_ERROR');
      assert.equal(quorumlite.requests.filter((request) => request.path === '/db/execute').length, 1);
    } finally {
      await client.close();
    }
  });

  it('a 200 request error from quorumlite without a code is SERVER_ERROR, whatever it says', async () => {
    const quorumlite = await fake((_request, response) => sendJson(response, 200, { error: 'stale read' }, { 'x-quorumlite-version': '0.1.0' }));
    const client = singleAttemptClient(quorumlite.url);
    try {
      assert.equal((await rejection(client.query('SELECT 1'))).code, 'SERVER_ERROR');
    } finally {
      await client.close();
    }
  });
});

describe('a halted node', () => {
  const nodes: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const node of nodes) await node.close();
  });

  it('is its own error, and the client moves on to another node with the same idempotency key', async () => {
    const healthy: MiniRqlite = await startMiniRqlite();
    const halted = await startFakeNode((_request, response) => answerCoded(response, 503, 'HALTED', 'node halted: no space left on device\n'));
    nodes.push(healthy, halted);
    const client = clientFor([halted.url, healthy.url]);
    try {
      await client.execute('CREATE TABLE after_halt (x)');
      const sent = (node: FakeNode) => node.requests.filter((request) => request.path === '/db/execute');
      assert.equal(sent(halted).length, 1);
      assert.equal(sent(healthy.node).length, 1);
      assert.equal(sent(halted)[0]?.headers['idempotency-key'], sent(healthy.node)[0]?.headers['idempotency-key']);
      const alone = singleAttemptClient(halted.url);
      try {
        const error = await rejection(alone.execute('SELECT 1'));
        assert.equal(error.code, 'NODE_HALTED');
        assert.equal(error.retryable, true);
        assert.equal(error.httpStatus, 503);
        assert.match(error.message, /node halted: no space left on device/);
      } finally {
        await alone.close();
      }
    } finally {
      await client.close();
    }
  });
});

describe('every service failure, from the service seam through the real HTTP server to the client', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness.close();
  });

  /** NOT_LEADER without a leader address: with one, the server redirects and the client follows. */
  const clientCodeForService: Readonly<Record<ServiceErrorCode, QuorumliteErrorCode>> = {
    NOT_LEADER: 'NO_LEADER',
    NO_LEADER: 'NO_LEADER',
    STALE_READ: 'STALE_READ',
    TIMEOUT: 'TIMEOUT',
    BAD_REQUEST: 'BAD_REQUEST',
    REFUSED_SQL: 'BAD_REQUEST',
    UNAUTHORIZED: 'UNAUTHORIZED',
    FORBIDDEN: 'UNAUTHORIZED',
    UNAVAILABLE: 'UNAVAILABLE',
    HALTED: 'NODE_HALTED',
    NOT_FOUND: 'HTTP_ERROR',
    INTERNAL: 'SERVER_ERROR',
    TX_CONFLICT: 'TX_CONFLICT',
    TX_NOT_FOUND: 'TX_NOT_FOUND',
    TX_LIMIT: 'TX_LIMIT',
    LOG_COMPACTED: 'HTTP_ERROR',
    DB_CONFLICT: 'HTTP_ERROR',
    SETTINGS_MISMATCH: 'HTTP_ERROR',
  };

  for (const code of serviceErrorCodes) {
    it(`${code} reaches the client as ${clientCodeForService[code]}`, async () => {
      harness.service.knobs.failWith = new ServiceError(code, `service says ${code}`);
      const client = singleAttemptClient(harness.base);
      try {
        const error = await rejection(client.execute('SELECT 1'));
        assert.equal(error.code, clientCodeForService[code]);
        assert.equal(error.serverCode, code);
      } finally {
        harness.service.knobs.failWith = null;
        await client.close();
      }
    });
  }
});
