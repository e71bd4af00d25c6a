import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { pack, unpack } from 'msgpackr';
import { ServiceError, type ExecuteRequest, type MixedRequest, type QueryRequest } from '../../src/service/service.js';
import { errorCode, postJson, startHarness, type Harness, type Json } from './harness.js';
import { servedBy } from './sqlite-service.js';

let harness: Harness;
let base: string;

before(async () => {
  harness = await startHarness();
  base = harness.base;
  const response = await postJson(base, '/db/execute', ['CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT, age INTEGER, data BLOB, score REAL)']);
  assert.equal(response.status, 200);
});

after(async () => {
  await harness.close();
});

beforeEach(async () => {
  harness.service.knobs = { ...harness.service.knobs, isLeader: true, noLeader: false, staleRead: false, hang: false };
  harness.service.requests.length = 0;
  await postJson(base, '/db/execute', ['DELETE FROM foo']);
  harness.service.requests.length = 0;
});

function lastRequest<T>(): T {
  const last = harness.service.requests.at(-1);
  assert.ok(last !== undefined, 'the service received no request');
  return last as T;
}

describe('POST /db/execute', () => {
  it('runs writes and answers rqlite JSON with the rqlite headers', async () => {
    const response = await postJson(base, '/db/execute', [
      ['INSERT INTO foo(name, age) VALUES(?, ?)', 'fiona', 20],
      ['INSERT INTO foo(name, age) VALUES(:name, :age)', { name: 'declan', age: 25 }],
      'UPDATE foo SET age = age + 1 WHERE name = "nobody"',
      'INSERT INTO nope VALUES(1)',
    ]);
    assert.equal(response.status, 200);
    assert.equal(errorCode(response), null);
    assert.equal(response.headers.get('x-rqlite-version'), 'v10.0.0');
    assert.equal(response.headers.get('x-quorumlite-version'), '0.1.0');
    assert.equal(response.headers.get('x-rqlite-served-by'), servedBy);
    assert.match(response.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await response.json()) as Json;
    assert.equal(body.results.length, 4);
    assert.equal(body.results[0].rows_affected, 1);
    assert.equal(typeof body.results[0].last_insert_id, 'number');
    assert.equal(body.results[1].rows_affected, 1);
    assert.ok(body.results[2].rows_affected === undefined, 'zero rows affected is omitted');
    assert.equal(body.results[3].error, 'no such table: nope');
    assert.equal(body.time, undefined);
  });

  it('passes transaction, timings, raft_index, db_timeout and timeout to the service', async () => {
    const response = await postJson(base, '/db/execute?transaction&timings&raft_index&db_timeout=2s&timeout=5s', [['INSERT INTO foo(name) VALUES(?)', 'x']]);
    const body = (await response.json()) as Json;
    const request = lastRequest<ExecuteRequest>();
    assert.equal(request.transaction, true);
    assert.equal(request.timings, true);
    assert.equal(request.dbTimeoutMs, 2000);
    assert.equal(request.timeoutMs, 5000);
    assert.equal(request.forward, true);
    assert.equal(request.queue, false);
    assert.equal(typeof body.time, 'number');
    assert.equal(typeof body.results[0].time, 'number');
    assert.equal(typeof body.raft_index, 'number');
    assert.ok(body.raft_index > 0);
  });

  it('rolls back a transaction at the first error', async () => {
    const response = await postJson(
      base,
      '/db/execute?transaction',
      [["INSERT INTO foo(name) VALUES('a')", 'INSERT INTO nope VALUES(1)', "INSERT INTO foo(name) VALUES('b')"]].flat(),
    );
    const body = (await response.json()) as Json;
    assert.equal(body.results.length, 2);
    assert.match(body.results[1].error, /no such table/);
    const count = (await (await fetch(`${base}/db/query?q=${encodeURIComponent('SELECT COUNT(*) FROM foo')}`)).json()) as Json;
    assert.deepEqual(count.results[0].values, [[0]]);
  });

  it('accepts a text/plain body as one statement', async () => {
    const response = await fetch(`${base}/db/execute`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: "INSERT INTO foo(name) VALUES('plain')",
    });
    assert.equal(response.status, 200);
    const body = (await response.json()) as Json;
    assert.equal(body.results[0].rows_affected, 1);
  });

  it('stores 64-bit integers, floats, booleans and BLOBs exactly', async () => {
    await postJson(
      base,
      '/db/execute',
      '[["INSERT INTO foo(id, name, age, data, score) VALUES(?, ?, ?, ?, ?)", 9223372036854775807, "big", true, "x\'00ff\'", 2.0],' +
        '["INSERT INTO foo(id, name, data) VALUES(?, ?, ?)", -9223372036854775808, "small", [1, 2, 3]]]',
    );
    const response = await fetch(`${base}/db/query?q=${encodeURIComponent('SELECT id, age, data, score, typeof(score) FROM foo ORDER BY id')}`);
    const text = await response.text();
    assert.match(text, /\[-9223372036854775808,null,"AQID",null,"null"\]/);
    assert.match(text, /\[9223372036854775807,1,"AP8=",2,"real"\]/);
    const arrays = await (await fetch(`${base}/db/query?blob_array&q=${encodeURIComponent('SELECT data FROM foo ORDER BY id')}`)).text();
    assert.match(arrays, /"values":\[\[\[1,2,3\]\],\[\[0,255\]\]\]/);
  });

  it('answers 400 with rqlite messages for bad bodies, and stores nothing', async () => {
    const cases: [string, RegExp][] = [
      ['[]', /^no statements\n$/],
      ['', /^no statements\n$/],
      ['[', /^invalid JSON body/],
      ['[["INSERT INTO foo(name) VALUES(?)", {"x": {"y": 1}}]]', /^unsupported type/],
      ['[["INSERT INTO foo(name) VALUES(?)", [300]]]', /^unsupported type/],
    ];
    for (const [body, message] of cases) {
      const response = await postJson(base, '/db/execute', body);
      assert.equal(response.status, 400, body);
      assert.equal(errorCode(response), 'BAD_REQUEST', body);
      assert.match(response.headers.get('content-type') ?? '', /^text\/plain/);
      assert.match(await response.text(), message);
    }
    assert.equal(harness.service.requests.length, 0, 'no bad request reached the service');
  });

  it('honours Idempotency-Key: a repeat returns the first result and applies nothing again', async () => {
    const headers = { 'Idempotency-Key': 'key-123' };
    const first = (await (await postJson(base, '/db/execute', ["INSERT INTO foo(name) VALUES('once')"], headers)).json()) as Json;
    const second = (await (await postJson(base, '/db/execute', ["INSERT INTO foo(name) VALUES('once')"], headers)).json()) as Json;
    assert.deepEqual(second, first);
    assert.equal(lastRequest<ExecuteRequest>().idempotencyKey, 'key-123');
    const count = (await (await fetch(`${base}/db/query?q=${encodeURIComponent("SELECT COUNT(*) FROM foo WHERE name = 'once'")}`)).json()) as Json;
    assert.deepEqual(count.results[0].values, [[1]]);
  });

  it('refuses bad Idempotency-Key headers; accepts one at the maximum length', async () => {
    const atMax = 'k'.repeat(256);
    assert.equal((await postJson(base, '/db/execute', ['SELECT 1'], { 'Idempotency-Key': atMax })).status, 200);
    const overMax = await postJson(base, '/db/execute', ['SELECT 1'], { 'Idempotency-Key': `${atMax}k` });
    assert.equal(overMax.status, 400);
    assert.equal(errorCode(overMax), 'BAD_REQUEST');
    assert.match(await overMax.text(), /Idempotency-Key longer than 256 bytes/);
    const spaced = await postJson(base, '/db/execute', ['SELECT 1'], { 'Idempotency-Key': 'a b' });
    assert.equal(spaced.status, 400);
  });

  it('answers queued writes at once with a sequence number and applies them later', async () => {
    const response = await postJson(base, '/db/execute?queue', ["INSERT INTO foo(name) VALUES('queued')"]);
    const body = (await response.json()) as Json;
    assert.deepEqual(body.results, []);
    assert.equal(typeof body.sequence_number, 'number');
    const waited = (await (await postJson(base, '/db/execute?queue&wait', ["INSERT INTO foo(name) VALUES('queued')"])).json()) as Json;
    assert.ok(waited.sequence_number > body.sequence_number);
    const count = (await (await fetch(`${base}/db/query?q=${encodeURIComponent("SELECT COUNT(*) FROM foo WHERE name = 'queued'")}`)).json()) as Json;
    assert.deepEqual(count.results[0].values, [[2]]);
  });

  it('answers 408 when a queued write is not flushed within the timeout', async () => {
    harness.service.knobs.queueNeverFlushes = true;
    try {
      const response = await postJson(base, '/db/execute?queue&wait&timeout=50ms', ["INSERT INTO foo(name) VALUES('late')"]);
      assert.equal(response.status, 408);
      assert.equal(errorCode(response), 'TIMEOUT');
      assert.match(await response.text(), /^queue wait timeout/);
    } finally {
      harness.service.knobs.queueNeverFlushes = false;
    }
  });
});

describe('/db/query', () => {
  beforeEach(async () => {
    await postJson(
      base,
      '/db/execute',
      [["INSERT INTO foo(id, name, age) VALUES(1, 'fiona', 20)"], ["INSERT INTO foo(id, name, age) VALUES(2, 'declan', 25)"]].flat(),
    );
    harness.service.requests.length = 0;
  });

  it('answers GET ?q= with columns, types and values', async () => {
    const response = await fetch(`${base}/db/query?q=${encodeURIComponent('SELECT id, name, age + 0 AS older FROM foo ORDER BY id')}`);
    assert.equal(response.status, 200);
    assert.deepEqual((await response.json()) as Json, {
      results: [
        {
          columns: ['id', 'name', 'older'],
          types: ['integer', 'text', ''],
          values: [
            [1, 'fiona', 20],
            [2, 'declan', 25],
          ],
        },
      ],
    });
  });

  it('answers POST with parameters, omitting values when there are no rows', async () => {
    const response = await postJson(base, '/db/query', [
      ['SELECT name FROM foo WHERE age > ?', 21],
      ['SELECT name FROM foo WHERE name = :name', { name: 'nobody' }],
    ]);
    assert.deepEqual((await response.json()) as Json, {
      results: [
        { columns: ['name'], types: ['text'], values: [['declan']] },
        { columns: ['name'], types: ['text'] },
      ],
    });
  });

  it('answers ?associative with types as a map and rows as objects', async () => {
    const response = await fetch(`${base}/db/query?associative&q=${encodeURIComponent('SELECT id, name FROM foo ORDER BY id')}`);
    assert.deepEqual((await response.json()) as Json, {
      results: [
        {
          types: { id: 'integer', name: 'text' },
          rows: [
            { id: 1, name: 'fiona' },
            { id: 2, name: 'declan' },
          ],
        },
      ],
    });
  });

  it('pretty-prints with ?pretty', async () => {
    const text = await (await fetch(`${base}/db/query?pretty&q=${encodeURIComponent('SELECT id FROM foo ORDER BY id')}`)).text();
    assert.equal(text, JSON.stringify({ results: [{ columns: ['id'], types: ['integer'], values: [[1], [2]] }] }, null, 4));
  });

  it('passes level, freshness, freshness_strict, min_index and linearizable_timeout to the service', async () => {
    await fetch(`${base}/db/query?level=linearizable&linearizable_timeout=3s&min_index=7&q=SELECT+1`);
    const linearizable = lastRequest<QueryRequest>();
    assert.equal(linearizable.level, 'linearizable');
    assert.equal(linearizable.linearizableTimeoutMs, 3000);
    assert.equal(linearizable.appliedIndexMin, 7);
    await fetch(`${base}/db/query?level=none&freshness=1s&freshness_strict&q=SELECT+1`);
    const none = lastRequest<QueryRequest>();
    assert.equal(none.level, 'none');
    assert.equal(none.freshnessMs, 1000);
    assert.equal(none.freshnessStrict, true);
    await fetch(`${base}/db/query?level=whatever&q=SELECT+1`);
    assert.equal(lastRequest<QueryRequest>().level, 'weak');
  });

  it('answers a stale read with HTTP 200 and the error in the body', async () => {
    harness.service.knobs.staleRead = true;
    const response = await fetch(`${base}/db/query?level=none&freshness=1ns&q=SELECT+1`);
    assert.equal(response.status, 200);
    assert.equal(errorCode(response), 'STALE_READ');
    assert.deepEqual((await response.json()) as Json, { results: [], error: 'stale read' });
  });

  it('answers 400 for bad parameters before running anything', async () => {
    const cases: [string, RegExp][] = [
      ['/db/query?q=SELECT+1&timeout=fast', /^timeout is not a valid duration/],
      ['/db/query?q=SELECT+1&freshness_strict', /^freshness_strict requires freshness/],
      ['/db/query?q=SELECT+1&min_index=-3', /^min_index is not a valid log index/],
      ['/db/query', /^query parameter not set/],
      ['/db/query?q=', /^query parameter not set/],
    ];
    for (const [path, message] of cases) {
      const response = await fetch(`${base}${path}`);
      assert.equal(response.status, 400, path);
      assert.equal(errorCode(response), 'BAD_REQUEST', path);
      assert.match(await response.text(), message);
    }
    assert.equal(harness.service.requests.length, 0);
  });

  it('gives a write sent to /db/query a per-result error and changes nothing', async () => {
    const body = (await (await postJson(base, '/db/query', ['DELETE FROM foo'])).json()) as Json;
    assert.match(body.results[0].error, /attempt to change database/);
    const count = (await (await fetch(`${base}/db/query?q=${encodeURIComponent('SELECT COUNT(*) FROM foo')}`)).json()) as Json;
    assert.deepEqual(count.results[0].values, [[2]]);
  });
});

describe('POST /db/request', () => {
  it('runs reads and writes together; with ?associative writes carry "rows": null', async () => {
    const response = await postJson(base, '/db/request?associative', [["INSERT INTO foo(id, name) VALUES(5, 'five')"], ['SELECT id, name FROM foo']].flat());
    assert.deepEqual((await response.json()) as Json, {
      results: [
        { last_insert_id: 5, rows_affected: 1, rows: null },
        { types: { id: 'integer', name: 'text' }, rows: [{ id: 5, name: 'five' }] },
      ],
    });
    const request = lastRequest<MixedRequest>();
    assert.equal(request.level, 'weak');
    assert.equal(request.queue, false);
  });

  it('serves a read-only request without the log', async () => {
    const body = (await (await postJson(base, '/db/request?raft_index', ['SELECT 1 AS one'])).json()) as Json;
    assert.deepEqual(body, { results: [{ columns: ['one'], types: [''], values: [[1]] }] });
  });
});

describe('leadership answers', () => {
  it('redirects with 301 and Location to the leader when ?redirect is given on a follower', async () => {
    harness.service.knobs.isLeader = false;
    harness.service.knobs.leaderApiAddress = 'http://127.0.0.9:4001';
    const response = await fetch(`${base}/db/execute?redirect&timings`, {
      method: 'POST',
      body: '["SELECT 1"]',
      redirect: 'manual',
    });
    assert.equal(response.status, 301);
    assert.equal(errorCode(response), 'NOT_LEADER');
    assert.equal(response.headers.get('location'), 'http://127.0.0.9:4001/db/execute?redirect&timings');
    assert.equal(lastRequest<ExecuteRequest>().forward, false);
    await response.body?.cancel();
  });

  it('answers 503 "leader not found" when there is no leader', async () => {
    harness.service.knobs.noLeader = true;
    for (const path of ['/db/execute', '/db/query', '/db/request']) {
      const response = await postJson(base, path, ['SELECT 1']);
      assert.equal(response.status, 503, path);
      assert.equal(errorCode(response), 'NO_LEADER', path);
      assert.equal(await response.text(), 'leader not found\n');
    }
    const leader = await fetch(`${base}/leader`);
    assert.equal(leader.status, 503);
    assert.equal(errorCode(leader), 'NO_LEADER');
    assert.equal(await leader.text(), 'leader not found\n');
  });

  it('answers 500 "internal error" for an unexpected service failure, without its details', async () => {
    harness.service.knobs.throwUnexpected = true;
    try {
      const response = await postJson(base, '/db/execute', ['SELECT 1']);
      assert.equal(response.status, 500);
      assert.equal(errorCode(response), 'INTERNAL');
      assert.equal(await response.text(), 'internal error\n');
    } finally {
      harness.service.knobs.throwUnexpected = false;
    }
  });

  it('stops waiting at timeout plus grace, aborts the service call and answers 503', async () => {
    harness.service.knobs.hang = true;
    const aborted = harness.service.abortedSignals.length;
    const response = await postJson(base, '/db/execute?timeout=20ms', ['SELECT 1']);
    assert.equal(response.status, 503);
    assert.equal(errorCode(response), 'TIMEOUT');
    assert.match(await response.text(), /^timed out after 20ms/);
    assert.equal(harness.service.abortedSignals.length, aborted + 1, 'the service saw its signal abort');
  });
});

describe('service deadlines', () => {
  it('lets a linearizable read wait for linearizable_timeout when it is longer than timeout', async () => {
    harness.service.knobs.hang = true;
    const response = await fetch(`${base}/db/query?level=linearizable&timeout=10ms&linearizable_timeout=30ms&q=SELECT+1`);
    assert.equal(response.status, 503);
    assert.match(await response.text(), /^timed out after 30ms/);
    const weak = await fetch(`${base}/db/query?timeout=10ms&linearizable_timeout=30ms&q=SELECT+1`);
    assert.match(await weak.text(), /^timed out after 10ms/);
  });
});

describe('requests are plain data', () => {
  it('survives a msgpack round trip unchanged (for forwarding to the leader)', async () => {
    await postJson(
      base,
      '/db/request?transaction&level=strong&freshness=2s&min_index=3',
      '[["INSERT INTO foo(id, data, score) VALUES(?, ?, :s)", 9223372036854775807, [1, 2], {"s": 1.5}], "SELECT 1"]',
      { 'Idempotency-Key': 'abc' },
    );
    const request = lastRequest<MixedRequest>();
    const roundTripped = unpack(pack(request)) as MixedRequest;
    assert.deepEqual(
      { ...roundTripped, statements: roundTripped.statements.map((s) => ({ ...s, positional: s.positional.map(normaliseBlob) })) },
      { ...request, statements: request.statements.map((s) => ({ ...s, positional: s.positional.map(normaliseBlob) })) },
    );
    assert.equal(roundTripped.statements[0]?.positional[0], 9223372036854775807n);
  });
});

function normaliseBlob(value: unknown): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}

describe('refusals and disconnects', () => {
  it('answers 401 with WWW-Authenticate when the service refuses the request', async () => {
    harness.service.knobs.failWith = new ServiceError('UNAUTHORIZED', 'unauthorized');
    try {
      const anonymous = await postJson(base, '/db/execute', ['SELECT 1']);
      assert.equal(anonymous.status, 401);
      assert.match(anonymous.headers.get('www-authenticate') ?? '', /^Basic realm=/);
      assert.equal(anonymous.headers.get('x-quorumlite-error'), 'UNAUTHORIZED');
      assert.equal(await anonymous.text(), 'unauthorized\n');
    } finally {
      harness.service.knobs.failWith = null;
    }
    const allowed = await postJson(base, '/db/execute', ['SELECT 1']);
    assert.equal(allowed.status, 200);
    assert.equal(allowed.headers.get('x-quorumlite-error'), null);
    await allowed.text();
  });

  it('aborts the service call when the client disconnects', async () => {
    harness.service.knobs.hang = true;
    const aborted = harness.service.abortedSignals.length;
    const client = new AbortController();
    const pending = postJson(base, '/db/execute', ['SELECT 1'], {}, client.signal);
    for (let attempt = 0; attempt < 200 && harness.service.requests.length === 0; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    client.abort();
    await assert.rejects(pending);
    for (let attempt = 0; attempt < 200 && harness.service.abortedSignals.length === aborted; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.equal(harness.service.abortedSignals.length, aborted + 1, 'the service saw its signal abort');
    const reason: unknown = harness.service.abortedSignals.at(-1)?.reason;
    assert.match(String(reason), /client disconnected/);
  });
});

describe('large results', () => {
  it('streams a large result in chunks that form one exact JSON document', async () => {
    await postJson(base, '/db/execute', [
      'CREATE TABLE IF NOT EXISTS numbers (n INTEGER, label TEXT)',
      "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c WHERE n < 20000) INSERT INTO numbers SELECT n, 'label ' || n FROM c",
    ]);
    const response = await fetch(`${base}/db/query?q=${encodeURIComponent('SELECT n, label FROM numbers ORDER BY n')}`);
    assert.equal(response.headers.get('transfer-encoding'), 'chunked');
    assert.equal(response.headers.get('content-length'), null);
    const body = (await response.json()) as Json;
    assert.equal(body.results[0].values.length, 20000);
    assert.deepEqual(body.results[0].values[19999], [20000, 'label 20000']);
  });
});
