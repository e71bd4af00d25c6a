/**
 * Linearizable reads served by followers (issue 18), real processes: a follower answers
 * `level=linearizable` itself (X-RQLITE-SERVED-BY names it) after asking the leader for
 * the read index, `redirect` still sends the client to the leader, `strong` is still read
 * by the leader; and across a kill -9 of the leader no follower read returns a count
 * below what was acknowledged before it was sent: it fails or waits, never stale.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { TestCluster } from './harness.js';
import { followerAnswersLinearizableReads, followerReadsAcrossLeaderKill, leaderReadsWithAFollowerStopped } from './follower-reads-scenario.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  const leader = await cluster.waitForLeader();
  const created = await leader.execute(['CREATE TABLE events (id INTEGER PRIMARY KEY)']);
  assert.equal(created.status, 200, created.text);
});

after(async () => {
  await cluster?.close();
});

test('a follower answers a linearizable read itself and sees every acknowledged write; redirect and strong go to the leader', () =>
  followerAnswersLinearizableReads(cluster));

test("a follower stopped (SIGSTOP): the leader's linearizable reads are still served and see every acknowledged write", () =>
  leaderReadsWithAFollowerStopped(cluster));

test('leader killed: follower linearizable reads fail or wait, never miss an acknowledged write; then they are served again', () =>
  followerReadsAcrossLeaderKill(cluster));
