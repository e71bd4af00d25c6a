/**
 * A follower whose connection from the leader closes (the leader exited or crashed) moves
 * its election clock to the end of the leader's lease instead of waiting out a whole
 * election timeout of silence. With an election timeout of 30 s and the jitter pinned so
 * that the lease end is this follower's timeout, a new leader within 15 s of the old one
 * leaving is only possible through that path (the plain timeout takes at least 30 s).
 * And a write a follower forwarded to a leader that went silent is abandoned as soon as the
 * follower stops seeing that leader.
 */
import { TestNodes } from './start-node.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/service/service.js';
import type { QuorumNode, QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, statement } from './requests.js';

const electionTimeoutMs = 30_000;
const testNodes = new TestNodes('disconnect', { heartbeatMs: 100, electionTimeoutMs });
after(() => testNodes.stopAll());

function startNode(overrides: Partial<QuorumNodeOptions>): Promise<QuorumNode> {
  return testNodes.start(overrides);
}

test('when the leader closes its connections, a follower campaigns at its lease end, not after a full election timeout', async () => {
  const first = await startNode({});
  await waitFor('the first node leads', () => (first.runtime.isLeader ? true : undefined));
  const join = { joinAddresses: [first.config.raftAdvertisedAddress] };
  // Jitter 0: this follower's timeout is exactly the lease end. The other's is nearly twice that.
  const eager = await startNode({ ...join, random: () => 0 });
  const patient = await startNode({ ...join, random: () => 0.99 });
  await waitFor('three voters', () => (first.runtime.confState().voters.length === 3 ? true : undefined));
  await waitFor('followers know the leader', () =>
    eager.runtime.leaderId === first.config.nodeId && patient.runtime.leaderId === first.config.nodeId ? true : undefined,
  );
  await first.stop({ transferLeadership: false });
  await waitFor('a new leader', () => (eager.runtime.isLeader ? true : undefined), electionTimeoutMs / 2);
  await waitFor('the other follower follows it', () => (patient.runtime.leaderId === eager.config.nodeId ? true : undefined), electionTimeoutMs / 2);
  assert.equal(patient.runtime.isLeader, false);
});

test('a write forwarded to a leader that goes silent is abandoned with UNAVAILABLE once an election starts, not held until its timeout', async () => {
  const quick = { heartbeatMs: 50, electionTimeoutMs: 500 };
  const leader = await startNode(quick);
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const join = { ...quick, joinAddresses: [leader.config.raftAdvertisedAddress] };
  const follower = await startNode(join);
  const other = await startNode(join);
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await waitFor('the follower knows the leader', () => (follower.runtime.leaderId === leader.config.nodeId ? true : undefined));
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);
  // Silent, as a hung process is: its connections stay open, every frame vanishes.
  for (const peer of [follower, other]) {
    leader.faults.isolate(peer.config.nodeId);
    peer.faults.isolate(leader.config.nodeId);
  }
  const writeTimeoutMs = 20_000;
  const answer = await follower.service.execute(executeRequest([statement("INSERT INTO t VALUES ('x')")], { timeoutMs: writeTimeoutMs }), context).then(
    () => new Error('the write should not have been acknowledged'),
    (error: unknown) => error,
  );
  assert.ok(answer instanceof ServiceError, String(answer));
  assert.equal(answer.code, 'UNAVAILABLE');
  assert.match(answer.message, /was lost while forwarding; retry/);
});

const context = { signal: new AbortController().signal };
