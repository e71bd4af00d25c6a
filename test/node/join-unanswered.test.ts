/**
 * The fault suite's finding J2: a joining node whose join answer never arrives (here: its
 * call times out while the leader still waits for it to catch up before promoting it)
 * used to give up and stop after its attempts, although the leader had added it and
 * went on to make it a voter: a dead voter, and a two-node cluster without a quorum.
 * The cluster decides a join, not the answer: a node that a leader replicates to stays up.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { startTestNode, type StartedTestNode } from './start-node.js';
import { waitFor } from '../cluster/harness.js';

async function execute(node: StartedTestNode, statements: unknown[]): Promise<{ status: number; text: string }> {
  const response = await fetch(`${node.baseUrl}/db/execute`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(statements),
    signal: AbortSignal.timeout(10_000),
  });
  return { status: response.status, text: await response.text() };
}

test('a joiner whose join answer is lost after the leader added it stays up, becomes a voter, and the cluster keeps its quorum (J2)', async () => {
  const started: StartedTestNode[] = [];
  try {
    // The leader checks a learner's progress once per heartbeat, so with 400 ms heartbeats
    // it promotes no sooner than 400 ms after adding it ...
    const leader = await startTestNode('j2-leader', { heartbeatMs: 400, electionTimeoutMs: 1000 });
    started.push(leader);
    await waitFor('the first node leads', () => (leader.node.runtime.isLeader ? true : undefined));
    // ... while the joiner waits 301 ms for an answer (promotionTimeoutMs + requestTimeoutMs)
    // and tries one round only: every join answer it waits for is lost.
    const joiner = await startTestNode('j2-joiner', {
      joinAddresses: [leader.node.config.raftAdvertisedAddress],
      joinAttemptCountMax: 1,
      requestTimeoutMs: 300,
      promotionTimeoutMs: 1,
      electionTimeoutMs: 1000,
    });
    started.push(joiner);
    const joinerId = joiner.node.config.nodeId;
    await waitFor('the leader made the joiner a voter', () => (leader.node.runtime.confState().voters.includes(joinerId) ? true : undefined));
    assert.ok(!joiner.node.runtime.stopped, 'the joiner is still running');
    // Two voters: this write commits only with the joiner's acknowledgement.
    const written = await execute(leader, ['CREATE TABLE t (id INTEGER PRIMARY KEY)', 'INSERT INTO t(id) VALUES (1)']);
    assert.equal(written.status, 200, written.text);
    const leaderApplied = leader.node.runtime.appliedIndex;
    await waitFor('the joiner applied the write', () => (joiner.node.runtime.appliedIndex >= leaderApplied ? true : undefined));
    assert.ok(joiner.node.runtime.confState().voters.includes(joinerId), "the joiner's own log makes it a voter");
  } finally {
    for (const { node, dataDirectory } of started.reverse()) {
      await node.stop({ transferLeadership: false }).catch(() => undefined);
      rmSync(dataDirectory, { recursive: true, force: true });
    }
  }
});
