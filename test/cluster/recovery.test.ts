/**
 * Catch-up by snapshot (a follower that was down while the leader snapshotted and
 * compacted past it receives the snapshot file and converges), and the graceful SIGTERM
 * handover (a leader transfers leadership before it exits; writes go on).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, waitFor } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({
    size: 3,
    formation: 'join',
    flags: ['--raft-snap', '20', '--raft-snap-int', '100ms', '--raft-trailing-logs', '4'],
  });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
});

after(async () => {
  await cluster?.close();
});

function snapshotIndex(status: Record<string, unknown>): number {
  return (status.store as { raft: { last_snapshot_index: number; first_log_index: number } }).raft.last_snapshot_index;
}

function firstLogIndex(status: Record<string, unknown>): number {
  return (status.store as { raft: { first_log_index: number } }).raft.first_log_index;
}

test('a follower that fell behind the compacted log catches up from a streamed snapshot', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE items (id INTEGER PRIMARY KEY, payload TEXT)'])).status, 200);
    const lagging = cluster.nodes.find((node) => node !== leader)!;
    const laggingStatus = await lagging.raftStatus();
    await lagging.kill();

    for (let batch = 0; batch < 10; batch += 1) {
      const statements = Array.from({ length: 10 }, (_, row) => ['INSERT INTO items(payload) VALUES (?)', `row ${batch}-${row}`]);
      const answer = await leader.execute(
        statements.map((statement) => statement),
        '?transaction',
      );
      assert.equal(answer.status, 200, answer.text);
      const single = await leader.execute([['INSERT INTO items(payload) VALUES (?)', `single ${batch}`]]);
      assert.equal(single.status, 200, single.text);
    }
    await waitFor('the leader compacted its log past the lagging follower', async () => {
      const status = await leader.status();
      return snapshotIndex(status) > 0 && firstLogIndex(status) > laggingStatus.applied_index + 1 ? true : undefined;
    });

    const logOffset = lagging.log().length;
    lagging.start(cluster.flagsFor(lagging));
    const converged = await cluster.waitForConvergence(cluster.nodes);
    assert.ok(converged.appliedIndex > laggingStatus.applied_index);
    // The install is logged once its last step is done, which may be just after the applied index shows it.
    await waitFor('the follower logged its snapshot install', () => (/"event":"snapshot-installed"/.test(lagging.log().slice(logOffset)) ? true : undefined));
    const rows = await lagging.query('SELECT count(*) FROM items', '?level=none');
    assert.deepEqual((rows.body as { results: { values: number[][] }[] }).results[0]?.values, [[110]]);
  }));

test('SIGTERM on the leader hands leadership over before exiting; writes continue', async () =>
  cluster.withLogs(async () => {
    const leader = await cluster.waitForLeader();
    const termBefore = (await leader.raftStatus()).term;
    const logOffset = leader.log().length;
    const exitCode = await leader.terminate();
    assert.equal(exitCode, 0);
    assert.match(leader.log().slice(logOffset), /"event":"leadership-transfer"/, 'the leader started a transfer');
    const survivors = cluster.running();
    const newLeader = await cluster.waitForLeader(survivors);
    assert.notEqual(newLeader.id, leader.id);
    // A transfer is one election in the next term: no pre-vote rounds, no term skipped.
    assert.equal((await newLeader.raftStatus()).term, termBefore + 1);
    const written = await survivors[0]!.execute([['INSERT INTO items(payload) VALUES (?)', 'after handover']]);
    assert.equal(written.status, 200, written.text);

    leader.start(cluster.flagsFor(leader));
    await cluster.waitForConvergence(cluster.nodes);
  }));
