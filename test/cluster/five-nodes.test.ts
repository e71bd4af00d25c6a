/**
 * Five voters tolerate two failures: with the leader and one follower killed, the other
 * three elect a leader and keep accepting writes; the two restart and converge.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({ size: 5, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
});

after(async () => {
  await cluster?.close();
});

test('five voters: two down (the leader among them), writes continue; both rejoin and converge', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE log (id INTEGER PRIMARY KEY, line TEXT)'])).status, 200);
    const follower = cluster.nodes.find((node) => node !== leader)!;
    await leader.kill();
    await follower.kill();
    const survivors = cluster.running();
    assert.equal(survivors.length, 3);
    const newLeader = await cluster.waitForLeader(survivors);
    for (let line = 0; line < 5; line += 1) {
      const answer = await survivors[line % 3]!.execute([['INSERT INTO log(line) VALUES (?)', `line ${line}`]]);
      assert.equal(answer.status, 200, answer.text);
    }
    assert.notEqual(newLeader.id, leader.id);
    leader.start(cluster.flagsFor(leader));
    follower.start(cluster.flagsFor(follower));
    await cluster.waitForConvergence(cluster.nodes);
    const rows = await follower.query('SELECT count(*) FROM log', '?level=none');
    assert.deepEqual((rows.body as { results: { values: number[][] }[] }).results[0]?.values, [[5]]);
  }));
