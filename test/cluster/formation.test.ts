/**
 * A 3-node cluster formed with --join: writes on a follower are forwarded, `?redirect`
 * answers 301 to the leader, reads work at every level on every node, and `min_index`
 * on a follower waits for the write it names.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
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
  const count = await leader.query('SELECT count(*) FROM fruit WHERE name = \'pear\'', '?level=strong');
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
  assert.deepEqual(list.filter((node) => node.leader).map((node) => node.id), [leader.id]);
  for (const node of cluster.nodes) {
    const ready = await waitFor('readyz 200', async () => {
      const answer = await http(`${node.url}/readyz`);
      return answer.status === 200 ? answer : undefined;
    });
    assert.match(ready.text, /\[\+\]leader ok/);
  }
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
