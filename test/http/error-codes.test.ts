/**
 * The `X-Quorumlite-Error` header: every ServiceErrorCode maps to rqlite's status and
 * to a header naming the code, through the mapping and through the real server; the
 * HTTP layer's own refusals (Node's parser included) carry one too; the codes form one
 * list; and the HTTP layer stays behind the server wiring.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { serviceErrorToHttp } from '../../src/http/error-replies.js';
import { errorCodeHeader, httpErrorCodes } from '../../src/http/http-error.js';
import { ServiceError, serviceErrorCodes, type ServiceErrorCode } from '../../src/service/service.js';
import { errorCode, postJson, startHarness, type Harness, type Json } from './harness.js';

/** rqlite's status for each service code (NOT_LEADER with a known leader address; 503 without). */
const expectedStatus: Readonly<Record<ServiceErrorCode, number>> = {
  NOT_LEADER: 301,
  NO_LEADER: 503,
  STALE_READ: 200,
  TIMEOUT: 503,
  BAD_REQUEST: 400,
  REFUSED_SQL: 200,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  UNAVAILABLE: 503,
  HALTED: 503,
  NOT_FOUND: 404,
  INTERNAL: 500,
  TX_CONFLICT: 409,
  TX_NOT_FOUND: 404,
  TX_LIMIT: 429,
  LOG_COMPACTED: 410,
  DB_CONFLICT: 409,
  SETTINGS_MISMATCH: 409,
};

const leaderApiAddress = 'http://127.0.0.9:4001';

function serviceError(code: ServiceErrorCode): ServiceError {
  return new ServiceError(code, `failure ${code}`, { leaderApiAddress: code === 'NOT_LEADER' ? leaderApiAddress : null });
}

describe('the error code list', () => {
  it('holds every service code, once each, and the header name', () => {
    assert.equal(errorCodeHeader, 'X-Quorumlite-Error');
    assert.equal(new Set(httpErrorCodes).size, httpErrorCodes.length);
    for (const code of serviceErrorCodes) assert.ok(httpErrorCodes.includes(code), code);
    assert.deepEqual(Object.keys(expectedStatus).sort(), [...serviceErrorCodes].sort());
  });
});

describe('serviceErrorToHttp', () => {
  const request = { url: '/db/execute?redirect' } as IncomingMessage;

  it('maps every service code to rqlite status and to itself as the code', () => {
    for (const code of serviceErrorCodes) {
      const httpError = serviceErrorToHttp(request, serviceError(code));
      assert.equal(httpError.status, expectedStatus[code], code);
      assert.equal(httpError.code, code);
    }
  });

  it('answers NOT_LEADER without a leader address as 503 "leader not found", still coded NOT_LEADER', () => {
    const httpError = serviceErrorToHttp(request, new ServiceError('NOT_LEADER', 'not the leader'));
    assert.equal(httpError.status, 503);
    assert.equal(httpError.message, 'leader not found');
    assert.equal(httpError.code, 'NOT_LEADER');
  });
});

describe('the header on every service failure, through the server', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness.close();
  });

  for (const code of serviceErrorCodes) {
    it(`${code}: rqlite's status and body, and X-Quorumlite-Error: ${code}`, async () => {
      harness.service.knobs.failWith = serviceError(code);
      try {
        const response = await fetch(`${harness.base}/db/execute`, { method: 'POST', body: '["SELECT 1"]', redirect: 'manual' });
        assert.equal(response.status, expectedStatus[code]);
        assert.equal(errorCode(response), code);
        const body = await response.text();
        if (code === 'STALE_READ' || code === 'REFUSED_SQL') assert.deepEqual(JSON.parse(body) as Json, { results: [], error: `failure ${code}` });
        else if (code === 'NOT_LEADER') assert.equal(response.headers.get('location'), `${leaderApiAddress}/db/execute`);
        else if (code === 'NO_LEADER') assert.equal(body, 'leader not found\n');
        else assert.equal(body, `failure ${code}\n`);
      } finally {
        harness.service.knobs.failWith = null;
      }
    });
  }

  it('sends no code on a success', async () => {
    const response = await postJson(harness.base, '/db/execute', ['SELECT 1']);
    assert.equal(response.status, 200);
    assert.equal(errorCode(response), null);
    await response.text();
  });
});

/** Sends raw bytes and collects everything the server writes until it closes the connection. */
function rawExchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (received += chunk));
    socket.on('error', reject);
    socket.on('close', () => resolve(received));
    socket.write(bytes);
  });
}

describe('requests that Node refuses before routing', () => {
  let harness: Harness;
  before(async () => {
    harness = await startHarness();
  });
  after(async () => {
    await harness.close();
  });

  it("answers a malformed request with Node's bare 400, coded BAD_REQUEST", async () => {
    const port = Number(new URL(harness.base).port);
    const received = await rawExchange(port, 'NOT A REQUEST\r\n\r\n');
    assert.equal(received, 'HTTP/1.1 400 Bad Request\r\nConnection: close\r\nX-Quorumlite-Error: BAD_REQUEST\r\n\r\n');
  });
});

describe('layering', () => {
  const sourceRoot = new URL('../../src/', import.meta.url).pathname;

  function sourceFiles(directory: string): string[] {
    const files: string[] = [];
    for (const name of readdirSync(directory).sort()) {
      const path = join(directory, name);
      if (statSync(path).isDirectory()) files.push(...sourceFiles(path));
      else if (name.endsWith('.ts')) files.push(relative(sourceRoot, path));
    }
    return files;
  }

  it('only the composition root (src/server) imports the HTTP layer, and only its server and options; only src/http creates HttpError', () => {
    const imports: string[] = [];
    const creators: string[] = [];
    for (const file of sourceFiles(sourceRoot)) {
      if (file.startsWith('http/')) continue;
      const text = readFileSync(join(sourceRoot, file), 'utf8');
      for (const match of text.matchAll(/from '([^']*\/http\/[^']*)'/g)) imports.push(`${file} -> ${match[1] ?? ''}`);
      if (/new HttpError\(/.test(text)) creators.push(file);
    }
    // The composition root creates the server (server/quorum-node.ts); nothing else depends on the HTTP layer.
    const allowed = /^server\/[a-z-]+\.ts -> \.\.\/http\/(server|options)\.js$/;
    assert.deepEqual(
      imports.filter((line) => !allowed.test(line)),
      [],
    );
    assert.ok(imports.length > 0, 'the composition root wires the server');
    assert.deepEqual(creators, []);
  });
});
