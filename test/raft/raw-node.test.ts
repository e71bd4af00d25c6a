import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftError, RawNode, encodeConfChange } from '../../src/raft/index.js';
import type { Message } from '../../src/raft/index.js';
import { TestCluster, decoder, encoder, entry, raftCode, testConfig } from './helpers.js';

function singleNode(overrides = {}): { node: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ confState: { voters: ['1'], learners: [] } });
  return { node: new RawNode(testConfig('1', storage, overrides)), storage };
}

function persistAndAdvance(node: RawNode, storage: MemoryStorage) {
  const ready = node.ready();
  if (ready.snapshot !== undefined) storage.applySnapshot(ready.snapshot);
  storage.append(ready.entries);
  if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
  node.advance(ready);
  return ready;
}

test('raw node: a one-node cluster elects itself and commits only after persisting', () => {
  const { node, storage } = singleNode();
  node.campaign();
  assert.equal(node.status().role, 'leader');
  const first = persistAndAdvance(node, storage);
  assert.equal(first.entries.length, 1, 'the empty entry of the new term');
  assert.equal(first.hardState?.commit, 1, 'nothing new is committed before the leader persisted it');
  assert.equal(first.mustSync, true);
  const second = persistAndAdvance(node, storage);
  assert.deepEqual(
    second.committedEntries.map((e) => e.index),
    [2],
  );
  const { index, term } = node.propose(encoder.encode('x'));
  assert.deepEqual({ index, term }, { index: 3, term: 2 });
  persistAndAdvance(node, storage);
  const applied = persistAndAdvance(node, storage);
  assert.deepEqual(
    applied.committedEntries.map((e) => decoder.decode(e.data)),
    ['x'],
  );
  assert.equal(applied.mustSync, false, 'a commit-only change needs no fsync');
  assert.equal(node.hasReady(), false);
});

test('raw node: every Ready has the same fields, unchanged ones undefined', () => {
  // One shape for every Ready: built with conditional spreads it was slow to build on
  // Node 20 (V8 11.3), every turn of every node (bench/README.md, "A Ready built by spreads").
  const { node, storage } = singleNode();
  node.campaign();
  const fields = ['softState', 'hardState', 'entries', 'snapshot', 'committedEntries', 'messages', 'readStates', 'failedReads', 'mustSync'];
  const first = persistAndAdvance(node, storage);
  assert.notEqual(first.softState, undefined, 'the election changed the soft state');
  assert.deepEqual(Object.keys(first), fields);
  persistAndAdvance(node, storage);
  node.propose(encoder.encode('x'));
  const later = persistAndAdvance(node, storage);
  assert.equal(later.softState, undefined, 'nothing changed the soft state');
  assert.equal(later.snapshot, undefined);
  assert.deepEqual(Object.keys(later), fields);
});

test('raw node: ready/advance contract is enforced', () => {
  const { node, storage } = singleNode();
  node.campaign();
  const ready = node.ready();
  assert.equal(node.hasReady(), false, 'nothing new is offered while a Ready is outstanding');
  assert.throws(() => node.ready(), /before advance/);
  assert.throws(() => node.advance({ ...ready }), /the Ready returned by the last ready/);
  storage.append(ready.entries);
  node.advance(ready);
  assert.equal(node.hasReady(), true);
});

test('raw node: MsgApp batches entries up to messageBytesMax', () => {
  // Each entry is 100 data bytes + 16 overhead = 116; 2 fit in 232, 3 (348) do not.
  const cluster = new TestCluster(['1', '2'], { messageBytesMax: 232 });
  cluster.elect('1');
  for (let i = 0; i < 5; i++) cluster.node('1').raw.propose(new Uint8Array(100));
  cluster.processReady('1');
  const appends = cluster.queue.filter((m) => m.type === 'MsgApp');
  assert.deepEqual(
    appends.map((m) => m.entries.length),
    [2, 2, 1],
  );
  cluster.stabilize();
  // The last commit reaches the follower with the leader's next tick (no empty append of its own).
  cluster.node('1').raw.tick();
  cluster.stabilize();
  assert.equal(cluster.node('2').raw.status().commit, cluster.node('1').raw.status().lastIndex);
});

test('raw node: at most inflightMessageCountMax appends are in flight to a follower', () => {
  const cluster = new TestCluster(['1', '2', '3'], { inflightMessageCountMax: 2, messageBytesMax: 1 });
  cluster.elect('1');
  const leader = cluster.node('1');
  for (let i = 0; i < 5; i++) leader.raw.propose(encoder.encode(`e${i}`));
  cluster.processReady('1');
  const toTwo = cluster.queue.filter((m) => m.to === '2' && m.type === 'MsgApp');
  assert.equal(toTwo.length, 2, 'the window of two is full; the rest waits');
  assert.equal(leader.raw.status().progress['2']?.inflightMessageCount, 2);
  // One acknowledgement frees one slot and lets exactly one more append go out.
  const first = toTwo[0] as Message;
  cluster.queue = [];
  leader.raw.step({ ...first, type: 'MsgAppResp', from: '2', to: '1', entries: [], index: first.index + 1 });
  cluster.processReady('1');
  assert.equal(cluster.queue.filter((m) => m.to === '2' && m.type === 'MsgApp').length, 1);
});

test('raw node: proposals beyond uncommittedEntriesBytesMax are dropped until entries commit', () => {
  const cluster = new TestCluster(['1', '2', '3'], { uncommittedEntriesBytesMax: 30 });
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  cluster.dropIf = () => true;
  for (let i = 0; i < 3; i++) leader.propose(new Uint8Array(10)); // payload bytes count: exactly at the bound
  assert.equal(
    raftCode(() => leader.propose(new Uint8Array(10))),
    'PROPOSAL_DROPPED',
  );
  cluster.dropIf = () => false;
  cluster.stabilize();
  cluster.stabilize();
  assert.equal(
    raftCode(() => leader.propose(new Uint8Array(10))),
    'none',
  );
});

test('raw node: a single proposal larger than the bound is accepted when nothing is uncommitted', () => {
  const cluster = new TestCluster(['1', '2', '3'], { uncommittedEntriesBytesMax: 10 });
  cluster.elect('1');
  assert.equal(
    raftCode(() => cluster.node('1').raw.propose(new Uint8Array(100))),
    'none',
  );
  assert.equal(
    raftCode(() => cluster.node('1').raw.propose(new Uint8Array(1))),
    'PROPOSAL_DROPPED',
  );
});

test('raw node: empty proposals never count toward the uncommitted bound', () => {
  const cluster = new TestCluster(['1', '2', '3'], { uncommittedEntriesBytesMax: 1 });
  cluster.elect('1');
  cluster.dropIf = () => true;
  for (let i = 0; i < 100; i++) cluster.node('1').raw.propose(new Uint8Array(0));
  assert.equal(
    raftCode(() => cluster.node('1').raw.propose(new Uint8Array(1))),
    'none',
  );
  assert.equal(
    raftCode(() => cluster.node('1').raw.propose(new Uint8Array(1))),
    'PROPOSAL_DROPPED',
  );
});

test('raw node: at most inflightBytesMax of entries are in flight to a follower', () => {
  // 100-byte payloads are 116 bytes each with overhead; one per message; the window is
  // full once 2 * 116 >= 232 bytes are out.
  const cluster = new TestCluster(['1', '2'], { messageBytesMax: 116, inflightBytesMax: 232 });
  cluster.elect('1');
  for (let i = 0; i < 5; i++) cluster.node('1').raw.propose(new Uint8Array(100));
  cluster.processReady('1');
  assert.equal(cluster.queue.filter((m) => m.type === 'MsgApp').length, 2);
});

test('raw node: a runtime that stops calling ready() gets at most queuedMessageCountMax messages', () => {
  const cluster = new TestCluster(['1', '2', '3'], { queuedMessageCountMax: 5 });
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  for (let i = 0; i < 100; i++) leader.tick(); // two heartbeats a tick
  const ready = leader.ready();
  assert.equal(ready.messages.length, 5, 'exactly at the bound');
  leader.advance(ready);
  leader.tick();
  assert.equal(leader.ready().messages.length, 2, 'the queue is free again after ready()');
});

test('raw node: answered reads count toward pendingReadCountMax until ready() takes them', () => {
  const cluster = new TestCluster(['1'], { pendingReadCountMax: 2 });
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('a'));
  leader.readIndex(encoder.encode('b'));
  assert.equal(
    raftCode(() => leader.readIndex(encoder.encode('c'))),
    'READ_QUEUE_FULL',
  );
  const ready = cluster.processReady('1');
  assert.equal(ready?.readStates.length, 2);
  assert.equal(
    raftCode(() => leader.readIndex(encoder.encode('c'))),
    'none',
  );
});

test('raw node: committed entries per Ready are bounded by committedBytesPerReadyMax', () => {
  const cluster = new TestCluster(['1'], { committedBytesPerReadyMax: 52 });
  cluster.elect('1');
  const node = cluster.node('1');
  for (let i = 0; i < 5; i++) node.raw.propose(new Uint8Array(10)); // 26 bytes each: two fit exactly
  const sizes: number[] = [];
  for (let round = 0; round < 10 && node.raw.hasReady(); round++) {
    const ready = cluster.processReady('1');
    if (ready !== undefined && ready.committedEntries.length > 0) sizes.push(ready.committedEntries.length);
  }
  assert.deepEqual(sizes, [2, 2, 1]);
});

test('raw node: malformed, foreign and stale messages are ignored', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const follower = cluster.node('2').raw;
  const before = JSON.stringify(follower.status());
  const valid: Message = {
    type: 'MsgApp',
    from: '1',
    to: '2',
    term: 2,
    logTerm: 2,
    index: 2,
    entries: [],
    commit: 2,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  };
  const garbage: unknown[] = [
    null,
    { ...valid, type: 'MsgBogus' },
    { ...valid, term: -1 },
    { ...valid, term: 1.5 },
    { ...valid, context: 'x' },
    { ...valid, entries: undefined },
    { ...valid, type: 'MsgSnap' },
    { ...valid, to: '3' },
    { ...valid, from: '2' },
    { ...valid, term: 1, entries: [entry(3, 1)] },
    { ...valid, entries: [entry(4, 2)] }, // not contiguous with index 2
    { ...valid, entries: [entry(3, 9)] }, // from a later term than the message
    { ...valid, entries: [{ ...entry(3, 2), data: [1, 2] }] },
    { ...valid, entries: [{ ...entry(3, 2), type: 'other' }] },
    { ...valid, entries: [null] },
    { ...valid, type: 'MsgSnap', snapshot: { metadata: { index: 9, term: 2 }, data: new Uint8Array(0) } },
    { ...valid, type: 'MsgSnap', snapshot: { metadata: { index: 9, term: 2, confState: { voters: [], learners: [] } }, data: 'x' } },
  ];
  for (const message of garbage) follower.step(message as Message);
  assert.equal(JSON.stringify(follower.status()), before);
});

test('raw node: a restarted node keeps its term, vote and log and does not vote twice', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.node('1').raw.propose(encoder.encode('kept'));
  cluster.stabilize();
  const node = cluster.node('2');
  const status = node.raw.status();
  node.raw = new RawNode(testConfig('2', node.storage, { applied: status.applied }));
  const after = node.raw.status();
  assert.equal(after.term, status.term);
  assert.equal(after.vote, '1');
  assert.equal(after.lastIndex, status.lastIndex);
  assert.equal(after.commit, status.commit);
  node.raw.step({
    type: 'MsgVote',
    from: '3',
    to: '2',
    term: status.term,
    logTerm: 9,
    index: 99,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  });
  const ready = node.raw.ready();
  assert.deepEqual(
    ready.messages.map((m) => [m.type, m.reject]),
    [['MsgVoteResp', true]],
    'already voted for 1 in this term',
  );
});

test('raw node: membership takes effect on append and reverts when the entry is truncated', () => {
  const storage = new MemoryStorage({ confState: { voters: ['1', '2', '3'], learners: [] } });
  const follower = new RawNode(testConfig('2', storage));
  const base = { entries: [], commit: 1, reject: false, rejectHint: 0, context: new Uint8Array(0) } as const;
  const change = encodeConfChange({ type: 'add-learner', nodeId: '4', context: new Uint8Array(0) });
  follower.step({
    ...base,
    type: 'MsgApp',
    from: '1',
    to: '2',
    term: 2,
    logTerm: 1,
    index: 1,
    entries: [entry(2, 2), { index: 3, term: 2, type: 'conf-change', data: change }],
  });
  assert.deepEqual(follower.confState(), { voters: ['1', '2', '3'], learners: ['4'] });
  assert.deepEqual(follower.confStateAt(2), { voters: ['1', '2', '3'], learners: [] });
  // A new leader of term 3 never had index 3: it overwrites it, and the change reverts.
  follower.step({ ...base, type: 'MsgApp', from: '3', to: '2', term: 3, logTerm: 2, index: 2, entries: [entry(3, 3)] });
  assert.deepEqual(follower.confState(), { voters: ['1', '2', '3'], learners: [] });
  assert.equal(follower.status().lastIndex, 3);
});

test('raw node: confStateAt answers for any index still in the log, after changes are applied', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const leader = cluster.node('1');
  for (let i = 0; i < 5; i++) leader.raw.propose(encoder.encode(`v${i}`));
  cluster.stabilize();
  const { index } = leader.raw.proposeConfChange({ type: 'add-learner', nodeId: '4', context: new Uint8Array(0) });
  cluster.stabilize();
  for (let i = 0; i < 5; i++) leader.raw.propose(encoder.encode(`w${i}`));
  cluster.stabilize();
  assert.ok(leader.raw.status().applied > index + 4);
  // A runtime compacting to applied - trailing entries asks about an index before the change.
  assert.deepEqual(leader.raw.confStateAt(index - 1), { voters: ['1', '2', '3'], learners: [] });
  assert.deepEqual(leader.raw.confStateAt(index), { voters: ['1', '2', '3'], learners: ['4'] });
  assert.deepEqual(leader.raw.confStateAt(1), { voters: ['1', '2', '3'], learners: [] });
  leader.storage.createSnapshot(index + 2, leader.raw.confStateAt(index + 2), new Uint8Array(0));
  leader.storage.compact(index + 2);
  leader.raw.propose(encoder.encode('after compaction'));
  cluster.stabilize();
  assert.throws(() => leader.raw.confStateAt(index - 1), /predates the log start/);
  assert.deepEqual(leader.raw.confStateAt(index + 2), { voters: ['1', '2', '3'], learners: ['4'] });
});

test('raw node: a restarted node rebuilds membership from the snapshot plus conf entries in its log', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.node('1').raw.proposeConfChange({ type: 'add-learner', nodeId: '4', context: new Uint8Array(0) });
  cluster.stabilize();
  const node = cluster.node('3');
  node.raw = new RawNode(testConfig('3', node.storage, { applied: 0 }));
  assert.deepEqual(node.raw.confState(), { voters: ['1', '2', '3'], learners: ['4'] });
});

test('raw node: a leader counts heartbeats toward commit only up to each follower match', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  cluster.dropIf = (m) => m.to === '3';
  cluster.node('1').raw.propose(encoder.encode('a'));
  cluster.stabilize();
  for (let i = 0; i < 1; i++) cluster.node('1').raw.tick();
  cluster.processReady('1');
  const heartbeats = cluster.queue.filter((m) => m.type === 'MsgHeartbeat');
  const commit = cluster.node('1').raw.status().commit;
  assert.deepEqual(
    heartbeats.map((m) => [m.to, m.commit]),
    [
      ['2', commit],
      ['3', 2],
    ],
    'follower 3 only matched index 2, so it may only learn commit 2',
  );
});

test('raw node: follower-side API calls refuse with NOT_LEADER and a leader hint', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const follower = cluster.node('2').raw;
  for (const call of [
    () => follower.propose(encoder.encode('x')),
    () => follower.proposeConfChange({ type: 'add-voter', nodeId: '9', context: new Uint8Array(0) }),
    () => follower.readIndex(encoder.encode('r')),
    () => follower.transferLeadership('3'),
    () => follower.stepDown(),
  ]) {
    try {
      call();
      assert.fail('expected NOT_LEADER');
    } catch (error) {
      assert.ok(error instanceof RaftError);
      assert.equal(error.code, 'NOT_LEADER');
      assert.equal(error.leaderId, '1');
    }
  }
});

test('raw node: a leader may send MsgApp before persisting; it counts itself only after advance', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const leader = cluster.node('1');
  leader.raw.propose(encoder.encode('early'));
  const ready = leader.raw.ready();
  assert.equal(ready.hardState, undefined, 'term and vote unchanged: MsgApp may go out before the persist');
  // Send first; only follower 2 answers, while the leader's own write is still in progress.
  const append = ready.messages.find((m) => m.to === '2' && m.type === 'MsgApp');
  assert.ok(append !== undefined);
  cluster.node('2').raw.step(append);
  cluster.processReady('2');
  const answer = cluster.queue.find((m) => m.type === 'MsgAppResp' && m.from === '2');
  assert.ok(answer !== undefined);
  leader.raw.step(answer);
  const index = append.entries[append.entries.length - 1]?.index ?? 0;
  assert.ok(leader.raw.status().commit < index, 'one follower alone is not a majority of three');
  leader.storage.append(ready.entries);
  leader.raw.advance(ready);
  assert.equal(leader.raw.status().commit, index, 'leader (now durable) + follower 2 are a majority');
});

test('raw node: with leases, a restarted node ignores votes for an election timeout (no stale lease read)', () => {
  // Five voters, no jitter (timeouts 19 ticks) so only explicit campaigns happen.
  const cluster = new TestCluster(['1', '2', '3', '4', '5'], {
    checkQuorum: true,
    preVote: true,
    readOnly: 'lease',
    leaseDriftTicks: 1,
    random: () => 0.99,
  });
  const tickAll = (ids: string[], count: number) => {
    for (let i = 0; i < count; i++) for (const id of ids) cluster.node(id).raw.tick();
  };
  tickAll(['1', '2', '3', '4', '5'], 10); // past every node's startup quiet
  cluster.elect('1');
  // 4 and 5 are cut off from 1; 2 and 3 acknowledge a heartbeat: 1 holds the lease.
  const cut = (a: string, b: string) => (['4', '5'].includes(a) && ['1', '2'].includes(b)) || (['4', '5'].includes(b) && ['1', '2'].includes(a));
  cluster.dropIf = (m) => cut(m.from, m.to);
  tickAll(['1'], 1);
  cluster.stabilize();
  // 3 crashes right after acknowledging and restarts at once; 1 is now cut off from 3 too.
  const three = cluster.node('3');
  three.raw = new RawNode(
    testConfig('3', three.storage, {
      applied: three.raw.status().applied,
      checkQuorum: true,
      preVote: true,
      readOnly: 'lease',
      random: () => 0.99,
    }),
  );
  cluster.dropIf = (m) => cut(m.from, m.to) || (m.from === '1') !== (m.to === '1');
  tickAll(['4', '5'], 10); // 4 and 5 have not heard from a leader for an election timeout
  cluster.node('4').raw.campaign();
  cluster.stabilize();
  assert.notEqual(cluster.node('4').raw.status().role, 'leader', '3 must not help elect 4 while 1 may hold a lease');
  // 1's lease is still valid: its answer is the true commit index.
  const leader = cluster.node('1').raw;
  leader.readIndex(encoder.encode('r'));
  const ready = cluster.processReady('1');
  const highestCommit = Math.max(...['2', '3', '4', '5'].map((id) => cluster.node(id).raw.status().commit));
  assert.deepEqual(
    ready?.readStates.map((r) => r.index),
    [leader.status().commit],
  );
  assert.ok(leader.status().commit >= highestCommit);
});

test('raw node: etcd-style bootstrap (conf-change entries at 1..n) works, and a joiner replays them', () => {
  const ids = ['1', '2', '3'];
  const bootstrap = ids.map((id, i) => ({
    index: i + 1,
    term: 1,
    type: 'conf-change' as const,
    data: encodeConfChange({ type: 'add-voter', nodeId: id, context: new Uint8Array(0) }),
  }));
  const cluster = new TestCluster(ids);
  for (const id of [...ids, '4']) {
    const storage = new MemoryStorage(); // empty base: index 0, no membership
    if (id !== '4') {
      storage.append(bootstrap);
      storage.setHardState({ term: 1, vote: '', commit: bootstrap.length });
    }
    cluster.nodes.set(id, { id, storage, raw: new RawNode(testConfig(id, storage)), applied: [] });
  }
  assert.deepEqual(cluster.node('2').raw.confState(), { voters: ids, learners: [] });
  assert.deepEqual(cluster.node('4').raw.confState(), { voters: [], learners: [] });
  cluster.elect('1');
  cluster.node('1').raw.proposeConfChange({ type: 'add-learner', nodeId: '4', context: new Uint8Array(0) });
  cluster.stabilize();
  assert.deepEqual(cluster.node('4').raw.confState(), { voters: ids, learners: ['4'] });
  assert.equal(cluster.node('4').raw.status().commit, cluster.node('1').raw.status().commit);
  assert.equal(cluster.node('4').applied[0]?.index, 1, 'the joiner applies from the first bootstrap entry');
});

test('raw node: a failed snapshot is retried after the follower answers a heartbeat', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const leader = cluster.node('1');
  cluster.dropIf = (m) => m.to === '3' || m.from === '3';
  for (let i = 0; i < 3; i++) leader.raw.propose(encoder.encode(`v${i}`));
  cluster.stabilize();
  const applied = leader.raw.status().applied;
  leader.storage.createSnapshot(applied, leader.raw.confStateAt(applied), new Uint8Array(0));
  leader.storage.compact(applied);
  cluster.dropIf = () => false;
  leader.raw.tick(); // heartbeat; 3 answers; the leader probes, learns 3 is behind, and needs a snapshot
  cluster.processReady('1');
  cluster.deliverAll();
  cluster.processReady('3');
  cluster.deliverAll();
  cluster.processReady('1');
  cluster.deliverAll();
  cluster.processReady('3');
  const snapshots = () => cluster.queue.filter((m) => m.type === 'MsgSnap' && m.to === '3').length;
  cluster.deliverAll();
  cluster.processReady('1');
  assert.equal(snapshots(), 1, 'one MsgSnap goes out');
  assert.equal(leader.raw.status().progress['3']?.state, 'snapshot');
  cluster.queue = []; // the transfer fails
  leader.raw.reportSnapshot('3', 'failure');
  assert.equal(leader.raw.status().progress['3']?.state, 'probe');
  leader.raw.tick();
  cluster.processReady('1');
  assert.equal(snapshots(), 0, 'paused until 3 answers a heartbeat');
  cluster.deliverAll();
  cluster.processReady('3');
  cluster.deliverAll();
  cluster.processReady('1');
  assert.equal(snapshots(), 1, 'then the snapshot is sent again');
  cluster.stabilize();
  assert.equal(cluster.node('3').raw.status().commit, leader.raw.status().commit);
});

test('raw node: arguments of the wrong kind are refused with INVALID_ARGUMENT and change nothing', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  const before = leader.status().lastIndex;
  assert.equal(
    raftCode(() => leader.propose('text' as unknown as Uint8Array)),
    'INVALID_ARGUMENT',
  );
  assert.equal(
    raftCode(() => leader.proposeConfChange({ type: 'demote' as 'add-voter', nodeId: '4', context: new Uint8Array(0) })),
    'INVALID_ARGUMENT',
  );
  assert.equal(
    raftCode(() => leader.proposeConfChange({ type: 'add-voter', nodeId: '', context: new Uint8Array(0) })),
    'INVALID_ARGUMENT',
  );
  assert.equal(
    raftCode(() => leader.reportSnapshot('2', 'done' as 'finish')),
    'INVALID_ARGUMENT',
  );
  assert.equal(
    raftCode(() => leader.transferLeadership('')),
    'TRANSFER_INVALID',
  );
  assert.equal(leader.status().lastIndex, before);
  assert.equal(
    raftCode(() => leader.proposeConfChange({ type: 'add-learner', nodeId: '4', context: new Uint8Array(0) })),
    'none',
  );
});

test('raw node: a leader ignores an acknowledgement beyond its own log', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  const before = JSON.stringify(leader.status());
  leader.step({
    type: 'MsgAppResp',
    from: '2',
    to: '1',
    term: leader.status().term,
    logTerm: 0,
    index: 999,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  });
  assert.equal(JSON.stringify(leader.status()), before);
  assert.equal(leader.hasReady(), false, 'no snapshot or append is triggered');
});

test('raw node: confStateAt covers entries being applied while a snapshot arrives (sim finding F1)', () => {
  const storage = new MemoryStorage({ confState: { voters: ['1', '2', '3'], learners: [] } });
  const follower = new RawNode(testConfig('2', storage));
  const base = { commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(0) } as const;
  const learner = encodeConfChange({ type: 'add-learner', nodeId: '4', context: new Uint8Array(0) });
  follower.step({
    ...base,
    type: 'MsgApp',
    from: '1',
    to: '2',
    term: 2,
    logTerm: 1,
    index: 1,
    commit: 4,
    entries: [entry(2, 2), { index: 3, term: 2, type: 'conf-change', data: learner }, entry(4, 2)],
  });
  const ready = follower.ready();
  assert.deepEqual(
    ready.committedEntries.map((e) => e.index),
    [2, 3, 4],
  );
  storage.append(ready.entries);
  // While the runtime persists and applies 2..4, a snapshot at 10 arrives.
  const confState = { voters: ['1', '2', '3'], learners: ['4'] };
  follower.step({
    ...base,
    type: 'MsgSnap',
    from: '1',
    to: '2',
    term: 2,
    logTerm: 0,
    index: 0,
    entries: [],
    snapshot: { metadata: { index: 10, term: 2, confState }, data: new Uint8Array(0) },
  });
  // The runtime labels a snapshot of its applied state (4) with the membership as of 4.
  assert.deepEqual(follower.confStateAt(4), confState);
  assert.deepEqual(follower.confStateAt(3), confState);
  assert.deepEqual(follower.confStateAt(2), { voters: ['1', '2', '3'], learners: [] });
  assert.throws(() => follower.confStateAt(7), /unknown/, 'indexes never seen here are refused, not guessed');
  follower.advance(ready);
  const restore = follower.ready();
  assert.equal(restore.snapshot?.metadata.index, 10);
  storage.applySnapshot(restore.snapshot as NonNullable<typeof restore.snapshot>);
  follower.advance(restore);
  assert.deepEqual(follower.confStateAt(10), confState);
});

test('raw node: rejecting a higher-term vote does not restart the election timer (sim note N1)', () => {
  const storage = new MemoryStorage({ confState: { voters: ['1', '2', '3'], learners: [] } });
  storage.append([entry(2, 1), entry(3, 1)]);
  const node = new RawNode(testConfig('1', storage, { random: () => 0 })); // timeout = electionTicks = 10
  for (let i = 0; i < 6; i++) node.tick();
  node.step({
    type: 'MsgVote',
    from: '2',
    to: '1',
    term: 5,
    logTerm: 1,
    index: 1,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  });
  const answer = node.ready();
  assert.deepEqual(
    answer.messages.map((m) => [m.type, m.reject, m.term]),
    [['MsgVoteResp', true, 5]],
    'behind: rejected',
  );
  storage.setHardState(answer.hardState ?? storage.hardStateNow());
  node.advance(answer);
  for (let i = 0; i < 4; i++) node.tick();
  assert.equal(node.status().role, 'candidate', 'the up-to-date node times out on schedule and can win');
  assert.equal(node.status().term, 6);
});

test('raw node: a vote request of a lower term is refused with our term, so the candidate catches up', () => {
  const cluster = new TestCluster(['1', '2', '3']);
  cluster.elect('1');
  const follower = cluster.node('2').raw;
  const term = follower.status().term;
  follower.step({
    type: 'MsgVote',
    from: '3',
    to: '2',
    term: term - 1,
    logTerm: 1,
    index: 1,
    entries: [],
    commit: 0,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(0),
  });
  const ready = cluster.processReady('2');
  assert.deepEqual(
    ready?.messages.map((m) => [m.type, m.reject, m.term]),
    [['MsgVoteResp', true, term]],
  );
});

test('raw node: the successor is a voter heard from recently before a more caught-up silent one', () => {
  const cluster = new TestCluster(['1', '2', '3'], { checkQuorum: true });
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  // Voter 2 gets every entry; voter 3 answers heartbeats but never receives the appends.
  cluster.dropIf = (message) => message.to === '3' && message.type === 'MsgApp';
  leader.propose(encoder.encode('x'));
  leader.propose(encoder.encode('y'));
  cluster.stabilize();
  // Now 2 falls silent. One election timeout later the leader's check-quorum round has
  // reset every peer's activity; only 3 answers the next heartbeats.
  cluster.dropIf = (message) => message.to === '2' || message.from === '2' || (message.to === '3' && message.type === 'MsgApp');
  for (let tick = 0; tick < 12; tick += 1) {
    leader.tick();
    cluster.stabilize();
  }
  const progress = leader.status().progress;
  assert.ok((progress['2']?.match ?? 0) > (progress['3']?.match ?? 0), 'voter 2 is the more caught-up one');
  assert.equal(progress['2']?.recentActive, false);
  assert.equal(progress['3']?.recentActive, true);
  assert.equal(leader.successor(), '3');
  assert.equal(leader.stepDown(), '3', 'step-down follows the same policy');
  assert.equal(cluster.node('2').raw.successor(), undefined, 'a follower names no successor');
});

test('raw node: a commit rides on the next append, or goes out on the next tick; never an empty append of its own at once', () => {
  const cluster = new TestCluster(['1', '2', '3'], { heartbeatTicks: 5 });
  cluster.elect('1');
  const leader = cluster.node('1').raw;
  leader.tick();
  cluster.stabilize();
  const commitOf = (id: string): number => cluster.node(id).raw.status().commit;
  assert.equal(commitOf('2'), leader.status().commit, 'the election entry is known committed after a tick');
  // Sequential writes: each commits on the leader, and the followers learn it with the next write's entries.
  for (let write = 1; write <= 10; write++) {
    const before = leader.status().commit;
    leader.propose(encoder.encode(`w${write}`));
    const sent = cluster.stabilize();
    const appends = sent.filter((message) => message.type === 'MsgApp');
    assert.deepEqual(
      appends.map((message) => [message.to, message.entries.length, message.commit]),
      [
        ['2', 1, before],
        ['3', 1, before],
      ],
      `write ${write}: one append per follower, carrying the commit so far`,
    );
    assert.equal(leader.status().commit, before + 1);
    assert.equal(commitOf('2'), before);
  }
  // Idle: the leader's next tick (not a heartbeat's) sends the commit once to each follower.
  leader.tick();
  const announced = cluster.stabilize().filter((message) => message.type === 'MsgApp');
  assert.deepEqual(
    announced.map((message) => [message.to, message.entries.length, message.commit]),
    [
      ['2', 0, leader.status().commit],
      ['3', 0, leader.status().commit],
    ],
  );
  assert.equal(commitOf('2'), leader.status().commit);
  assert.equal(commitOf('3'), leader.status().commit);
  leader.tick();
  assert.deepEqual(
    cluster.stabilize().filter((message) => message.type === 'MsgApp'),
    [],
    'announced once',
  );
});
