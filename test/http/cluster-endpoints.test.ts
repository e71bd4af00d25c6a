import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { httpServerDefaults } from '../../src/http/options.js';
import type { NodesRequest, ReadinessRequest } from '../../src/service/service.js';
import { errorCode, startHarness, type Harness, type Json } from './harness.js';

let harness: Harness;
let base: string;

before(async () => {
  harness = await startHarness({ allowOrigin: 'https://console.example' });
  base = harness.base;
});

after(async () => {
  await harness.close();
});

describe('GET /status', () => {
  it('answers the nested status document, bigints exact', async () => {
    const response = await fetch(`${base}/status`);
    assert.equal(response.status, 200);
    assert.equal(response.headers.get('x-rqlite-version'), 'v10.0.0');
    const text = await response.text();
    assert.match(text, /"big":9223372036854775807/);
    assert.equal(JSON.parse(text).store.raft.state, 'Leader');
  });

  it('answers a sub-object with ?key=a.b and, as rqlite does, {} with 200 for a missing key', async () => {
    assert.deepEqual((await (await fetch(`${base}/status?key=store.raft`)).json()) as Json, { state: 'Leader', commit_index: 0, voter: true });
    const missing = await fetch(`${base}/status?key=store.nothing`);
    assert.equal(missing.status, 200);
    assert.equal(errorCode(missing), null);
    assert.equal(await missing.text(), '{}');
  });
});

describe('GET /nodes', () => {
  it('answers voters as a map by id (legacy shape)', async () => {
    const body = (await (await fetch(`${base}/nodes`)).json()) as Json;
    assert.deepEqual(Object.keys(body).sort(), ['n1', 'n2']);
    assert.deepEqual(body.n1, {
      id: 'n1',
      api_addr: 'http://127.0.0.1:4001',
      addr: '127.0.0.1:4002',
      version: '0.1.0',
      voter: true,
      reachable: true,
      leader: true,
      time: 0.001,
      time_s: '1ms',
    });
  });

  it('answers {"nodes": […]} with ?ver=2, non-voters with ?nonvoters', async () => {
    const body = (await (await fetch(`${base}/nodes?ver=2&nonvoters`)).json()) as Json;
    assert.deepEqual(
      body.nodes.map((node: { id: string }) => node.id),
      ['n1', 'n2', 'n3'],
    );
    assert.equal(body.nodes[2].voter, false);
    assert.equal((harness.service.requests.at(-1) as NodesRequest).nonVoters, true);
    const bad = await fetch(`${base}/nodes?ver=3`);
    assert.equal(bad.status, 400);
    assert.equal(errorCode(bad), 'BAD_REQUEST');
  });
});

describe('/leader', () => {
  it('GET answers the leader node', async () => {
    const body = (await (await fetch(`${base}/leader`)).json()) as Json;
    assert.equal(body.id, 'n1');
    assert.equal(body.leader, true);
    assert.equal(body.api_addr, 'http://127.0.0.1:4001');
  });

  it('POST steps down, to a target with {"id": …} and ?wait', async () => {
    const plain = await fetch(`${base}/leader`, { method: 'POST' });
    assert.equal(plain.status, 200);
    const targeted = await fetch(`${base}/leader?wait`, { method: 'POST', body: '{"id":"n2"}' });
    assert.equal(targeted.status, 200);
    assert.deepEqual(
      harness.service.stepDowns.map((request) => [request.id, request.wait]),
      [
        [null, false],
        ['n2', true],
      ],
    );
  });

  it('POST refuses a malformed body and passes an unknown target as 404', async () => {
    const malformed = await fetch(`${base}/leader`, { method: 'POST', body: '{"id":"n2","extra":1}' });
    assert.equal(malformed.status, 400);
    assert.equal(errorCode(malformed), 'BAD_REQUEST');
    const unknown = await fetch(`${base}/leader`, { method: 'POST', body: '{"id":"n9"}' });
    assert.equal(unknown.status, 404);
    assert.equal(errorCode(unknown), 'NOT_FOUND');
    assert.equal(await unknown.text(), 'node n9 is not a member\n');
  });
});

describe('DELETE /remove', () => {
  it('removes the node named by a body of exactly {"id": …}', async () => {
    const response = await fetch(`${base}/remove`, { method: 'DELETE', body: '{"id":"n3"}' });
    assert.equal(response.status, 200);
    assert.equal(harness.service.removals.at(-1)?.id, 'n3');
  });

  it('refuses other bodies with 400 and removes nothing', async () => {
    const before = harness.service.removals.length;
    for (const body of ['', '{}', '{"id":"n3","x":1}', '{"id":3}', '["n3"]', 'n3']) {
      const response = await fetch(`${base}/remove`, { method: 'DELETE', body });
      assert.equal(response.status, 400, body);
      assert.equal(errorCode(response), 'BAD_REQUEST', body);
      assert.match(await response.text(), /^(invalid request|invalid JSON body)/);
    }
    assert.equal(harness.service.removals.length, before);
  });

  it('answers 404 for a node that is not a member', async () => {
    const response = await fetch(`${base}/remove`, { method: 'DELETE', body: '{"id":"n9"}' });
    assert.equal(response.status, 404);
    assert.equal(errorCode(response), 'NOT_FOUND');
  });

  it('bounds the body at controlBodyBytesMax', async () => {
    const response = await fetch(`${base}/remove`, { method: 'DELETE', body: `{"id":"${'x'.repeat(5000)}"}` });
    assert.equal(response.status, 413);
  });

  it('reads a body of exactly controlBodyBytesMax and answers 413 for one byte more', async () => {
    const bytesMax = httpServerDefaults.controlBodyBytesMax;
    const idBody = (bodyBytes: number): string => `{"id":"${'x'.repeat(bodyBytes - '{"id":""}'.length)}"}`;
    const before = harness.service.removals.length;
    const atMax = await fetch(`${base}/remove`, { method: 'DELETE', body: idBody(bytesMax) });
    assert.equal(atMax.status, 404, 'read and parsed: the id is simply not a member');
    assert.match(await atMax.text(), /x{100}/);
    const over = await fetch(`${base}/remove`, { method: 'DELETE', body: idBody(bytesMax + 1) });
    assert.equal(over.status, 413);
    assert.equal(errorCode(over), 'BODY_TOO_LARGE');
    assert.equal(await over.text(), `request body too large: the maximum is ${bytesMax} bytes\n`);
    assert.equal(harness.service.removals.length, before);
  });
});

describe('GET /readyz', () => {
  it('answers the rqlite lines when ready', async () => {
    const response = await fetch(`${base}/readyz`);
    assert.equal(response.status, 200);
    assert.equal(errorCode(response), null);
    assert.equal(await response.text(), '[+]node ok\n[+]leader ok\n[+]store ok\n[+]db ok');
  });

  it('adds the sync line with ?sync', async () => {
    const response = await fetch(`${base}/readyz?sync&timeout=3s`);
    assert.equal(await response.text(), '[+]node ok\n[+]leader ok\n[+]store ok\n[+]sync ok\n[+]db ok');
    const request = harness.service.requests.at(-1) as ReadinessRequest;
    assert.equal(request.sync, true);
    assert.equal(request.timeoutMs, 3000);
  });

  it('answers 503 with the failed line', async () => {
    const saved = harness.service.knobs.readiness;
    harness.service.knobs.readiness = [{ name: 'leader', ok: false, message: 'leader not found' }];
    try {
      const response = await fetch(`${base}/readyz`);
      assert.equal(response.status, 503);
      assert.equal(errorCode(response), 'NOT_READY');
      assert.equal(await response.text(), '[+]node ok\n[-]leader failed: leader not found');
      const noLeader = await fetch(`${base}/readyz?noleader`);
      assert.equal(noLeader.status, 200);
      assert.equal(await noLeader.text(), '[+]node ok');
    } finally {
      harness.service.knobs.readiness = saved;
    }
  });
});

describe('GET /readyz when the service cannot answer', () => {
  it('turns a NO_LEADER failure into the failed leader line', async () => {
    harness.service.knobs.noLeader = true;
    try {
      const response = await fetch(`${base}/readyz`);
      assert.equal(response.status, 503);
      assert.equal(errorCode(response), 'NOT_READY');
      assert.equal(await response.text(), '[+]node ok\n[-]leader failed: leader not found');
    } finally {
      harness.service.knobs.noLeader = false;
    }
  });
});

describe('GET /metrics', () => {
  it('answers Prometheus text with the service families and the HTTP layer counters', async () => {
    await (await fetch(`${base}/status`)).text();
    await (await fetch(`${base}/leader`, { method: 'POST', body: '{"id":"n2"}' })).text();
    const response = await fetch(`${base}/metrics`);
    assert.equal(response.status, 200);
    assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    assert.match(text, /^# HELP quorumlite_raft_commit_index /m);
    assert.match(text, /^quorumlite_raft_commit_index 0$/m);
    assert.match(text, /^quorumlite_http_requests_total\{route="\/status",status="200"\} [1-9]/m);
    assert.match(text, /^quorumlite_http_requests_in_flight 1$/m);
    assert.match(text, /^quorumlite_http_request_body_bytes_total [1-9][0-9]*$/m);
    assert.match(text, /^quorumlite_http_request_duration_seconds_count\{route="\/status"\} [1-9]/m);
    assert.match(text, /^quorumlite_http_request_duration_seconds_sum\{route="\/status"\} [0-9.e-]+$/m);
  });
});

describe('protocol details', () => {
  it('answers OPTIONS on any path with 200 and CORS headers', async () => {
    for (const path of ['/db/execute', '/anything/at/all']) {
      const response = await fetch(`${base}${path}`, { method: 'OPTIONS' });
      assert.equal(response.status, 200, path);
      assert.equal(response.headers.get('access-control-allow-origin'), 'https://console.example');
      assert.match(response.headers.get('access-control-allow-methods') ?? '', /POST/);
      assert.equal(response.headers.get('x-rqlite-version'), 'v10.0.0');
    }
  });

  it('answers 405 with Allow for a wrong method', async () => {
    const response = await fetch(`${base}/db/execute`);
    assert.equal(response.status, 405);
    assert.equal(errorCode(response), 'METHOD_NOT_ALLOWED');
    assert.equal(response.headers.get('allow'), 'OPTIONS, POST');
    assert.equal(await response.text(), 'method not allowed: use OPTIONS, POST\n');
    const remove = await fetch(`${base}/remove`, { method: 'POST' });
    assert.equal(remove.headers.get('allow'), 'OPTIONS, DELETE');
  });

  it('answers 404 with a clear body for unknown paths', async () => {
    const response = await fetch(`${base}/db/nothing?x=1`);
    assert.equal(response.status, 404);
    assert.equal(await response.text(), 'not found: /db/nothing\n');
    assert.equal(errorCode(response), 'NOT_FOUND');
    assert.equal(response.headers.get('access-control-expose-headers'), 'X-Quorumlite-Error', 'a browser script may read the code');
    assert.equal(response.headers.get('x-rqlite-version'), 'v10.0.0');
  });

  it('accepts a trailing slash', async () => {
    const response = await fetch(`${base}/status/`);
    assert.equal(response.status, 200);
    await response.body?.cancel();
  });

  it('serves many requests over one keep-alive connection', async () => {
    const { Agent, request } = await import('undici');
    const agent = new Agent({ connections: 1 });
    let connectionCount = 0;
    const countConnection = (): void => {
      connectionCount++;
    };
    harness.server.server.on('connection', countConnection);
    try {
      for (let index = 0; index < 5; index++) {
        const response = await request(`${base}/status`, { dispatcher: agent });
        assert.equal(response.statusCode, 200);
        assert.equal(response.headers['connection'], 'keep-alive');
        await response.body.text();
      }
      assert.equal(connectionCount, 1, 'all five requests travelled over one connection');
    } finally {
      harness.server.server.off('connection', countConnection);
      await agent.close();
    }
  });
});
