/**
 * The client over real HTTP against node:http doubles on 127.0.0.1: failover,
 * redirects, exactly-once retries, read-your-writes, value decoding, bounds, close.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, QuorumliteError, type ClientConfig } from '../../src/client/index.js';
import { idempotencyKeyCharactersMax } from '../../src/client/idempotency-keys.js';
import { closedPortUrl, sendJson, startFakeNode, type FakeNode } from './helpers/fake-node.js';
import { startMiniRqlite, type MiniRqlite } from './helpers/mini-rqlite.js';

const fastRetry = { initialDelayMs: 1, delayMsMax: 10 };

function clientFor(nodes: string[], extra: Partial<ClientConfig> = {}) {
  return createClient({ nodes, discoverNodes: false, retry: fastRetry, ...extra });
}

async function rejection(promise: Promise<unknown>): Promise<QuorumliteError> {
  const error = await promise.then(
    () => assert.fail('expected a rejection'),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof QuorumliteError, `expected QuorumliteError, got ${String(error)}`);
  return error;
}

function executions(node: FakeNode) {
  return node.requests.filter((request) => request.path === '/db/execute');
}

describe('client against a one-node double', () => {
  let mini: MiniRqlite;
  before(async () => {
    mini = await startMiniRqlite();
  });
  after(async () => {
    await mini.close();
  });

  it('writes and reads with positional and named parameters, objects and arrays', async () => {
    const client = clientFor([mini.url]);
    try {
      await client.execute('CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, age INTEGER)');
      const inserted = await client.execute([
        { sql: 'INSERT INTO people (name, age) VALUES (?, ?)', args: ['fiona', 20] },
        { sql: 'INSERT INTO people (name, age) VALUES (:name, :age)', args: { name: 'sinead', age: 30 } },
      ]);
      assert.deepEqual(
        inserted.results.map((result) => [result.lastInsertId, result.rowsAffected]),
        [
          [1, 1],
          [2, 1],
        ],
      );
      const read = await client.query<{ name: string; age: number }>({ sql: 'SELECT name, age FROM people WHERE age > ? ORDER BY id', args: [10] });
      assert.deepEqual(read.results[0]?.rows, [
        { name: 'fiona', age: 20 },
        { name: 'sinead', age: 30 },
      ]);
      assert.deepEqual(read.results[0]?.columns, ['name', 'age']);
      const arrays = await client.query<[string]>('SELECT name FROM people ORDER BY id', { rowMode: 'array' });
      assert.deepEqual(arrays.results[0]?.rows, [['fiona'], ['sinead']]);
    } finally {
      await client.close();
    }
  });

  it('keeps 64-bit integers exact and returns BLOBs as Uint8Array', async () => {
    const client = clientFor([mini.url]);
    try {
      await client.execute('CREATE TABLE values64 (id INTEGER PRIMARY KEY, n INTEGER, b BLOB, e)');
      const bytes = new Uint8Array([0, 1, 2, 253, 254, 255]);
      const big = 9_223_372_036_854_775_807n;
      const inserted = await client.execute({ sql: 'INSERT INTO values64 (id, n, b, e) VALUES (?, ?, ?, ?)', args: [big - 1n, big, bytes, -(2n ** 63n)] });
      assert.equal(inserted.results[0]?.lastInsertId, big - 1n);
      const read = await client.query("SELECT n, b, e, n - 1 AS expression, x'' AS empty_blob FROM values64");
      assert.deepEqual(read.results[0]?.rows, [{ n: big, b: bytes, e: -(2n ** 63n), expression: big - 1n, empty_blob: new Uint8Array(0) }]);
      const small = await createClient({ nodes: [mini.url], discoverNodes: false, bigint: 'always' }).query('SELECT 1 AS one, 2.5 AS half');
      assert.deepEqual(small.results[0]?.rows, [{ one: 1n, half: 2.5 }]);
      await assert.rejects(client.query('SELECT n FROM values64', { bigint: 'never' }), { code: 'INTEGER_OVERFLOW' });
    } finally {
      await client.close();
    }
  });

  it('throws SQL_ERROR with statementIndex at once, or returns it with sqlErrors: return', async () => {
    const client = clientFor([mini.url]);
    try {
      const before = executions(mini.node).length;
      const error = await rejection(client.execute(['CREATE TABLE sql_errors (x)', 'INSERT INTO no_such_table VALUES (1)']));
      assert.equal(error.code, 'SQL_ERROR');
      assert.equal(error.statementIndex, 1);
      assert.match(error.message, /no such table: no_such_table/);
      assert.equal(error.results?.length, 2);
      assert.equal(executions(mini.node).length - before, 1, 'a SQL error must not be retried');
      const returned = await client.execute(['INSERT INTO sql_errors VALUES (1)', 'INSERT INTO nope VALUES (1)'], { sqlErrors: 'return' });
      assert.equal(returned.results[0]?.error, undefined);
      assert.match(returned.results[1]?.error ?? '', /no such table/);
    } finally {
      await client.close();
    }
  });

  it('runs a transaction atomically: nothing applies when one statement fails', async () => {
    const client = clientFor([mini.url]);
    try {
      await client.execute('CREATE TABLE accounts (id INTEGER PRIMARY KEY, balance INTEGER)');
      await assert.rejects(client.transaction(['INSERT INTO accounts VALUES (1, 10)', 'INSERT INTO accounts VALUES (1, 20)']), {
        code: 'SQL_ERROR',
        statementIndex: 1,
      });
      assert.ok(mini.node.requests.at(-1)?.query.has('transaction'));
      const count = await client.query<[number]>('SELECT count(*) FROM accounts', { rowMode: 'array' });
      assert.deepEqual(count.results[0]?.rows, [[0]]);
    } finally {
      await client.close();
    }
  });

  it('sends min_index = the last raft_index written on later reads (read-your-writes)', async () => {
    const client = clientFor([mini.url], { consistency: 'none' });
    try {
      await client.query('SELECT 1');
      assert.equal(mini.node.requests.at(-1)?.query.get('min_index'), null, 'no min_index before any write');
      await client.execute('CREATE TABLE ryw (x)');
      const written = await client.execute('INSERT INTO ryw VALUES (1)');
      assert.equal(written.raftIndex, mini.raftIndex);
      assert.equal(client.lastWriteIndex, mini.raftIndex);
      await client.query('SELECT * FROM ryw');
      const read = mini.node.requests.at(-1);
      assert.equal(read?.query.get('min_index'), String(mini.raftIndex));
      assert.equal(read?.query.get('level'), 'none');
      await client.query('SELECT 1', { consistency: 'linearizable', freshness: '1s' });
      assert.equal(mini.node.requests.at(-1)?.query.get('level'), 'linearizable');
      assert.equal(mini.node.requests.at(-1)?.query.get('freshness'), null, 'freshness only goes with none');
      await assert.rejects(client.query('SELECT 1', { consistency: 'bogus' as never }), { code: 'INVALID_ARGUMENT' });
    } finally {
      await client.close();
    }
  });

  it('runs mixed statements through /db/request with an idempotency key', async () => {
    const client = clientFor([mini.url]);
    try {
      const reply = await client.request(['CREATE TABLE mixed (x)', 'INSERT INTO mixed VALUES (5)', 'SELECT x FROM mixed']);
      assert.deepEqual(reply.results[2]?.rows, [{ x: 5 }]);
      const sent = mini.node.requests.at(-1);
      assert.equal(sent?.path, '/db/request');
      assert.match(String(sent?.headers['idempotency-key']), /^[0-9a-f]{32}$/);
    } finally {
      await client.close();
    }
  });

  it('sends a caller idempotency key of exactly idempotencyKeyCharactersMax and refuses one character more', async () => {
    const client = clientFor([mini.url]);
    try {
      const atMax = 'k'.repeat(idempotencyKeyCharactersMax);
      await client.execute('SELECT 1', { idempotencyKey: atMax });
      assert.equal(mini.node.requests.at(-1)?.headers['idempotency-key'], atMax);
      const sentBefore = mini.node.requests.length;
      const tooLong = await rejection(client.execute('SELECT 1', { idempotencyKey: `${atMax}k` }));
      assert.equal(tooLong.code, 'INVALID_ARGUMENT');
      assert.equal(mini.node.requests.length, sentBefore);
    } finally {
      await client.close();
    }
  });

  it('sends HTTP Basic auth when configured', async () => {
    const client = clientFor([mini.url], { auth: { username: 'fiona', password: 'pässword' } });
    try {
      await client.query('SELECT 1');
      const header = String(mini.node.requests.at(-1)?.headers.authorization);
      assert.equal(Buffer.from(header.replace('Basic ', ''), 'base64').toString('utf8'), 'fiona:pässword');
    } finally {
      await client.close();
    }
  });

  it('works the same on the fetch transport', async () => {
    const client = clientFor([mini.url], { fetch: (input, init) => fetch(input, init) });
    try {
      await client.execute('CREATE TABLE through_fetch (b BLOB, n INTEGER)');
      await client.execute({ sql: 'INSERT INTO through_fetch VALUES (?, ?)', args: [new Uint8Array([9, 8]), 2n ** 62n] });
      const read = await client.query('SELECT b, n FROM through_fetch');
      assert.deepEqual(read.results[0]?.rows, [{ b: new Uint8Array([9, 8]), n: 2n ** 62n }]);
    } finally {
      await client.close();
    }
  });
});

describe('failover', () => {
  const nodes: { close(): Promise<void> }[] = [];
  after(async () => {
    for (const node of nodes) await node.close();
  });
  async function mini(): Promise<MiniRqlite> {
    const started = await startMiniRqlite();
    nodes.push(started);
    return started;
  }
  async function fake(...args: Parameters<typeof startFakeNode>): Promise<FakeNode> {
    const started = await startFakeNode(...args);
    nodes.push(started);
    return started;
  }

  it('moves on from a refused connection to the next node', async () => {
    const target = await mini();
    const client = clientFor([await closedPortUrl(), target.url]);
    try {
      const reply = await client.execute('CREATE TABLE refused (x)');
      assert.equal(reply.results.length, 1);
      assert.equal(client.knownLeader, target.url);
    } finally {
      await client.close();
    }
  });

  it('moves on from a 503 "leader not found" and from "not leader" in a 200 reply', async () => {
    const target = await mini();
    const unavailable = await fake((_request, response) => sendJson(response, 503, { error: 'leader not found' }));
    const deposed = await fake((_request, response) => sendJson(response, 200, { results: [{ error: 'not leader' }] }));
    const client = clientFor([unavailable.url, deposed.url, target.url]);
    try {
      await client.execute('CREATE TABLE unavailable (x)');
      assert.equal(executions(unavailable).length, 1);
      assert.equal(executions(deposed).length, 1);
      assert.equal(executions(target.node).length, 1);
      const key = (node: FakeNode) => executions(node)[0]?.headers['idempotency-key'];
      assert.equal(key(unavailable), key(target.node));
      assert.equal(key(deposed), key(target.node));
    } finally {
      await client.close();
    }
  });

  it('moves on when a node does not answer within timeoutMs', async () => {
    const target = await mini();
    const silent = await fake(() => undefined);
    const client = clientFor([silent.url, target.url], { timeoutMs: 200 });
    try {
      await client.execute('CREATE TABLE silent (x)');
      assert.equal(executions(silent).length, 1);
      assert.equal(client.knownLeader, target.url);
    } finally {
      await client.close();
    }
  });

  it('retries a write whose reply was cut after it applied with the same key; applied once', async () => {
    const applied = new Map<string, number>();
    const firstReply = new Map<string, string>();
    let nextInsertId = 1;
    const apply = (key: string): string => {
      const known = firstReply.get(key);
      if (known !== undefined) return known;
      applied.set(key, (applied.get(key) ?? 0) + 1);
      const reply = JSON.stringify({ results: [{ last_insert_id: nextInsertId++, rows_affected: 1 }], raft_index: 40 });
      firstReply.set(key, reply);
      return reply;
    };
    const dying = await fake((request, response) => {
      apply(String(request.headers['idempotency-key']));
      response.socket?.destroy();
    });
    const survivor = await fake((request, response) => sendJson(response, 200, apply(String(request.headers['idempotency-key']))));
    const client = clientFor([dying.url, survivor.url]);
    try {
      const reply = await client.execute({ sql: 'INSERT INTO t VALUES (?)', args: [1] });
      assert.equal(reply.results[0]?.lastInsertId, 1, 'the first (and only) application answers');
      const firstKey = dying.requests[0]?.headers['idempotency-key'];
      const retryKey = survivor.requests.find((request) => request.path === '/db/execute')?.headers['idempotency-key'];
      assert.match(String(firstKey), /^[0-9a-f]{32}$/);
      assert.equal(retryKey, firstKey);
      assert.deepEqual([...applied.values()], [1]);
      await client.execute({ sql: 'INSERT INTO t VALUES (?)', args: [2] });
      assert.equal(applied.size, 2, 'a new call draws a new key');
    } finally {
      await client.close();
    }
  });

  for (const transport of ['undici', 'fetch'] as const) {
    it(`follows a 301 to the leader and sends later writes there directly (${transport})`, async () => {
      const leader = await mini();
      const follower = await fake((request, response) => {
        response.writeHead(301, { location: `${leader.url}${request.path}?${request.query.toString()}` });
        response.end();
      });
      const client = clientFor([follower.url, leader.url], transport === 'fetch' ? { fetch: (input, init) => fetch(input, init) } : {});
      try {
        await client.execute('CREATE TABLE redirected (x)');
        await client.execute('INSERT INTO redirected VALUES (1)');
        assert.equal(executions(follower).length, 1);
        assert.ok(executions(follower)[0]?.query.has('redirect'));
        assert.equal(executions(leader.node).length, 2);
        assert.equal(client.knownLeader, leader.url);
      } finally {
        await client.close();
      }
    });
  }

  it('gives up on redirect loops after redirectsMax', async () => {
    const looping: FakeNode = await fake((request, response) => {
      response.writeHead(301, { location: `${looping.url}${request.path}` });
      response.end();
    });
    const client = clientFor([looping.url], { redirectsMax: 3 });
    try {
      const error = await rejection(client.execute('SELECT 1'));
      assert.equal(error.code, 'TOO_MANY_REDIRECTS');
      assert.equal(executions(looping).length, 4);
    } finally {
      await client.close();
    }
  });

  it('learns nodes joined later and the leader from /nodes', async () => {
    const leader = await mini();
    const seed = await fake((request, response) => {
      if (request.path !== '/nodes') return sendJson(response, 503, { error: 'leader not found' });
      return sendJson(response, 200, {
        nodes: [
          { id: 'seed', api_addr: seed.url, addr: '127.0.0.1:1', voter: true, reachable: true, leader: false },
          { id: 'joined', api_addr: leader.url.replace('http://', ''), addr: '127.0.0.1:2', voter: false, reachable: true, leader: true },
        ],
      });
    });
    const client = createClient({ nodes: [seed.url], retry: fastRetry });
    try {
      const listed = await client.nodes();
      assert.deepEqual(
        listed.map((node) => [node.id, node.apiUrl, node.leader, node.voter]),
        [
          ['seed', seed.url, false, true],
          ['joined', leader.url, true, false],
        ],
      );
      assert.deepEqual(client.knownNodes, [seed.url, leader.url]);
      await client.execute('CREATE TABLE discovered (x)');
      assert.equal(executions(seed).length, 0, 'the write went to the leader directly');
      // Now asked of the leader itself (the double names itself 'mini').
      assert.equal((await client.leader())?.apiUrl, leader.url);
    } finally {
      await client.close();
    }
  });

  it('refreshes /nodes in the background on first use (map shape too)', async () => {
    const leader = await mini();
    const seed = await fake((request, response) => {
      if (request.path === '/nodes') return sendJson(response, 200, { b: { api_addr: leader.url, addr: 'x', leader: true, reachable: true } });
      return sendJson(response, 503, { error: 'leader not found' });
    });
    const client = createClient({ nodes: [seed.url], retry: fastRetry });
    try {
      await client.execute('CREATE TABLE background (x)');
      assert.ok(client.knownNodes.includes(leader.url));
      assert.equal(executions(leader.node).length, 1);
    } finally {
      await client.close();
    }
  });

  it('a "stale read" from one follower moves a none read to the next node', async () => {
    const fresh = await mini();
    const stale = await fake((_request, response) => sendJson(response, 200, { error: 'stale read' }));
    const client = clientFor([stale.url, fresh.url], { consistency: 'none', freshness: 1500 });
    try {
      const reply = await client.query<[number]>('SELECT 7', { rowMode: 'array' });
      assert.deepEqual(reply.results[0]?.rows, [[7]]);
      const staleRead = stale.requests.find((request) => request.path === '/db/query');
      assert.equal(staleRead?.query.get('freshness'), '1500ms');
      assert.equal(staleRead?.query.get('level'), 'none');
      assert.ok(!staleRead?.query.has('redirect'), 'none reads are served where they land');
      await client.query('SELECT 1', { freshness: '2s', freshnessStrict: true });
      const last = fresh.node.requests.at(-1);
      assert.equal(last?.query.get('freshness'), '2s');
      assert.ok(last?.query.has('freshness_strict'));
      await assert.rejects(client.query('SELECT 1', { freshness: 'soon' }), { code: 'INVALID_ARGUMENT' });
    } finally {
      await client.close();
    }
  });

  it('a 200 reply that is not JSON is SERVER_ERROR, not retried', async () => {
    const broken = await fake((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/html' });
      response.end('<html>proxy error</html>');
    });
    const client = clientFor([broken.url]);
    try {
      const error = await rejection(client.query('SELECT 1'));
      assert.equal(error.code, 'SERVER_ERROR');
      assert.match(error.message, /not JSON: "<html>proxy error<\/html>"/);
      assert.equal(broken.requests.filter((request) => request.path === '/db/query').length, 1);
    } finally {
      await client.close();
    }
  });

  it('reports DEADLINE_EXCEEDED with the last error when no node ever succeeds', async () => {
    const down = await fake((_request, response) => sendJson(response, 503, { error: 'leader not found' }));
    // Time moves only when the client sleeps, so the attempt count does not depend on machine speed.
    const fakeTime = { nowMs: 0 };
    const client = clientFor([down.url, await closedPortUrl()], {
      deadlineMs: 300,
      retry: { initialDelayMs: 1, delayMsMax: 50 },
      random: () => 0.9,
      clock: { now: () => fakeTime.nowMs },
      sleep: async (delayMs) => {
        fakeTime.nowMs += delayMs;
        await new Promise((resolve) => setImmediate(resolve));
      },
    });
    try {
      const error = await rejection(client.execute('CREATE TABLE never (x)'));
      assert.equal(error.code, 'DEADLINE_EXCEEDED');
      assert.ok(error.cause instanceof QuorumliteError);
      assert.ok(['NO_LEADER', 'CONNECTION_FAILED'].includes((error.cause as QuorumliteError).code));
      // Delays 0, 1, 3, 7, 14, 28, 45, 45 … ms reach 300 ms after 12 attempts, alternating nodes.
      assert.equal(executions(down).length, 6);
      assert.ok(fakeTime.nowMs < 300);
    } finally {
      await client.close();
    }
  });

  it('returns 400 at once as BAD_REQUEST, without retrying', async () => {
    const strict = await fake((_request, response) => sendJson(response, 400, { error: 'invalid JSON body' }));
    const client = clientFor([strict.url]);
    try {
      const error = await rejection(client.execute('SELECT 1'));
      assert.equal(error.code, 'BAD_REQUEST');
      assert.equal(error.httpStatus, 400);
      assert.match(error.message, /invalid JSON body/);
      assert.equal(executions(strict).length, 1);
    } finally {
      await client.close();
    }
  });

  it('stops with ABORTED when the caller aborts a hanging call', async () => {
    const silent = await fake(() => undefined);
    const client = clientFor([silent.url]);
    try {
      const controller = new AbortController();
      const pending = client.query('SELECT 1', { signal: controller.signal });
      setTimeout(() => controller.abort(), 30);
      assert.equal((await rejection(pending)).code, 'ABORTED');
      assert.equal((await rejection(client.query('SELECT 1', { signal: AbortSignal.abort() }))).code, 'ABORTED');
    } finally {
      await client.close();
    }
  });
});

describe('cluster operations', () => {
  it('stepDown and removeNode send rqlite bodies to the leader; stepDown forgets the old leader', async () => {
    const leader: FakeNode = await startFakeNode((request, response) => {
      if (request.path === '/nodes')
        return sendJson(response, 200, { nodes: [{ id: 'n1', api_addr: leader.url, addr: 'r1', voter: true, reachable: true, leader: true }] });
      if (request.path === '/leader' || request.path === '/remove') return sendJson(response, 200, {});
      return sendJson(response, 404, { error: 'not found' });
    });
    const client = clientFor([leader.url]);
    try {
      await client.stepDown('n2', { wait: true });
      const stepDown = leader.requests.find((request) => request.path === '/leader');
      assert.equal(stepDown?.method, 'POST');
      assert.deepEqual(JSON.parse(stepDown?.body ?? ''), { id: 'n2' });
      assert.ok(stepDown?.query.has('wait'));
      assert.equal(client.knownLeader, leader.url, 'relearned from /nodes after the step-down');
      await client.stepDown();
      assert.equal(leader.requests.at(-1)?.body, '');
      assert.equal(client.knownLeader, undefined);
      await client.removeNode('n3');
      const remove = leader.requests.at(-1);
      assert.equal(remove?.method, 'DELETE');
      assert.equal(remove?.path, '/remove');
      assert.equal(remove?.body, '{"id":"n3"}');
      await assert.rejects(client.removeNode(''), { code: 'INVALID_ARGUMENT' });
    } finally {
      await client.close();
      await leader.close();
    }
  });
});

describe('transfers', () => {
  it('backups get at least transferTimeoutMsMin where queries get timeoutMs', async () => {
    const slow = await startFakeNode((request, response) => {
      setTimeout(() => {
        if (request.path === '/db/backup') {
          response.writeHead(200, { 'content-type': 'application/octet-stream' });
          response.end(Buffer.from('SQLite format 3\0rest'));
        } else {
          sendJson(response, 200, { results: [] });
        }
      }, 1_000);
    });
    const client = clientFor([slow.url], { timeoutMs: 100, deadlineMs: 150 });
    try {
      assert.equal((await rejection(client.query('SELECT 1'))).code, 'DEADLINE_EXCEEDED');
      const backup = await client.backup();
      assert.equal(new TextDecoder().decode(backup.subarray(0, 15)), 'SQLite format 3');
      assert.equal(slow.requests.at(-1)?.query.get('fmt'), 'binary');
      await client.backup({ format: 'sql', tables: ['a', 'b'] });
      assert.equal(slow.requests.at(-1)?.query.get('tables'), 'a,b');
    } finally {
      await client.close();
      await slow.close();
    }
  });
});

describe('bounds and close', () => {
  it('queues up to queuedCountMax beyond inFlightCountMax and refuses the next with QUEUE_FULL', async () => {
    const held: (() => void)[] = [];
    const slow = await startFakeNode((_request, response) => {
      held.push(() => sendJson(response, 200, { results: [{ columns: ['1'], types: [''], values: [[1]] }] }));
    });
    const client = clientFor([slow.url], { inFlightCountMax: 2, queuedCountMax: 1 });
    try {
      const accepted = [client.query('SELECT 1'), client.query('SELECT 1'), client.query('SELECT 1')];
      const refused = await rejection(client.query('SELECT 1'));
      assert.equal(refused.code, 'QUEUE_FULL');
      // Bounded wait for the two running requests to reach the server.
      for (let turn = 0; turn < 200 && held.length < 2; turn += 1) await new Promise((resolve) => setTimeout(resolve, 10));
      assert.equal(held.length, 2, 'only inFlightCountMax requests reach the server');
      for (let turn = 0; turn < 200 && held.length < 3; turn += 1) {
        held.shift()?.();
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      while (held.length > 0) held.shift()?.();
      assert.equal((await Promise.all(accepted)).length, 3);
    } finally {
      await client.close();
      await slow.close();
    }
  });

  it('accepts a reply of exactly responseBytesMax and refuses one byte more', async () => {
    const body = JSON.stringify({ results: [{ columns: ['s'], types: ['text'], values: [['x'.repeat(100)]] }] });
    const node = await startFakeNode((_request, response) => sendJson(response, 200, body));
    try {
      const exact = clientFor([node.url], { responseBytesMax: Buffer.byteLength(body) });
      assert.equal((await exact.query('SELECT s')).results[0]?.rows.length, 1);
      await exact.close();
      const smaller = clientFor([node.url], { responseBytesMax: Buffer.byteLength(body) - 1 });
      assert.equal((await rejection(smaller.query('SELECT s'))).code, 'BODY_TOO_LARGE');
      await smaller.close();
    } finally {
      await node.close();
    }
  });

  it('refuses a request body over requestBytesMax before sending', async () => {
    const client = clientFor([await closedPortUrl()], { requestBytesMax: 20, deadlineMs: 50 });
    try {
      // '["xxxxxxxxxxxxxxxx"]' is 20 bytes: sent (and fails to connect); one more byte is refused.
      await assert.rejects(client.execute('x'.repeat(16)), { code: 'DEADLINE_EXCEEDED' });
      await assert.rejects(client.execute('x'.repeat(17)), { code: 'BODY_TOO_LARGE' });
      assert.throws(() => createClient({ nodes: [] }), { code: 'INVALID_ARGUMENT' });
      assert.throws(() => createClient({ nodes: ['ftp://x'] }), { code: 'INVALID_ARGUMENT' });
      assert.throws(() => createClient({ nodes: ['http://a'], inFlightCountMax: 0 }), { code: 'INVALID_ARGUMENT' });
    } finally {
      await client.close();
    }
  });

  it('close() fails calls in flight and later calls with CLIENT_CLOSED', async () => {
    const silent = await startFakeNode(() => undefined);
    const client = clientFor([silent.url]);
    try {
      const pending = rejection(client.query('SELECT 1'));
      await new Promise((resolve) => setTimeout(resolve, 30));
      await client.close();
      assert.equal((await pending).code, 'CLIENT_CLOSED');
      assert.equal((await rejection(client.query('SELECT 1'))).code, 'CLIENT_CLOSED');
    } finally {
      await silent.close();
    }
  });
});
