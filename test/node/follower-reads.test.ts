/**
 * Linearizable reads served by a follower (issue 18): the follower asks the leader for a
 * read index (ReadIndex), waits until it applied it, and reads its own database. Real
 * nodes in this process over TCP; partitions through the transport's fault switches
 * (frames silently dropped, as on a cut cable).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import type { QuorumNode, QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, serviceRejection, statement } from './requests.js';
import { TestNodes } from './start-node.js';

const context = { signal: new AbortController().signal };
const testNodes = new TestNodes('follower-reads');
after(() => testNodes.stopAll());

function startNode(overrides: Partial<QuorumNodeOptions>): Promise<QuorumNode> {
  return testNodes.start(overrides);
}

/** A leader and two followers that know it, with a table t. */
async function startCluster(
  timers: Partial<QuorumNodeOptions>,
  followerOverrides: Partial<QuorumNodeOptions> = {},
): Promise<{ leader: QuorumNode; follower: QuorumNode; other: QuorumNode }> {
  const leader = await startNode(timers);
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const join = { ...timers, joinAddresses: [leader.config.raftAdvertisedAddress] };
  const follower = await startNode({ ...join, ...followerOverrides });
  const other = await startNode(join);
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await waitFor('the followers know the leader', () =>
    follower.runtime.leaderId === leader.config.nodeId && other.runtime.leaderId === leader.config.nodeId ? true : undefined,
  );
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v INTEGER)')]), context);
  return { leader, follower, other };
}

const count = (level: 'linearizable' | 'strong', overrides = {}) => queryRequest('SELECT count(*) FROM t', { level, ...overrides });

function rowsOf(response: { results: readonly unknown[] }): unknown {
  return (response.results[0] as { rows?: unknown }).rows;
}

test('a follower serves a linearizable read itself, covering every write acknowledged before it; strong and redirect keep going to the leader', async () => {
  const { leader, follower } = await startCluster({ heartbeatMs: 50, electionTimeoutMs: 500 });
  for (let value = 1; value <= 20; value++) {
    await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', value)]), context);
    // Right after each acknowledgement: the follower may not have applied it yet, the read must still see it.
    const read = await follower.service.query(count('linearizable'), context);
    assert.deepEqual(rowsOf(read), [[value]]);
    assert.equal(read.servedBy, follower.config.raftAdvertisedAddress, 'served by the follower, not forwarded');
    assert.equal(read.raftIndex, null);
  }
  const strong = await follower.service.query(count('strong'), context);
  assert.equal(strong.servedBy, leader.config.raftAdvertisedAddress, 'strong is read by the leader, as in rqlite');
  const redirected = await serviceRejection(follower.service.query(count('linearizable', { forward: false }), context));
  assert.equal(redirected.code, 'NOT_LEADER', 'with redirect the client is sent to the leader');
});

test('follower reads are bounded: at pendingReadCountMax the next is refused at once; unanswered ones time out', async () => {
  // A long election timeout: the follower keeps believing in the leader it cannot reach.
  const { leader, follower } = await startCluster({ heartbeatMs: 100, electionTimeoutMs: 30_000 }, { pendingReadCountMax: 2 });
  leader.faults.isolate(follower.config.nodeId);
  follower.faults.isolate(leader.config.nodeId);
  const linearizableTimeoutMs = 1_500;
  const startedMs = Date.now();
  const pending = [1, 2].map(() => serviceRejection(follower.service.query(count('linearizable', { linearizableTimeoutMs }), context)));
  const refused = await serviceRejection(follower.service.query(count('linearizable', { linearizableTimeoutMs }), context));
  assert.equal(refused.code, 'UNAVAILABLE');
  assert.match(refused.message, /too many linearizable reads in flight \(2\)/);
  assert.ok(Date.now() - startedMs < linearizableTimeoutMs, 'the read past the bound is refused at once');
  for (const error of await Promise.all(pending)) {
    assert.equal(error.code, 'TIMEOUT');
    assert.match(error.message, /linearizable read not confirmed within 1500ms/);
  }
  leader.faults.heal();
  follower.faults.heal();
  await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (1)')]), context);
  const healed = await follower.service.query(count('linearizable'), context);
  assert.deepEqual(rowsOf(healed), [[1]]);
});

test('a follower read waiting on a leader that went silent fails cleanly once the follower gives that leader up', async () => {
  const { leader, follower, other } = await startCluster({ heartbeatMs: 50, electionTimeoutMs: 500 });
  await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (1)')]), context);
  for (const peer of [follower, other]) {
    leader.faults.isolate(peer.config.nodeId);
    peer.faults.isolate(leader.config.nodeId);
  }
  const linearizableTimeoutMs = 20_000;
  const startedMs = Date.now();
  const error = await serviceRejection(follower.service.query(count('linearizable', { linearizableTimeoutMs, timeoutMs: linearizableTimeoutMs }), context));
  assert.ok(Date.now() - startedMs < linearizableTimeoutMs / 2, `failed after ${Date.now() - startedMs} ms, not at its timeout`);
  assert.ok(['UNAVAILABLE', 'NO_LEADER'].includes(error.code), `${error.code}: ${error.message}`);
  // The majority elects a leader; the follower's reads then see everything acknowledged.
  const newLeader = await waitFor('a new leader', () => [follower, other].find((node) => node.runtime.isLeader));
  await newLeader.service.execute(executeRequest([statement('INSERT INTO t VALUES (2)')]), context);
  const reader = newLeader === follower ? other : follower;
  await waitFor('the reader knows the new leader', () => (reader.runtime.leaderId === newLeader.config.nodeId ? true : undefined));
  const read = await reader.service.query(count('linearizable'), context);
  assert.deepEqual(rowsOf(read), [[2]]);
  assert.equal(read.servedBy, reader.config.raftAdvertisedAddress);
});
