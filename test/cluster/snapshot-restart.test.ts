/**
 * Regression: after kill -9, a node must keep the snapshot it took itself.
 *
 * The stored commit index is saved lazily (one entry behind when idle), and storage used
 * to discard at open every snapshot newer than it. A snapshot taken of applied entries
 * is of committed entries, so after SIGKILL the newest snapshot was deleted, silently,
 * while the log had already been compacted behind it: a node joining next could be sent
 * neither entries nor a snapshot and stayed at applied 0.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster, waitFor } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({
    size: 2,
    formation: 'join',
    firstHostIndex: 41,
    flags: ['--raft-snap', '10', '--raft-snap-int', '100ms', '--raft-trailing-logs', '5'],
  });
});

after(async () => {
  await cluster?.close();
});

interface RaftStatus {
  readonly last_snapshot_index: number;
  readonly first_log_index: number;
  readonly applied_index: number;
}

async function raftStatus(node: ReturnType<TestCluster['node']>): Promise<RaftStatus> {
  return ((await node.status()).store as { raft: RaftStatus }).raft;
}

test('kill -9 keeps the newest snapshot; a node that joins afterwards gets every row', async () =>
  cluster.withLogs(async () => {
    const first = cluster.node(1);
    first.start(cluster.flagsFor(first));
    await cluster.waitForLeader([first]);
    assert.equal((await first.execute(['CREATE TABLE foo (id INTEGER PRIMARY KEY, name TEXT)'])).status, 200);
    // 200 inserts, then single inserts until a snapshot covers the very last write (one
    // lands once the node has applied --raft-snap entries past the previous one), so the
    // newest snapshot is ahead of the lazily saved commit index when the node is killed.
    const rowsFirst = 200;
    const rowsExtraMax = 40;
    let rowCount = 0;
    const insert = async (): Promise<void> => {
      const answer = await first.execute([['INSERT INTO foo(name) VALUES(?)', `row ${rowCount}`]]);
      assert.equal(answer.status, 200, answer.text);
      rowCount += 1;
    };
    while (rowCount < rowsFirst) await insert();
    let before: RaftStatus | undefined;
    while (before === undefined && rowCount < rowsFirst + rowsExtraMax) {
      await insert();
      before = await waitFor(
        'a snapshot of the last write',
        async () => {
          const status = await raftStatus(first);
          return status.last_snapshot_index === status.applied_index ? status : undefined;
        },
        2_000,
      ).catch(() => undefined);
    }
    assert.ok(before !== undefined, `a snapshot covered the last write within ${rowsExtraMax} extra rows`);
    assert.ok(before.first_log_index > 1, 'the log was compacted behind the snapshot');

    await first.kill();
    const logOffset = first.log().length;
    first.start(cluster.flagsFor(first));
    await cluster.waitForLeader([first]);
    const afterRestart = await raftStatus(first);
    assert.ok(
      afterRestart.last_snapshot_index >= before.last_snapshot_index,
      `snapshot ${before.last_snapshot_index} survived the restart (now ${afterRestart.last_snapshot_index})`,
    );
    assert.doesNotMatch(first.log().slice(logOffset), /"event":"storage-discarded-snapshot"/);

    const second = cluster.node(2);
    second.start(cluster.flagsFor(second));
    await cluster.waitForMembers(2);
    await cluster.waitForConvergence(cluster.nodes);
    const rows = await second.query('SELECT count(*) FROM foo', '?level=none');
    assert.deepEqual((rows.body as { results: { values: number[][] }[] }).results[0]?.values, [[rowCount]], rows.text);
    assert.doesNotMatch(first.log(), /snapshot is empty/);
  }));
