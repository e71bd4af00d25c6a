/**
 * Linearizable reads share ReadIndex rounds (issues 16 and 18): a node keeps one round of
 * its own in flight and the reads arriving meanwhile join the next, so many concurrent
 * reads cost a few rounds, on the leader (heartbeat rounds) and on a follower (MsgReadIndex
 * to the leader). Real nodes in this process over TCP; the rounds are counted by the
 * runtime (readBarrierCounts, also in /metrics).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { TestNodes } from './start-node.js';

const context = { signal: new AbortController().signal };
const testNodes = new TestNodes('read-batching');
after(() => testNodes.stopAll());

const concurrentReadCount = 200;

/** A leader and two followers that know it, with a table t of `rowCount` rows. */
async function startCluster(rowCount: number): Promise<{ leader: QuorumNode; follower: QuorumNode }> {
  const timers = { heartbeatMs: 50, electionTimeoutMs: 1_000 };
  const leader = await testNodes.start(timers);
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const join = { ...timers, joinAddresses: [leader.config.raftAdvertisedAddress] };
  const follower = await testNodes.start(join);
  const other = await testNodes.start(join);
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await waitFor('the followers know the leader', () =>
    follower.runtime.leaderId === leader.config.nodeId && other.runtime.leaderId === leader.config.nodeId ? true : undefined,
  );
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v INTEGER)')]), context);
  for (let value = 1; value <= rowCount; value++) {
    await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', value)]), context);
  }
  return { leader, follower };
}

async function linearizableCount(node: QuorumNode): Promise<{ count: unknown; servedBy: string | null }> {
  const response = await node.service.query(queryRequest('SELECT count(*) FROM t', { level: 'linearizable' }), context);
  const rows = (response.results[0] as { rows?: unknown[][] }).rows;
  return { count: rows?.[0]?.[0], servedBy: response.servedBy };
}

/** `concurrentReadCount` linearizable reads at once on `node`: each must be right; returns the rounds they cost. */
async function concurrentReads(node: QuorumNode, expectedCount: number): Promise<number> {
  const before = node.runtime.readBarrierCounts();
  const reads = await Promise.all(Array.from({ length: concurrentReadCount }, () => linearizableCount(node)));
  for (const read of reads) {
    assert.equal(read.count, expectedCount);
    assert.equal(read.servedBy, node.config.raftAdvertisedAddress, 'served where it was sent, as before');
  }
  const after = node.runtime.readBarrierCounts();
  assert.equal(after.readCount - before.readCount, concurrentReadCount);
  return after.roundCount - before.roundCount;
}

test('many concurrent linearizable reads share a few ReadIndex rounds, on the leader and on a follower, and all read right', async () => {
  const { leader, follower } = await startCluster(3);
  const leaderRounds = await concurrentReads(leader, 3);
  assert.ok(leaderRounds >= 1 && leaderRounds <= concurrentReadCount / 10, `${concurrentReadCount} reads on the leader took ${leaderRounds} rounds`);
  const followerRounds = await concurrentReads(follower, 3);
  assert.ok(followerRounds >= 1 && followerRounds <= concurrentReadCount / 10, `${concurrentReadCount} reads on the follower took ${followerRounds} rounds`);
  const metrics = await follower.service.metrics();
  const rounds = metrics.find((family) => family.name === 'quorumlite_read_index_rounds_total');
  assert.equal(rounds?.type, 'counter');
  assert.equal(rounds?.samples[0]?.value, follower.runtime.readBarrierCounts().roundCount);
});

test('a batched read on a follower never misses a write acknowledged before it began, while other reads keep rounds in flight', async () => {
  const { leader, follower } = await startCluster(0);
  let acknowledged = 0;
  let stop = false;
  // Background readers keep a round in flight almost always, so the checked reads arrive during one.
  const background = Array.from({ length: 8 }, async () => {
    while (!stop) {
      const floor = acknowledged;
      const read = await linearizableCount(follower);
      assert.ok((read.count as number) >= floor, `a background read saw ${String(read.count)} rows after ${floor} were acknowledged`);
    }
  });
  try {
    for (let value = 1; value <= 40; value++) {
      await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', value)]), context);
      acknowledged = value;
      const reads = await Promise.all([linearizableCount(follower), linearizableCount(follower), linearizableCount(follower)]);
      for (const read of reads) assert.equal(read.count, value, 'a read that began after the write was acknowledged sees it');
    }
  } finally {
    stop = true;
    await Promise.all(background);
  }
  const counts = follower.runtime.readBarrierCounts();
  assert.ok(counts.roundCount < counts.readCount, `${counts.readCount} reads took ${counts.roundCount} rounds`);
});
