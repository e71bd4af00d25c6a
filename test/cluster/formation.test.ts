/**
 * A 3-node cluster formed with --join: writes on a follower are forwarded, `?redirect`
 * answers 301 to the leader, reads work at every level on every node, and `min_index`
 * on a follower waits for the write it names.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeIdLengthMax } from '../../src/service/service.js';
import { TestCluster, http, waitFor, type TestNode } from './harness.js';

let cluster: TestCluster;
let leader: TestNode;
let followers: TestNode[];

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  try {
    await cluster.start();
    leader = await cluster.waitForLeader();
    followers = cluster.nodes.filter((node) => node !== leader);
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  }
});

after(async () => {
  await cluster?.close();
});

test('a write on a follower is forwarded to the leader and replicated everywhere', async () => {
  const follower = followers[0]!;
  const created = await follower.execute(['CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL)']);
  assert.equal(created.status, 200, created.text);
  const inserted = await follower.execute([['INSERT INTO fruit(name) VALUES (?)', 'apple']], '?raft_index');
  assert.equal(inserted.status, 200, inserted.text);
  const body = inserted.body as { results: { rows_affected: number; last_insert_id: number }[]; raft_index: number };
  assert.deepEqual(body.results, [{ last_insert_id: 1, rows_affected: 1 }]);
  assert.ok(body.raft_index > 0);
  assert.equal(inserted.headers.get('x-rqlite-served-by'), leader.raftAddress);
  const sums = await cluster.waitForApplied(body.raft_index);
  assert.equal(new Set(sums).size, 1, 'every node has the same content');
});

test('?redirect on a follower answers 301 with the leader in Location', async () => {
  const answer = await http(`${followers[1]!.url}/db/execute?redirect`, { json: [['INSERT INTO fruit(name) VALUES (?)', 'pear']] });
  assert.equal(answer.status, 301, answer.text);
  const location = answer.headers.get('location') ?? '';
  assert.ok(location.startsWith(leader.url), `Location ${location} points at the leader ${leader.url}`);
  const count = await leader.query("SELECT count(*) FROM fruit WHERE name = 'pear'", '?level=strong');
  assert.deepEqual((count.body as { results: { values: number[][] }[] }).results[0]?.values, [[0]], 'nothing was written');
});

test('reads at every level on every node', async () => {
  const written = await leader.execute([['INSERT INTO fruit(name) VALUES (?)', 'banana']], '?raft_index');
  const index = (written.body as { raft_index: number }).raft_index;
  for (const node of cluster.nodes) {
    for (const level of ['weak', 'linearizable', 'strong', 'auto']) {
      const answer = await node.query('SELECT name FROM fruit ORDER BY id', `?level=${level}`);
      assert.equal(answer.status, 200, `${level} on ${node.id}: ${answer.text}`);
      assert.deepEqual((answer.body as { results: { values: string[][] }[] }).results[0]?.values, [['apple'], ['banana']], `${level} on ${node.id}`);
    }
    const none = await node.query('SELECT name FROM fruit ORDER BY id', `?level=none&min_index=${index}`);
    assert.equal(none.status, 200, none.text);
    assert.deepEqual((none.body as { results: { values: string[][] }[] }).results[0]?.values, [['apple'], ['banana']], `none on ${node.id}`);
  }
});

test('min_index on a follower waits until that index is applied there', async () => {
  const follower = followers[0]!;
  const written = await leader.execute([['INSERT INTO fruit(name) VALUES (?)', 'cherry']], '?raft_index');
  const index = (written.body as { raft_index: number }).raft_index;
  const answer = await follower.query("SELECT count(*) FROM fruit WHERE name = 'cherry'", `?level=none&min_index=${index}`);
  assert.equal(answer.status, 200, answer.text);
  assert.deepEqual((answer.body as { results: { values: number[][] }[] }).results[0]?.values, [[1]]);
  const tooFar = await follower.query('SELECT 1', `?level=none&min_index=${index + 1_000_000}&timeout=300ms`);
  assert.notEqual(tooFar.status, 200, 'an index never reached times out instead of answering');
});

test('/nodes lists three reachable voters and /readyz is ready on every node', async () => {
  const nodes = await http(`${followers[0]!.url}/nodes?ver=2`);
  const list = (nodes.body as { nodes: { id: string; voter: boolean; reachable: boolean; leader: boolean }[] }).nodes;
  assert.equal(list.length, 3);
  assert.ok(list.every((node) => node.voter && node.reachable));
  assert.deepEqual(
    list.filter((node) => node.leader).map((node) => node.id),
    [leader.id],
  );
  for (const node of cluster.nodes) {
    const ready = await waitFor('readyz 200', async () => {
      const answer = await http(`${node.url}/readyz`);
      return answer.status === 200 ? answer : undefined;
    });
    assert.match(ready.text, /\[\+\]leader ok/);
    const synced = await http(`${node.url}/readyz?sync&timeout=10s`);
    assert.equal(synced.status, 200, synced.text);
    assert.match(synced.text, /\[\+\]sync ok/);
  }
  const metrics = await http(`${leader.url}/metrics`);
  assert.match(metrics.text, /quorumlite_raft_is_leader 1/);
});

test('POST /leader on a follower hands leadership to another voter', async () => {
  const before = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node !== before)!;
  const stepped = await http(`${follower.url}/leader?wait`, { method: 'POST', body: '' });
  assert.ok(stepped.status === 200 || stepped.status === 204, `${stepped.status} ${stepped.text}`);
  const after = await cluster.waitForLeader();
  assert.notEqual(after.id, before.id);
  const written = await follower.execute([['INSERT INTO fruit(name) VALUES (?)', 'after step-down']]);
  assert.equal(written.status, 200, written.text);
});

test("a follower's /status?leader_not=ID holds its answer until it knows a leader other than ID, and answers at once when it already does", async () => {
  const before = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node !== before)!;
  const elsewhere = await http(`${follower.url}/status?key=store.leader&leader_not=${encodeURIComponent('not-a-member')}&timeout=10s`);
  assert.equal(elsewhere.status, 200, elsewhere.text);
  assert.equal((elsewhere.body as { node_id: string }).node_id, before.id, 'a leader other than the one named: at once');
  let settled = false;
  const held = http(`${follower.url}/status?key=store.leader&leader_not=${encodeURIComponent(before.id)}&timeout=10s`).finally(() => {
    settled = true;
  });
  await new Promise((resolve) => setTimeout(resolve, 300));
  assert.equal(settled, false, 'the answer waits while the named node still leads');
  const stepped = await http(`${before.url}/leader`, { method: 'POST', body: '' });
  assert.ok(stepped.status === 200 || stepped.status === 204, `${stepped.status} ${stepped.text}`);
  const answer = await held;
  assert.equal(answer.status, 200, answer.text);
  const named = (answer.body as { node_id: string }).node_id;
  assert.ok(named !== '' && named !== before.id, `the answer names the new leader, not ${JSON.stringify(named)}`);
  assert.equal(named, (await cluster.waitForLeader()).id);
});

test('leader_not takes a node id of 1 to nodeIdLengthMax (128) characters', async () => {
  const node = cluster.nodes[0]!;
  assert.equal(nodeIdLengthMax, 128);
  assert.equal((await http(`${node.url}/status?key=store.leader&leader_not=`)).status, 400);
  const tooLong = await http(`${node.url}/status?key=store.leader&leader_not=${'x'.repeat(nodeIdLengthMax + 1)}`);
  assert.equal(tooLong.status, 400);
  assert.match(tooLong.text, /leader_not must be a node id of 1 to 128 characters/);
  assert.equal((await http(`${node.url}/status?key=store.leader&leader_not=${'x'.repeat(nodeIdLengthMax)}&timeout=1ms`)).status, 200);
});

test('an Idempotency-Key write applies once, however often it is sent and through whichever node', async () => {
  const body = [['INSERT INTO fruit(name) VALUES (?)', 'quince']];
  for (const node of [...cluster.nodes, cluster.nodes[0]!]) {
    const answer = await http(`${node.url}/db/execute`, {
      method: 'POST',
      body: JSON.stringify(body),
      headers: { 'content-type': 'application/json', 'idempotency-key': 'quince-once' },
    });
    assert.equal(answer.status, 200, answer.text);
  }
  const count = await cluster.nodes[2]!.query("SELECT count(*) FROM fruit WHERE name = 'quince'", '?level=strong');
  assert.deepEqual((count.body as { results: { values: number[][] }[] }).results[0]?.values, [[1]]);
});

test('queued writes answer with a sequence number and are applied; ?wait blocks until applied', async () => {
  const currentLeader = await cluster.waitForLeader();
  const follower = cluster.nodes.find((node) => node !== currentLeader)!;
  const queued = await follower.execute([['INSERT INTO fruit(name) VALUES (?)', 'queued']], '?queue');
  assert.equal(queued.status, 200, queued.text);
  assert.equal(typeof (queued.body as { sequence_number?: number }).sequence_number, 'number');
  const waited = await follower.execute([['INSERT INTO fruit(name) VALUES (?)', 'queued and waited']], '?queue&wait');
  assert.equal(waited.status, 200, waited.text);
  const rows = await waitFor('both queued writes applied', async () => {
    const answer = await follower.query("SELECT name FROM fruit WHERE name LIKE 'queued%' ORDER BY name", '?level=strong');
    const values = (answer.body as { results: { values?: string[][] }[] }).results[0]?.values ?? [];
    return values.length === 2 ? values : undefined;
  });
  assert.deepEqual(rows, [['queued'], ['queued and waited']]);
});

test('/db/request: reads alone are served as a query; any write sends the whole request through the log', async () => {
  const follower = cluster.nodes.find((node) => node.running)!;
  const readOnly = await http(`${follower.url}/db/request?level=none`, { json: [['SELECT count(*) FROM fruit WHERE name = ?', 'apple']] });
  assert.equal(readOnly.status, 200, readOnly.text);
  assert.deepEqual((readOnly.body as { results: { values: number[][] }[] }).results[0]?.values, [[1]]);
  const mixed = await http(`${follower.url}/db/request?raft_index`, {
    json: [['INSERT INTO fruit(name) VALUES (?)', 'fig'], ["SELECT count(*) FROM fruit WHERE name = 'fig'"]],
  });
  assert.equal(mixed.status, 200, mixed.text);
  const body = mixed.body as { results: { rows_affected?: number; values?: number[][] }[]; raft_index?: number };
  assert.equal(body.results[0]?.rows_affected, 1);
  assert.deepEqual(body.results[1]?.values, [[1]], 'the read in the same entry sees the write');
  assert.ok((body.raft_index ?? 0) > 0);
  // Two statements in one SQL string, the first a read: still a write, so through the log.
  const combined = await http(`${follower.url}/db/request?raft_index`, {
    json: ["SELECT 1; INSERT INTO fruit(name) VALUES ('kiwi')"],
  });
  assert.equal(combined.status, 200, combined.text);
  assert.ok(((combined.body as { raft_index?: number }).raft_index ?? 0) > 0, combined.text);
  for (const node of cluster.nodes.filter((candidate) => candidate.running)) {
    await waitFor(`kiwi on ${node.id}`, async () => {
      const read = await http(`${node.url}/db/query?level=none`, { json: ["SELECT count(*) FROM fruit WHERE name = 'kiwi'"] });
      const values = (read.body as { results: { values?: number[][] }[] }).results[0]?.values;
      return values?.[0]?.[0] === 1 ? true : undefined;
    });
  }
});

test('?timings on a read gives each result its time, on the leader and on a follower', async () => {
  for (const node of cluster.nodes.filter((candidate) => candidate.running)) {
    const read = await http(`${node.url}/db/query?level=none&timings`, { json: ['SELECT count(*) FROM fruit'] });
    assert.equal(read.status, 200, read.text);
    const body = read.body as { time?: number; results: { time?: number }[] };
    assert.equal(typeof body.time, 'number', read.text);
    assert.equal(typeof body.results[0]?.time, 'number', read.text);
  }
});
