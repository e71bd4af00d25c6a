import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Ready } from '../../src/raft/index.js';
import { TestCluster, decoder, encoder, raftCode, raftMessage } from './helpers.js';

/** Runs the cluster until it settles, collecting every Ready of `id`'s reads. */
function settleCollecting(cluster: TestCluster, id: string): { readStates: [string, number][]; failed: string[] } {
  const readStates: [string, number][] = [];
  const failed: string[] = [];
  const original = cluster.processReady.bind(cluster);
  cluster.processReady = (which: string): Ready | undefined => {
    const ready = original(which);
    if (which === id && ready !== undefined) {
      for (const read of ready.readStates) readStates.push([decoder.decode(read.context), read.index]);
      for (const context of ready.failedReads) failed.push(decoder.decode(context));
    }
    return ready;
  };
  cluster.stabilize();
  cluster.processReady = original;
  return { readStates, failed };
}

test('follower reads: a follower asks the leader, which answers with its commit index once a quorum confirmed it', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.node('1').raw.propose(encoder.encode('x'));
  cluster.stabilize();
  const commit = cluster.node('1').raw.status().commit;
  cluster.node('2').raw.readIndexAnywhere(encoder.encode('r1'));
  const sent = cluster.node('2').raw.ready();
  assert.deepEqual(
    sent.messages.map((message) => [message.type, message.to, decoder.decode(message.context)]),
    [['MsgReadIndex', '1', 'r1']],
  );
  cluster.queue.push(...sent.messages);
  cluster.node('2').raw.advance(sent);
  const { readStates, failed } = settleCollecting(cluster, '2');
  assert.deepEqual(readStates, [['r1', commit]]);
  assert.deepEqual(failed, []);
  assert.equal(cluster.node('1').raw.ready().readStates.length, 0, 'the leader keeps no read state of its own for it');
});

test('follower reads: not answered until a quorum of voters confirmed the leader (no answer from a lone leader)', () => {
  const cluster = new TestCluster(['1', '2', '3', '4', '5']);
  cluster.elect('1');
  // Heartbeats reach only the asking follower: leader + 2 is not a quorum of 5.
  cluster.dropIf = (message) => message.type === 'MsgHeartbeat' && message.to !== '2';
  cluster.node('2').raw.readIndexAnywhere(encoder.encode('r'));
  let { readStates } = settleCollecting(cluster, '2');
  assert.deepEqual(readStates, []);
  cluster.dropIf = () => false;
  cluster.node('1').raw.tick(); // the next heartbeat round carries the pending read's context
  for (let i = 0; i < 3; i++) cluster.node('1').raw.tick();
  ({ readStates } = settleCollecting(cluster, '2'));
  assert.deepEqual(
    readStates.map(([context]) => context),
    ['r'],
  );
});

test('follower reads: a new leader answers only after committing an entry of its term', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.node('1').raw.propose(encoder.encode('x'));
  cluster.stabilize();
  const committed = cluster.node('1').raw.status().commit;
  cluster.node('2').raw.campaign();
  // Hold the new leader's appends so its empty entry of the term stays uncommitted.
  cluster.dropIf = (message) => message.type === 'MsgApp' && message.from === '2';
  cluster.stabilize();
  assert.equal(cluster.node('2').raw.status().role, 'leader');
  cluster.node('2').raw.tick(); // a heartbeat tells node 3 who leads
  cluster.stabilize();
  cluster.node('3').raw.readIndexAnywhere(encoder.encode('r'));
  let { readStates } = settleCollecting(cluster, '3');
  assert.deepEqual(readStates, [], 'deferred until the term commits');
  cluster.dropIf = () => false;
  cluster.node('2').raw.tick(); // the answer to the heartbeat lets the paused appends resume
  ({ readStates } = settleCollecting(cluster, '3'));
  assert.equal(readStates.length, 1);
  assert.ok((readStates[0]?.[1] ?? 0) > committed, 'the answer covers the new term entry');
});

test('follower reads: fail when the leader changes or the follower campaigns; lost requests are left to the caller', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.dropIf = (message) => message.type === 'MsgReadIndex';
  cluster.node('3').raw.readIndexAnywhere(encoder.encode('lost'));
  let { readStates, failed } = settleCollecting(cluster, '3');
  assert.deepEqual([readStates, failed], [[], []], 'a lost request is neither answered nor failed by the core');
  cluster.dropIf = () => false;
  cluster.node('2').raw.campaign(); // a new term: node 3 follows 2 now
  ({ readStates, failed } = settleCollecting(cluster, '3'));
  assert.equal(cluster.node('3').raw.status().leaderId, '2');
  assert.deepEqual(failed, ['lost']);

  cluster.dropIf = (message) => message.type === 'MsgReadIndex';
  cluster.node('3').raw.readIndexAnywhere(encoder.encode('campaign'));
  cluster.dropIf = () => true;
  cluster.node('3').raw.campaign(); // pre-vote (testConfig) or vote: the leader is given up either way
  ({ failed } = settleCollecting(cluster, '3'));
  assert.deepEqual(failed, ['campaign']);
});

test('follower reads: bounded by pendingReadCountMax on the follower and on the leader', () => {
  const cluster = new TestCluster(['1', '2', '3'], { pendingReadCountMax: 2 });
  cluster.elect('1');
  const follower = cluster.node('2').raw;
  // Unanswered (the runtime would have timed them out): they must not block later reads.
  cluster.dropIf = (message) => message.type === 'MsgReadIndex';
  follower.readIndexAnywhere(encoder.encode('a'));
  follower.readIndexAnywhere(encoder.encode('b'));
  assert.deepEqual(cluster.processReady('2')?.failedReads, [], 'at the bound: nothing dropped yet');
  cluster.deliverAll();
  cluster.dropIf = () => false;
  follower.readIndexAnywhere(encoder.encode('c'));
  const { readStates, failed } = settleCollecting(cluster, '2');
  assert.deepEqual(failed, ['a'], 'past the bound the oldest forwarded read is dropped');
  assert.deepEqual(
    readStates.map(([context]) => context),
    ['c'],
  );

  // The leader's queue is full (its own reads, answers not yet taken): it refuses a follower's read at once.
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('own-1'));
  leader.readIndex(encoder.encode('own-2'));
  cluster.node('3').raw.readIndexAnywhere(encoder.encode('refused'));
  const asked = cluster.node('3').raw.ready();
  cluster.node('3').raw.advance(asked);
  for (const message of asked.messages) leader.step(message);
  const answer = leader.ready();
  const refusal = answer.messages.find((message) => message.type === 'MsgReadIndexResp');
  assert.equal(refusal?.reject, true);
  leader.advance(answer);
  cluster.node('3').raw.step(refusal as NonNullable<typeof refusal>);
  assert.deepEqual(
    cluster
      .node('3')
      .raw.ready()
      .failedReads.map((context) => decoder.decode(context)),
    ['refused'],
  );
});

test('follower reads: refused without a known leader; a learner may ask', () => {
  const lonely = new TestCluster(['1', '2', '3']);
  assert.equal(
    raftCode(() => lonely.node('2').raw.readIndexAnywhere(encoder.encode('r'))),
    'NOT_LEADER',
  );
  assert.equal(
    raftCode(() => lonely.node('2').raw.readIndexAnywhere(new Uint8Array(0))),
    'INVALID_ARGUMENT',
  );
  const cluster = new TestCluster(['1', '2', '3'], {}, { voters: ['1', '2'], learners: ['3'] });
  cluster.elect('1');
  cluster.node('3').raw.readIndexAnywhere(encoder.encode('learner'));
  const { readStates } = settleCollecting(cluster, '3');
  assert.deepEqual(
    readStates.map(([context]) => context),
    ['learner'],
  );
});

test('follower reads: on the leader, readIndexAnywhere is readIndex', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.node('1').raw.readIndexAnywhere(encoder.encode('own'));
  const { readStates } = settleCollecting(cluster, '1');
  assert.deepEqual(
    readStates.map(([context]) => context),
    ['own'],
  );
});

test('follower reads: a node that is not the leader refuses a MsgReadIndex sent to it', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const third = cluster.node('3').raw;
  third.step(raftMessage({ type: 'MsgReadIndex', from: '2', to: '3', term: third.status().term, context: encoder.encode('wrong') }));
  const ready = third.ready();
  assert.deepEqual(
    ready.messages.map((message) => [message.type, message.to, message.reject]),
    [['MsgReadIndexResp', '2', true]],
  );
});
