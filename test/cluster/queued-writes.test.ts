/**
 * Queued writes (`?queue`) on real processes. Many concurrent queued requests become far
 * fewer log entries than requests, and every row lands once; /status reports the queue
 * under rqlite's keys with the --write-queue-* settings; and with the leader killed (-9)
 * while `?queue&wait` writes are in flight through the followers, nothing a `?wait`
 * acknowledged is lost or applied twice, and the killed node's sequence numbers keep
 * growing after its restart.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, http, sleep, waitFor, type HttpAnswer, type TestNode } from './harness.js';

let cluster: TestCluster;

const batchSize = 32;
const capacity = 512;

before(async () => {
  cluster = await TestCluster.create({
    size: 3,
    formation: 'join',
    flags: ['--write-queue-batch-size', String(batchSize), '--write-queue-capacity', String(capacity), '--write-queue-timeout', '100ms'],
  });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  const leader = await cluster.waitForLeader();
  const created = await leader.execute(['CREATE TABLE queued (id INTEGER PRIMARY KEY, writer TEXT NOT NULL, value INTEGER NOT NULL)']);
  assert.equal(created.status, 200, created.text);
});

after(async () => {
  await cluster?.close();
});

/** The sequence number exactly (it passes 2^53: JSON.parse would round it). */
function sequenceNumber(answer: HttpAnswer): bigint {
  const match = /"sequence_number":\s*(\d+)/.exec(answer.text);
  assert.ok(match?.[1] !== undefined, `no sequence_number in ${answer.status} ${answer.text}`);
  return BigInt(match[1]);
}

function queuedInsert(node: TestNode, writer: string, value: number, query: string): Promise<HttpAnswer> {
  return node.execute([['INSERT INTO queued(writer, value) VALUES (?, ?)', writer, value]], query);
}

async function countRows(node: TestNode, where: string): Promise<{ rows: number; distinct: number }> {
  const answer = await node.query(`SELECT count(*), count(DISTINCT value) FROM queued WHERE ${where}`, '?level=strong');
  assert.equal(answer.status, 200, answer.text);
  const [rows, distinct] = (answer.body as { results: { values: number[][] }[] }).results[0]?.values[0] ?? [];
  return { rows: rows ?? -1, distinct: distinct ?? -1 };
}

async function commitIndex(node: TestNode): Promise<number> {
  return (await node.raftStatus()).commit_index;
}

test('400 concurrent queued writes become far fewer log entries than requests, and every row lands once', async (context) =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader)!;
    const before = await commitIndex(leader);
    const requestCount = 400;
    // 40 clients at once, ten requests each (hundreds of sockets at once only measure the test machine).
    const clientCount = 40;
    await Promise.all(
      Array.from({ length: clientCount }, async (_, client) => {
        for (let value = client; value < requestCount; value += clientCount) {
          const answer = await queuedInsert(value % 4 === 0 ? leader : follower, 'burst', value, '?queue');
          assert.equal(answer.status, 200, answer.text);
        }
      }),
    );
    // A queued request with ?wait answers once its batch applied; the queue sends in order, so all before it applied too.
    for (const node of [leader, follower]) {
      const flushed = await queuedInsert(node, 'burst-flush', node === leader ? -1 : -2, '?queue&wait&timeout=20s');
      assert.equal(flushed.status, 200, flushed.text);
    }
    const entries = (await commitIndex(leader)) - before;
    context.diagnostic(`${requestCount + 2} queued requests, ${entries} log entries`);
    assert.ok(entries <= (requestCount + 2) / 4, `${requestCount + 2} queued requests took ${entries} log entries`);
    assert.ok(entries >= Math.ceil(requestCount / batchSize), `no batch holds more than ${batchSize} requests (${entries} entries)`);
    assert.deepEqual(await countRows(follower, "writer = 'burst'"), { rows: requestCount, distinct: requestCount });
  }));

test('/status reports the write queue under rqlite’s keys (http.queue._default), with the --write-queue-* settings', async () =>
  cluster.withLogs(async () => {
    const node = cluster.node(2);
    const waited = await queuedInsert(node, 'status', 1, '?queue&wait&timeout=20s');
    assert.equal(waited.status, 200, waited.text);
    const status = await http(`${node.url}/status`);
    const queue = (status.body as { http?: { queue?: { _default?: Record<string, unknown> } } }).http?.queue?._default;
    assert.ok(queue !== undefined, `no http.queue._default in ${status.text.slice(0, 400)}`);
    assert.equal(queue.max_size, capacity);
    assert.equal(queue.batch_size, batchSize);
    assert.equal(queue.timeout, '100ms');
    assert.equal(queue.tx, false);
    assert.equal(queue.depth, 0);
    const reported = /"sequence_number":\s*(\d+)/.exec(status.text)?.[1];
    assert.equal(reported === undefined ? undefined : BigInt(reported), sequenceNumber(waited), 'the last sequence number written to the log');
    const keyed = await http(`${node.url}/status?key=http.queue._default.batch_size`);
    assert.equal(keyed.text.trim(), String(batchSize));
  }));

test('?queue&wait without statements (rqlite’s flush marker) answers once everything queued before it is written; without ?wait it is 400', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader)!;
    let last = 0n;
    for (let value = 0; value < 50; value += 1) last = sequenceNumber(await queuedInsert(follower, 'marker', value, '?queue'));
    const post = (query: string) => http(`${follower.url}/db/execute${query}`, { method: 'POST', body: '[]', headers: { 'content-type': 'application/json' } });
    const marker = await post('?queue&wait&timeout=20s');
    assert.equal(marker.status, 200, marker.text);
    assert.ok(sequenceNumber(marker) > last);
    assert.deepEqual(await countRows(leader, "writer = 'marker'"), { rows: 50, distinct: 50 });
    const refused = await post('?queue');
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /no statements/);
  }));

/** Bounds of each writer loop: attempts, and acknowledged writes wanted after the kill (all writers together). */
const writeAttemptCountMax = 3000;
const writesAfterKillWanted = 60;

interface Writer {
  readonly name: string;
  readonly acknowledged: number[];
  attempts: number;
  stop: boolean;
  done: Promise<void>;
}

/** Sends `?queue&wait` inserts one at a time to `node`; records the values answered 200. */
function startWriter(name: string, node: TestNode): Writer {
  const writer: Writer = { name, acknowledged: [], attempts: 0, stop: false, done: Promise.resolve() };
  writer.done = (async () => {
    let value = 0;
    while (!writer.stop && writer.attempts < writeAttemptCountMax) {
      value += 1;
      writer.attempts += 1;
      try {
        const answer = await queuedInsert(node, name, value, '?queue&wait&timeout=10s');
        if (answer.status === 200) writer.acknowledged.push(value);
        else await sleep(50);
      } catch {
        await sleep(50); // no answer in time: unacknowledged
      }
    }
  })();
  return writer;
}

test('kill -9 the leader under ?queue&wait writes: nothing acknowledged is lost or doubled; sequence numbers keep growing after a restart', async () =>
  cluster.withLogs(async () => {
    const oldLeader = await cluster.waitForLeader();
    const followers = cluster.nodes.filter((node) => node !== oldLeader);
    // The node about to die hands out sequence numbers too: the highest one it gave.
    let highestBeforeKill = 0n;
    for (let value = 0; value < 20; value += 1) {
      const answer = await queuedInsert(oldLeader, 'doomed', value, value === 19 ? '?queue&wait&timeout=20s' : '?queue');
      assert.equal(answer.status, 200, answer.text);
      const number = sequenceNumber(answer);
      assert.ok(number > highestBeforeKill, 'numbers grow within a process');
      highestBeforeKill = number;
    }

    const writers = followers.flatMap((node, position) => [startWriter(`w${position}a`, node), startWriter(`w${position}b`, node)]);
    const total = () => writers.reduce((sum, writer) => sum + writer.acknowledged.length, 0);
    await waitFor('40 acknowledged queued writes before the kill', () => (total() >= 40 ? true : undefined));
    await oldLeader.kill();
    const atKill = total();
    const newLeader = await cluster.waitForLeader(followers);
    assert.notEqual(newLeader.id, oldLeader.id);
    await waitFor(`${writesAfterKillWanted} acknowledged queued writes after the kill`, () => (total() >= atKill + writesAfterKillWanted ? true : undefined));
    for (const writer of writers) writer.stop = true;
    await Promise.all(writers.map((writer) => writer.done));

    for (const writer of writers) {
      const { rows, distinct } = await countRows(newLeader, `writer = '${writer.name}'`);
      assert.equal(rows, distinct, `${writer.name}: no queued write applied twice`);
      const answer = await newLeader.query(`SELECT value FROM queued WHERE writer = '${writer.name}'`, '?level=strong');
      const stored = new Set(((answer.body as { results: { values?: number[][] }[] }).results[0]?.values ?? []).map((row) => row[0]));
      const lost = writer.acknowledged.filter((value) => !stored.has(value));
      assert.deepEqual(lost, [], `${writer.name}: every write its ?wait acknowledged is stored`);
    }

    oldLeader.start(cluster.flagsFor(oldLeader));
    await cluster.waitForLeader();
    const afterRestart = await waitFor('a queued write accepted by the restarted node', async () => {
      const answer = await queuedInsert(oldLeader, 'reborn', 1, '?queue');
      return answer.status === 200 ? answer : undefined;
    });
    const restarted = sequenceNumber(afterRestart);
    assert.ok(restarted > highestBeforeKill, `after the restart ${restarted} follows ${highestBeforeKill}`);
    await cluster.waitForConvergence();
  }));
