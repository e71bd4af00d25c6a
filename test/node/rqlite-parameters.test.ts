/**
 * rqlite's query parameters that change how a request runs, on real nodes (QuorumNode:
 * the HTTP API, the cluster service, Raft, the TCP transport and the SQLite state machine,
 * in this process):
 * - `db_timeout` interrupts a read that runs past it (a child process is killed) with
 *   rqlite's per-statement "query timeout"; a normal read is unchanged; writes through
 *   the log are never interrupted (a wall-clock cut would differ between replicas);
 * - `qualify` (and `qualify_columns`) names columns `table.column`, on reads and on the
 *   reads of a /db/request that goes through the log;
 * - `raft_index` on a `level=strong` read, and on no other level;
 * - `retries` lets a follower whose link to the leader is cut (by a TCP proxy in front of
 *   the leader) get a forwarded write through once the link is back; bad or too many
 *   retries are a 400.
 */
import { TestNodes } from './start-node.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { forwardRetryCountMax } from '../../src/http/query-parameters.js';
import type { QuorumNode, QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { freePort, waitFor } from '../cluster/harness.js';

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON shapes and assert on them field by field
type Json = any;

const host = '127.0.0.1';
const testNodes = new TestNodes('parameters', { electionTimeoutMs: 1_000 });
const servers: Server[] = [];

after(async () => {
  await testNodes.stopAll();
  for (const server of servers) server.close();
});

function startNode(nodeId: string, overrides: Partial<QuorumNodeOptions> = {}): Promise<QuorumNode> {
  return testNodes.start({ nodeId, ...overrides });
}

function baseOf(node: QuorumNode): string {
  return `http://${node.httpAddress.host}:${node.httpAddress.port}`;
}

interface Answer {
  readonly status: number;
  readonly text: string;
  readonly elapsedMs: number;
}

async function post(node: QuorumNode, path: string, body: unknown): Promise<Answer> {
  const startedMs = performance.now();
  const response = await fetch(`${baseOf(node)}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(120_000),
  });
  return { status: response.status, text: await response.text(), elapsedMs: performance.now() - startedMs };
}

async function singleLeader(nodeId: string): Promise<QuorumNode> {
  const node = await startNode(nodeId);
  await waitFor(`${nodeId} leads`, () => (node.runtime.isLeader ? true : undefined));
  return node;
}

/** Counts 300 million rows: minutes of one SQLite step with no row to return before it ends. */
const slowRead = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 300000000) SELECT count(*) FROM c';
/** Generous for a loaded two-core machine (a read process starts in about a second there), far below the slow read's run. */
const interruptedWithinMs = 20_000;

/** rqlite v10's error result: the text, and again in error_v2 (not SQLite's error, so no codes). */
const timedOut = '{"error":"query timeout","error_v2":{"message":"query timeout"}}';

test('db_timeout interrupts a read that runs past it with "query timeout", and leaves a normal read alone', async () => {
  const node = await singleLeader('timeouts');
  assert.equal((await post(node, '/db/execute', ['CREATE TABLE t (v TEXT)', "INSERT INTO t VALUES ('kept')"])).status, 200);

  const interrupted = await post(node, '/db/query?db_timeout=1ms', [slowRead]);
  assert.equal(interrupted.status, 200);
  assert.equal(interrupted.text, `{"results":[${timedOut}]}`);
  assert.ok(interrupted.elapsedMs < interruptedWithinMs, `answered after ${interrupted.elapsedMs} ms`);

  // The deadline is the request's: what finished keeps its result, the rest times out.
  const mixed = await post(node, '/db/query?db_timeout=3s', ['SELECT v FROM t', slowRead, 'SELECT 2']);
  assert.equal(mixed.text, `{"results":[{"columns":["v"],"types":["text"],"values":[["kept"]]},${timedOut},${timedOut}]}`);
  assert.ok(mixed.elapsedMs < interruptedWithinMs, `answered after ${mixed.elapsedMs} ms`);

  const readOnlyRequest = await post(node, '/db/request?db_timeout=1ms', [slowRead]);
  assert.equal(readOnlyRequest.text, `{"results":[${timedOut}]}`);

  const plain = await post(node, '/db/query', ['SELECT v FROM t', 'SELECT count(*) FROM t']);
  for (const dbTimeout of ['10s', '0s']) {
    const timed = await post(node, `/db/query?db_timeout=${dbTimeout}`, ['SELECT v FROM t', 'SELECT count(*) FROM t']);
    assert.equal(timed.status, 200);
    assert.equal(timed.text, plain.text, `db_timeout=${dbTimeout} changes nothing in a read that ends in time`);
  }
  const strongTimed = await post(node, '/db/query?db_timeout=10s&level=strong&transaction', ['SELECT v FROM t']);
  assert.equal(strongTimed.text, '{"results":[{"columns":["v"],"types":["text"],"values":[["kept"]]}]}');
});

test('db_timeout never interrupts a write: it runs through the log on every replica, where a wall-clock cut would differ', async () => {
  const node = await singleLeader('writes');
  const rows = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 200000) SELECT x FROM c';
  const write = await post(node, '/db/execute?db_timeout=1ms', ['CREATE TABLE big (v INTEGER)', `INSERT INTO big ${rows}`]);
  assert.equal(write.text, '{"results":[{},{"last_insert_id":200000,"rows_affected":200000}]}');
  const mixed = JSON.parse((await post(node, '/db/request?db_timeout=1ms', [`INSERT INTO big ${rows}`, 'SELECT count(*) AS n FROM big'])).text) as Json;
  assert.deepEqual(mixed.results[0], { last_insert_id: 400000, rows_affected: 200000 });
  assert.deepEqual(mixed.results[1].values, [[400000]]);
});

test('qualify names columns table.column, by their origin table; expressions keep their names', async () => {
  const node = await singleLeader('qualify');
  await post(node, '/db/execute', [
    'CREATE TABLE contacts (id INTEGER PRIMARY KEY, name TEXT)',
    'CREATE TABLE titles (id INTEGER PRIMARY KEY, contact_id INTEGER, title TEXT)',
    "INSERT INTO contacts(id, name) VALUES (1, 'alice')",
    "INSERT INTO titles(id, contact_id, title) VALUES (1, 1, 'engineer')",
  ]);
  const join = 'SELECT * FROM contacts JOIN titles ON contacts.id = titles.contact_id';
  const unqualified = await post(node, '/db/query', [join]);
  const typesAndValues = '"types":["integer","text","integer","integer","text"],"values":[[1,"alice",1,1,"engineer"]]';
  assert.equal(unqualified.text, `{"results":[{"columns":["id","name","id","contact_id","title"],${typesAndValues}}]}`);
  const qualifiedJoin = `{"columns":["contacts.id","contacts.name","titles.id","titles.contact_id","titles.title"],${typesAndValues}}`;
  for (const flag of ['qualify', 'qualify_columns']) {
    assert.equal((await post(node, `/db/query?${flag}`, [join])).text, `{"results":[${qualifiedJoin}]}`, flag);
  }
  const aliased = JSON.parse((await post(node, '/db/query?qualify', ['SELECT c.id, c.name AS who, upper(c.name), 1 + 1 FROM contacts AS c'])).text) as Json;
  assert.deepEqual(aliased.results[0].columns, ['contacts.id', 'contacts.who', 'upper(c.name)', '1 + 1']);
  assert.deepEqual(aliased.results[0].values, [[1, 'alice', 'ALICE', 2]]);
  const associative = await post(node, '/db/query?qualify&associative', ['SELECT a.id, b.title FROM contacts a JOIN titles b ON a.id = b.contact_id']);
  assert.equal(
    associative.text,
    '{"results":[{"types":{"contacts.id":"integer","titles.title":"text"},"rows":[{"contacts.id":1,"titles.title":"engineer"}]}]}',
  );
  // Through the log: the reads of a /db/request that writes are qualified where they are applied.
  const throughLog = await post(node, '/db/request?qualify', ["INSERT INTO contacts(id, name) VALUES (2, 'bob')", join]);
  assert.equal(throughLog.text, `{"results":[{"last_insert_id":2,"rows_affected":1},${qualifiedJoin}]}`);
  const readOnlyRequest = await post(node, '/db/request?qualify&level=none', [join]);
  assert.equal(readOnlyRequest.text, `{"results":[${qualifiedJoin}]}`);
});

test('raft_index comes with a level=strong read (the index it was read at) and with no other read', async () => {
  const node = await singleLeader('indexes');
  const write = await post(node, '/db/execute?raft_index', ['CREATE TABLE t (v TEXT)', "INSERT INTO t VALUES ('x')"]);
  const writeIndex = (JSON.parse(write.text) as { raft_index: number }).raft_index;
  assert.ok(Number.isSafeInteger(writeIndex) && writeIndex > 0, write.text);

  const strong = JSON.parse((await post(node, '/db/query?level=strong&raft_index', ['SELECT v FROM t'])).text) as { results: unknown[]; raft_index?: number };
  assert.deepEqual(strong.results, [{ columns: ['v'], types: ['text'], values: [['x']] }]);
  assert.ok(strong.raft_index !== undefined && strong.raft_index >= writeIndex, `strong read index ${strong.raft_index} after write ${writeIndex}`);
  const strongRequest = JSON.parse((await post(node, '/db/request?level=strong&raft_index', ['SELECT v FROM t'])).text) as { raft_index?: number };
  assert.ok(strongRequest.raft_index !== undefined && strongRequest.raft_index >= writeIndex);

  for (const path of ['/db/query?level=strong', '/db/query?level=linearizable&raft_index', '/db/query?raft_index', '/db/query?level=none&raft_index']) {
    assert.equal((await post(node, path, ['SELECT v FROM t'])).text, '{"results":[{"columns":["v"],"types":["text"],"values":[["x"]]}]}', path);
  }
});

/** A TCP proxy in front of a node's peer port: `cut()` drops every connection and refuses new ones until `heal()`. */
async function startCuttableProxy(target: string): Promise<{ address: string; cut(): void; heal(): void }> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const sockets = new Set<Socket>();
  let refusing = false;
  const server = createServer((inbound) => {
    if (refusing) {
      inbound.destroy();
      return;
    }
    const outbound = connect(Number(targetPort), targetHost);
    for (const [from, to] of [
      [inbound, outbound],
      [outbound, inbound],
    ] as const) {
      sockets.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        sockets.delete(from);
        to.destroy();
      });
    }
  });
  servers.push(server);
  const port = await freePort(host);
  await new Promise<void>((resolve) => server.listen(port, host, resolve));
  return {
    address: `${host}:${port}`,
    cut() {
      refusing = true;
      for (const socket of sockets) socket.destroy();
    },
    heal() {
      refusing = false;
    },
  };
}

test('retries: a follower cut off from its leader gets a forwarded write through once the link is back; bad or too many retries are a 400', async () => {
  // The leader advertises the proxy: the follower reaches it only through there. The
  // leader reaches the follower directly, so the follower keeps hearing its leader.
  const leaderRaft = `${host}:${await freePort(host)}`;
  const proxy = await startCuttableProxy(leaderRaft);
  const leader = await startNode('leader', { raftListen: leaderRaft, raftAdvertisedAddress: proxy.address });
  await waitFor('the leader leads', () => (leader.runtime.isLeader ? true : undefined));
  // A non-voter: the leader keeps its quorum (itself) while the follower's replies are cut.
  const follower = await startNode('follower', { joinAddresses: [proxy.address], nonVoter: true });
  await waitFor('the follower follows', () => (follower.runtime.leaderId === 'leader' ? true : undefined));
  assert.equal((await post(follower, '/db/execute', ['CREATE TABLE t (v TEXT)'])).status, 200);

  assert.equal((await post(follower, '/db/execute?retries=abc', ["INSERT INTO t VALUES ('no')"])).text, 'retries is not a valid integer\n');
  const tooMany = await post(follower, `/db/execute?retries=${forwardRetryCountMax + 1}`, ["INSERT INTO t VALUES ('no')"]);
  assert.equal(tooMany.status, 400);
  assert.equal(tooMany.text, `retries ${forwardRetryCountMax + 1} exceeds the maximum of ${forwardRetryCountMax}\n`);

  proxy.cut();
  const noRetry = await post(follower, '/db/execute?retries=0', ["INSERT INTO t VALUES ('lost')"]);
  assert.equal(noRetry.status, 503, noRetry.text);

  const healAfterMs = 1_500;
  setTimeout(() => proxy.heal(), healAfterMs);
  const retried = await post(follower, `/db/execute?retries=${forwardRetryCountMax}&timeout=60s`, ["INSERT INTO t VALUES ('through')"]);
  assert.equal(retried.status, 200, retried.text);
  assert.equal(retried.text, '{"results":[{"last_insert_id":1,"rows_affected":1}]}');
  assert.ok(retried.elapsedMs >= healAfterMs - 100, `answered after ${retried.elapsedMs} ms, before the link was back`);
  const count = await post(leader, '/db/query', ['SELECT v FROM t']);
  assert.equal(count.text, '{"results":[{"columns":["v"],"types":["text"],"values":[["through"]]}]}');
});
