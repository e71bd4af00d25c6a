/**
 * A follower whose core has just left its leader (a campaign began in this turn) refuses a
 * linearizable read as having no leader (NO_LEADER: rqlite's 503 "leader not found"), not
 * as NOT_LEADER naming the leader it followed (a 301 to it). The runtime's own record of
 * the leader is as of its last Ready turn and still names the old one until the next turn
 * runs; the refusal must follow the core. Found by the iptables follower-read test: a cut
 * off follower's read round, asked again when its election timer fired in the same turn,
 * was answered with a redirect. A real NodeRuntime with a ManualScheduler; the test plays
 * the leader n2.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { raftMessage } from '../raft/helpers.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';
import { serviceRejection } from './requests.js';
import { followerOfNewTerm } from './roles.js';

test('a follower that began a campaign in this turn refuses a linearizable read with NO_LEADER, not a redirect to its old leader', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3'], { heartbeatMs: 50, electionTimeoutMs: 500 });
  try {
    const { runtime, scheduler, transport } = node;
    const { term } = await followerOfNewTerm(node);
    assert.equal(runtime.leaderId, 'n2', 'n1 follows n2');
    // The leader hands over to n1: its core campaigns at once, in this call.
    transport.deliver(raftMessage({ type: 'MsgTimeoutNow', from: 'n2', to: 'n1', term }));
    assert.equal(runtime.leaderId, 'n2', "the runtime's record is as of its last Ready turn");
    const error = await serviceRejection(runtime.readBarrier(1_000));
    assert.equal(error.code, 'NO_LEADER', `${error.code}: ${error.message}`);
    assert.equal(error.leaderApiAddress, null, 'no leader to redirect to');
    await scheduler.settle();
    assert.equal(runtime.leaderId, '', 'the next turn brings the runtime up to date');
    assert.equal((await serviceRejection(runtime.readBarrier(1_000))).code, 'NO_LEADER');
  } finally {
    await node.close();
  }
});
