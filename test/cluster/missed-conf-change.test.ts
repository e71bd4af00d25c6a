/**
 * The simulator's finding R1 with real processes: a member that was down while a node
 * joined, and comes back when that node leads, has no address for its leader (members.json
 * and its log predate the join). It must still answer the leader, at the address the
 * leader announced in its transport handshake, and catch up: before the fix every reply
 * was dropped as "unknown peer" and it stayed behind for good.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { resolveLimits } from '../../src/transport/limits.js';
import { http, TestCluster, waitFor, type TestNode } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
});

after(async () => {
  await cluster?.close();
});

async function write(leader: TestNode, text: string): Promise<void> {
  const answer = await leader.execute([['INSERT INTO notes(text) VALUES (?)', text]]);
  assert.equal(answer.status, 200, answer.text);
  assert.equal((answer.body as { results: { error?: string }[] }).results[0]?.error, undefined, answer.text);
}

/** Asks the leader to hand over to `target` until `target` leads (each request bounded, the whole wait too). */
async function makeLeader(target: TestNode): Promise<void> {
  await waitFor(`${target.id} leads`, async () => {
    if ((await target.raftStatus()).state === 'Leader') return true;
    const leader = await cluster.waitForLeader(cluster.running());
    await http(`${leader.url}/leader?wait&timeout=5s`, { method: 'POST', body: JSON.stringify({ id: target.id }) });
    return (await target.raftStatus()).state === 'Leader' ? true : undefined;
  });
}

test('a member restarted after missing the join of the node that now leads catches up with it (sim finding R1)', async () =>
  cluster.withLogs(async () => {
    const [first, second, third] = [cluster.node(1), cluster.node(2), cluster.node(3)];
    const leader = await cluster.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)'])).status, 200);
    await write(leader, 'before');
    await cluster.waitForConvergence();
    await third.kill();

    const fourth = await cluster.addNodeSpec();
    fourth.start(['--join', [first.raftAddress, second.raftAddress].join(',')]);
    await waitFor('the new node is a voter', async () => ((await fourth.raftStatus()).voter ? true : undefined));
    await makeLeader(fourth);
    const { term } = await fourth.raftStatus();
    await write(fourth, 'while node 3 was down');
    // Node 1 led term 2 and queued appends for node 3 (the entries adding node 4 among them)
    // while its link was in reconnect backoff; the next dial would deliver them, and node 3
    // would learn node 4's address from the log instead of from the handshake. Each failed
    // dial drops the queue and a follower queues nothing new for node 3, so one backoff
    // (at most the transport's 2 s backoffMsMax) after the leadership change the queue is empty.
    await new Promise((resolve) => setTimeout(resolve, resolveLimits().backoffMsMax + 500));

    const logOffset = third.log().length;
    third.start(cluster.flagsFor(third));
    const converged = await cluster.waitForConvergence(cluster.nodes);
    assert.equal(converged.appliedIndex, (await fourth.checksum()).appliedIndex);
    const status = await fourth.raftStatus();
    assert.equal(status.state, 'Leader', 'the node that joined while node 3 was down still leads');
    assert.equal(status.term, term, 'no election since: node 3 caught up from that leader');
    assert.match(third.log().slice(logOffset), /"event":"peer-address-adopted"/, 'node 3 answered the leader at its announced address');
    const rows = await third.query('SELECT text FROM notes ORDER BY id', '?level=none');
    assert.deepEqual((rows.body as { results: { values: string[][] }[] }).results[0]?.values, [['before'], ['while node 3 was down']]);
  }));
