/**
 * A follower whose data directory was wiped comes back under the same id. The leader
 * still believes it has everything up to its old match index, so the follower's
 * rejections (at indexes below that match) look stale and are ignored: without help it
 * never catches up. forgetFollowerLog(id) drops that belief and replicates from scratch.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftError, RawNode } from '../../src/raft/index.js';
import { TestCluster, encoder, testConfig } from './helpers.js';

function clusterWithHistory(): TestCluster {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  for (let i = 0; i < 20; i++) {
    cluster.node('1').raw.propose(encoder.encode(`value-${i}`));
    cluster.stabilize();
  }
  return cluster;
}

function wipe(cluster: TestCluster, id: string): void {
  const storage = new MemoryStorage({ confState: { voters: ['1', '2', '3'], learners: [] } });
  cluster.nodes.set(id, { id, storage, raw: new RawNode(testConfig(id, storage)), applied: [] });
}

function heartbeatRounds(cluster: TestCluster, rounds: number): void {
  for (let round = 0; round < rounds; round++) {
    cluster.node('1').raw.tick();
    cluster.stabilize();
  }
}

test('wiped follower: without forgetFollowerLog the leader ignores its rejections and it stays behind', () => {
  const cluster = clusterWithHistory();
  const leaderLast = cluster.node('1').raw.status().lastIndex;
  wipe(cluster, '3');
  heartbeatRounds(cluster, 20);
  assert.ok(cluster.node('3').raw.status().lastIndex < leaderLast, 'the wiped follower did not catch up by itself');
});

test('wiped follower: after forgetFollowerLog it receives the whole log and applies it', () => {
  const cluster = clusterWithHistory();
  const leaderLast = cluster.node('1').raw.status().lastIndex;
  wipe(cluster, '3');
  heartbeatRounds(cluster, 2);
  cluster.node('1').raw.forgetFollowerLog('3');
  heartbeatRounds(cluster, 20);
  assert.equal(cluster.node('3').raw.status().lastIndex, leaderLast);
  assert.equal(cluster.node('3').raw.status().commit, leaderLast);
  const applied = cluster
    .node('3')
    .applied.filter((entry) => entry.data.length > 0)
    .map((entry) => new TextDecoder().decode(entry.data));
  assert.deepEqual(
    applied,
    Array.from({ length: 20 }, (_, i) => `value-${i}`),
  );
  // The leader's record for it is rebuilt from the follower's acknowledgements.
  assert.equal(cluster.node('1').raw.status().progress?.['3']?.match, leaderLast);
});

test("wiped follower: forgetFollowerLog is the leader's, for another member", () => {
  const cluster = clusterWithHistory();
  const code = (fn: () => void): string => {
    try {
      fn();
    } catch (error) {
      return error instanceof RaftError ? error.code : 'other';
    }
    return 'none';
  };
  assert.equal(
    code(() => cluster.node('2').raw.forgetFollowerLog('3')),
    'NOT_LEADER',
  );
  assert.equal(
    code(() => cluster.node('1').raw.forgetFollowerLog('1')),
    'INVALID_ARGUMENT',
  );
  assert.equal(
    code(() => cluster.node('1').raw.forgetFollowerLog('9')),
    'INVALID_ARGUMENT',
  );
});
