/**
 * ReadIndex batching on the leader: reads that arrive between two Ready turns (the
 * leader's own and followers' MsgReadIndex) share one heartbeat round, started by the
 * next Ready turn. A read is answered only with the commit index recorded when it arrived,
 * and only once a quorum acknowledged a round that started after it arrived.
 *
 * A read round asks only as many followers as a quorum needs (one of two on 3 nodes, two
 * of four on 5), those that answered rounds lately first; the tick's heartbeat goes to
 * every follower and confirms the reads of a round whose followers did not answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message, ReadState } from '../../src/raft/index.js';
import { TestCluster, decoder, encoder, raftCode } from './helpers.js';

function heartbeatsIn(messages: readonly Message[]): Message[] {
  return messages.filter((message) => message.type === 'MsgHeartbeat');
}

function contextsOf(messages: readonly Message[]): string[] {
  return messages.map((message) => decoder.decode(message.context));
}

/** Handles Readies and delivers until quiet, collecting every node's read states. */
function stabilizeCollectingReads(cluster: TestCluster): Map<string, ReadState[]> {
  const readStates = new Map<string, ReadState[]>();
  for (let round = 0; round < 100; round++) {
    let progressed = false;
    for (const id of cluster.nodes.keys()) {
      const ready = cluster.processReady(id);
      if (ready === undefined) continue;
      progressed = true;
      readStates.set(id, [...(readStates.get(id) ?? []), ...ready.readStates]);
    }
    if (cluster.deliverAll() > 0) progressed = true;
    if (!progressed) return readStates;
  }
  throw new Error('cluster did not settle');
}

function readContexts(readStates: readonly ReadState[] | undefined): string[] {
  return (readStates ?? []).map((readState) => decoder.decode(readState.context));
}

/** Delivers a heartbeat round held back earlier, the followers' answers to it, and returns the leader's next Ready. */
function deliverHeldRound(cluster: TestCluster, round: typeof cluster.queue): ReturnType<TestCluster['processReady']> {
  cluster.queue = round;
  cluster.deliverAll();
  cluster.processReady('2');
  cluster.processReady('3');
  cluster.deliverAll();
  return cluster.processReady('1');
}

function electedCluster(pendingReadCountMax = 16): TestCluster {
  const cluster = new TestCluster(['1', '2', '3'], { pendingReadCountMax });
  cluster.elect('1');
  cluster.stabilize();
  return cluster;
}

test('read batching: reads arriving between two Ready turns share one heartbeat round', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  const commit = leader.status().commit;
  for (const context of ['a', 'b', 'c']) leader.readIndex(encoder.encode(context));
  assert.equal(cluster.queue.length, 0, 'no heartbeat leaves before the Ready turn');
  const ready = cluster.processReady('1');
  const heartbeats = heartbeatsIn(ready?.messages ?? []);
  assert.deepEqual(
    heartbeats.map((message) => message.to),
    ['2'],
    'one heartbeat for the three reads, to the one follower a quorum needs',
  );
  assert.deepEqual(contextsOf(heartbeats), ['c'], 'the round carries the newest read');
  const readStates = stabilizeCollectingReads(cluster);
  assert.deepEqual(readContexts(readStates.get('1')), ['a', 'b', 'c']);
  for (const readState of readStates.get('1') ?? []) assert.equal(readState.index, commit);
});

test("read batching: a follower's MsgReadIndex and the leader's own read share one round", () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  cluster.node('2').raw.readIndexAnywhere(encoder.encode('f'));
  cluster.processReady('2');
  cluster.deliverAll();
  leader.readIndex(encoder.encode('l'));
  const heartbeats = heartbeatsIn(cluster.processReady('1')?.messages ?? []);
  assert.equal(heartbeats.length, 1, 'one round, not one per read');
  assert.deepEqual(contextsOf(heartbeats), ['l']);
  const readStates = stabilizeCollectingReads(cluster);
  assert.deepEqual(readContexts(readStates.get('1')), ['l']);
  assert.deepEqual(readContexts(readStates.get('2')), ['f']);
});

test('read batching: a read is never answered by a round that started before it arrived', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  const commitAtFirst = leader.status().commit;
  leader.readIndex(encoder.encode('first'));
  cluster.processReady('1');
  // The round of 'first' is in flight: hold its heartbeats while a write commits.
  const firstRound = cluster.queue;
  cluster.queue = [];
  assert.deepEqual(contextsOf(firstRound), ['first']);
  leader.propose(encoder.encode('write'));
  cluster.stabilize();
  const commitAtSecond = leader.status().commit;
  assert.equal(commitAtSecond, commitAtFirst + 1);
  leader.readIndex(encoder.encode('second'));
  // A quorum acknowledges the round of 'first', which started before 'second' arrived.
  const ready = deliverHeldRound(cluster, firstRound);
  assert.deepEqual(readContexts(ready?.readStates), ['first'], "the older round answers 'first' only");
  assert.equal(ready?.readStates[0]?.index, commitAtFirst);
  assert.deepEqual(contextsOf(heartbeatsIn(ready?.messages ?? [])), ['second'], "the same turn starts the round of 'second'");
  const readStates = stabilizeCollectingReads(cluster);
  assert.deepEqual(readContexts(readStates.get('1')), ['second']);
  assert.equal(readStates.get('1')?.[0]?.index, commitAtSecond, "'second' gets the commit index from when it arrived");
});

test('read batching: reads arriving while a round is in flight wait for it, then share the next round', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  cluster.processReady('1');
  const roundOfA = cluster.queue;
  cluster.queue = [];
  leader.readIndex(encoder.encode('b'));
  cluster.node('2').raw.readIndexAnywhere(encoder.encode('f'));
  cluster.processReady('2');
  cluster.deliverAll();
  leader.readIndex(encoder.encode('c'));
  assert.equal(leader.hasReady(), false, "no round starts while the round of 'a' is in flight");
  const ready = deliverHeldRound(cluster, roundOfA);
  assert.deepEqual(readContexts(ready?.readStates), ['a']);
  assert.deepEqual(contextsOf(heartbeatsIn(ready?.messages ?? [])), ['c'], 'one round for the three reads that waited');
  const readStates = stabilizeCollectingReads(cluster);
  assert.deepEqual(readContexts(readStates.get('1')), ['b', 'c']);
  assert.deepEqual(readContexts(readStates.get('2')), ['f']);
});

test('read batching: a lost round holds the reads behind it only until the next tick heartbeat', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  cluster.processReady('1');
  cluster.queue = []; // the round of 'a' is lost
  leader.readIndex(encoder.encode('b'));
  assert.equal(leader.hasReady(), false);
  leader.tick(); // heartbeatTicks is 1
  const heartbeats = heartbeatsIn(cluster.processReady('1')?.messages ?? []);
  assert.deepEqual(contextsOf(heartbeats), ['b', 'b']);
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['a', 'b']);
});

test('read batching: a tick heartbeat before the Ready turn carries the new reads, and no second round follows', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  leader.tick(); // heartbeatTicks is 1: a heartbeat round starts now, after 'a' arrived
  const heartbeats = heartbeatsIn(cluster.processReady('1')?.messages ?? []);
  assert.deepEqual(contextsOf(heartbeats), ['a', 'a'], 'one round only');
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['a']);
});

test('read batching: at pendingReadCountMax, reads are refused and the batch still shares one round', () => {
  const countMax = 4;
  const cluster = electedCluster(countMax);
  const leader = cluster.node('1').raw;
  cluster.node('2').raw.readIndexAnywhere(encoder.encode('f1'));
  cluster.processReady('2');
  cluster.deliverAll();
  for (const context of ['a', 'b', 'c']) leader.readIndex(encoder.encode(context));
  assert.equal(
    raftCode(() => leader.readIndex(encoder.encode('over'))),
    'READ_QUEUE_FULL',
    "the leader's own read past the bound",
  );
  cluster.node('3').raw.readIndexAnywhere(encoder.encode('f3'));
  cluster.processReady('3');
  cluster.deliverAll();
  const ready = cluster.processReady('1');
  const messages = ready?.messages ?? [];
  const refusals = messages.filter((message) => message.type === 'MsgReadIndexResp' && message.reject);
  assert.deepEqual(
    refusals.map((message) => [message.to, decoder.decode(message.context)]),
    [['3', 'f3']],
    "a follower's read past the bound is refused at once",
  );
  assert.deepEqual(contextsOf(heartbeatsIn(messages)), ['c'], 'the four reads at the bound share one round');
  const readStates = stabilizeCollectingReads(cluster);
  assert.deepEqual(readContexts(readStates.get('1')), ['a', 'b', 'c']);
  assert.deepEqual(readContexts(readStates.get('2')), ['f1']);
  assert.equal(
    raftCode(() => leader.readIndex(encoder.encode('again'))),
    'none',
    'the queue is free again',
  );
});

/** The followers a Ready's heartbeats went to, in order. */
function heartbeatTargets(ready: ReturnType<TestCluster['processReady']>): string[] {
  return heartbeatsIn(ready?.messages ?? []).map((message) => message.to);
}

test('read rounds: a round asked of a follower that stopped answering is confirmed by the tick, and the next round asks the one that answered', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  cluster.dropIf = (message) => message.to === '2' || message.from === '2';
  leader.readIndex(encoder.encode('a'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2'], 'no follower has answered a round yet: the first in order');
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), [], "'a' waits: its round went to the silent follower");
  leader.tick(); // heartbeatTicks is 1: the tick's heartbeat goes to every follower
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2', '3']);
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['a'], "3's answer to the tick's round confirms 'a'");
  leader.readIndex(encoder.encode('b'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['3'], 'the follower that answered is asked first');
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['b'], 'confirmed without a tick');
});

test('read rounds: the follower whose answer confirmed the last round is asked first; an answer that came after confirmation does not count', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  leader.tick(); // the tick's round goes to both followers
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2', '3']);
  cluster.deliverAll();
  cluster.processReady('3');
  cluster.processReady('2');
  // 3 answers first: its answer confirms 'a'; 2's comes after.
  cluster.queue.sort((left, right) => (left.from === '3' ? -1 : 0) - (right.from === '3' ? -1 : 0));
  assert.deepEqual(
    cluster.queue.map((message) => message.from),
    ['3', '2'],
  );
  cluster.deliverAll();
  assert.deepEqual(readContexts(cluster.processReady('1')?.readStates), ['a']);
  leader.readIndex(encoder.encode('b'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['3']);
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['b']);
});

test('read rounds: on 5 voters a round asks two followers, and one answer does not confirm it', () => {
  const cluster = new TestCluster(['1', '2', '3', '4', '5']);
  cluster.elect('1');
  cluster.stabilize();
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2', '3'], 'the leader and two followers are a quorum of 5');
  cluster.deliverAll();
  cluster.processReady('2');
  cluster.processReady('3');
  const answers = cluster.queue;
  assert.deepEqual(
    answers.map((message) => [message.type, message.from]),
    [
      ['MsgHeartbeatResp', '2'],
      ['MsgHeartbeatResp', '3'],
    ],
  );
  cluster.queue = [answers[0] as Message];
  cluster.deliverAll();
  assert.equal(leader.hasReady(), false, 'the leader and one follower are not a quorum of 5');
  cluster.queue = [answers[1] as Message];
  cluster.deliverAll();
  assert.deepEqual(readContexts(cluster.processReady('1')?.readStates), ['a']);
});

test('read rounds: a learner is never asked, and its answer to a tick does not count', () => {
  const cluster = new TestCluster(['1', '2', '3', '4'], {}, { voters: ['1', '2', '3'], learners: ['4'] });
  cluster.elect('1');
  cluster.stabilize();
  const leader = cluster.node('1').raw;
  cluster.dropIf = (message) => message.to === '2' || message.to === '3';
  leader.readIndex(encoder.encode('a'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2']);
  leader.tick();
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2', '3', '4'], "the tick's heartbeat reaches the learner too");
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), [], "the learner's answer is not a voter's");
  cluster.dropIf = () => false;
  leader.readIndex(encoder.encode('b'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), [], "a round is in flight ('a''s): 'b' waits for it");
  leader.tick();
  cluster.processReady('1');
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['a', 'b']);
});

test('read rounds: a hedge asks the voters the round in flight skipped, with its context, and either answer confirms it', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  assert.equal(leader.readRoundToHedge(), 0, 'no round in flight');
  leader.readIndex(encoder.encode('a'));
  leader.readIndex(encoder.encode('b'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2']);
  const round = leader.readRoundToHedge();
  assert.ok(round > 0, 'the round asked 2 only');
  cluster.queue = []; // 2 does not answer
  leader.hedgeReadRound(round);
  const hedge = heartbeatsIn(cluster.processReady('1')?.messages ?? []);
  assert.deepEqual(
    hedge.map((message) => [message.to, decoder.decode(message.context)]),
    [['3', 'b']],
    "the skipped voter, with the round's context",
  );
  assert.equal(leader.readRoundToHedge(), 0, 'the round has asked every voter now');
  leader.hedgeReadRound(round);
  assert.equal(leader.hasReady(), false, 'a second hedge sends nothing');
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['a', 'b'], "3's answer confirms both reads");
  assert.equal(leader.readRoundToHedge(), 0, 'nothing in flight once confirmed');
  leader.readIndex(encoder.encode('c'));
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['3'], 'the hedged follower answered: it is asked first now');
  const next = leader.readRoundToHedge();
  assert.ok(next > round, 'a new round, named anew');
  leader.hedgeReadRound(round);
  assert.equal(leader.hasReady(), false, "the older round's hedge does not hedge the new round early");
  leader.hedgeReadRound(next);
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2']);
});

test('read rounds: nothing to hedge after a tick round (it asked every follower), on a follower, or with no read waiting', () => {
  const cluster = electedCluster();
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  leader.tick();
  assert.deepEqual(heartbeatTargets(cluster.processReady('1')), ['2', '3']);
  assert.equal(leader.readRoundToHedge(), 0);
  assert.deepEqual(readContexts(stabilizeCollectingReads(cluster).get('1')), ['a']);
  const follower = cluster.node('2').raw;
  follower.readIndexAnywhere(encoder.encode('f'));
  assert.equal(follower.readRoundToHedge(), 0, 'a follower asks the leader; it has no round to hedge');
  follower.hedgeReadRound(1);
  assert.deepEqual(
    (cluster.processReady('2')?.messages ?? []).map((message) => message.type),
    ['MsgReadIndex'],
  );
});
