/**
 * Several databases per cluster on real processes (docs/ARCHITECTURE.md, "Several
 * databases"): create, drop and list through the log; writes and reads per database at
 * every read level; a drop under a write load on another database loses nothing (those
 * in several-databases-scenario.ts, which the etcd log's test runs too); a node
 * that catches up by snapshot receives every database; kill -9 and restart apply nothing
 * twice in any database.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, type TestNode } from './harness.js';
import { countOn, databasesOn, databasesThroughTheLog, rowsOf } from './several-databases-scenario.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({
    size: 4,
    formation: 'join',
    firstHostIndex: 171,
    flags: ['--raft-snap', '20', '--raft-snap-int', '200ms', '--raft-trailing-logs', '5', '--db-count-max', '4'],
  });
});

after(async () => {
  await cluster?.close();
});

test('databases are created, used, dropped and caught up on real nodes', async () =>
  cluster.withLogs(async () => {
    const [first, second, third, fourth] = [cluster.node(1), cluster.node(2), cluster.node(3), cluster.node(4)];
    // Three of the four nodes now; the fourth joins later, by snapshot.
    first.start(cluster.flagsFor(first));
    await cluster.waitForLeader([first]);
    for (const node of [second, third]) node.start(cluster.flagsFor(node));
    await cluster.waitForMembers(3);
    const leader = await cluster.waitForLeader([first, second, third]);
    const follower = [first, second, third].find((node) => node !== leader) as TestNode;

    await databasesThroughTheLog(cluster, { leader, follower, third, nodes: [first, second, third] });

    // Enough entries for snapshots that compact the log; then the fourth node joins and gets every database by snapshot.
    for (let row = 0; row < 40; row += 1) assert.equal((await leader.execute([['INSERT INTO t VALUES (?)', `more-${row}`]], '?db=a')).status, 200);
    fourth.start(cluster.flagsFor(fourth));
    await cluster.waitForMembers(4);
    const converged = await cluster.waitForConvergence(cluster.nodes);
    await cluster.waitForApplied(converged.appliedIndex, [fourth]);
    assert.match(fourth.log(), /"event":"snapshot-installed"/, 'the fourth node caught up by a snapshot');
    assert.deepEqual(await databasesOn(fourth), ['main', 'a', 'b']);
    const expectedInA = await countOn(leader, 'a', 't');
    assert.equal(await countOn(fourth, 'a', 't'), expectedInA);
    assert.deepEqual(rowsOf(await fourth.query('SELECT v FROM u', '?db=b&level=none')), [['b-again']]);

    // kill -9 a follower, write meanwhile, restart it: nothing applied twice or skipped in any database.
    const victim = [first, second, third, fourth].find((node) => node !== leader) as TestNode;
    await victim.kill();
    assert.equal((await leader.execute(["INSERT INTO t VALUES ('while-down')"], '?db=a')).status, 200);
    assert.equal((await leader.execute(["INSERT INTO u VALUES ('while-down')"], '?db=b')).status, 200);
    victim.start(cluster.flagsFor(victim));
    const final = await leader.execute(["INSERT INTO t VALUES ('final')"], '?db=a&raft_index');
    await cluster.waitForApplied((final.body as { raft_index: number }).raft_index, cluster.nodes);
    for (const node of cluster.nodes) {
      assert.equal(await countOn(node, 'a', 't'), expectedInA + 2);
      assert.equal(await countOn(node, 'b', 'u'), 2);
    }
    // The leader itself, killed and restarted, replays into every database exactly once.
    await leader.kill();
    leader.start(cluster.flagsFor(leader));
    await cluster.waitForMembers(4);
    const newLeader = await cluster.waitForLeader();
    const settled = await newLeader.execute(["INSERT INTO u VALUES ('after')"], '?db=b&raft_index');
    await cluster.waitForApplied((settled.body as { raft_index: number }).raft_index, cluster.nodes);
    for (const node of cluster.nodes) {
      assert.equal(await countOn(node, 'a', 't'), expectedInA + 2);
      assert.equal(await countOn(node, 'b', 'u'), 3);
    }
  }));
