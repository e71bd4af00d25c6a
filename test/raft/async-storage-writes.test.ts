/**
 * Asynchronous storage writes: the core hands out each entry once, without advance(), and
 * learns what is durable from persistedTo() / snapshotPersisted() / appliedTo().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RawNode } from '../../src/raft/index.js';
import type { Entry, NodeId, Ready } from '../../src/raft/index.js';
import { isDurabilityAcknowledgement } from '../../src/raft/message-shape.js';
import { encoder, entry, raftMessage as message, testConfig } from './helpers.js';

const voters = ['1', '2', '3'];

function asyncNode(id: NodeId): { raw: RawNode; storage: MemoryStorage } {
  const storage = new MemoryStorage({ confState: { voters, learners: [] } });
  return { raw: new RawNode(testConfig(id, storage, { asyncStorageWrites: true })), storage };
}

/** Saves what `ready` hands out to `storage` at once, as a save completing immediately would. */
function save(storage: MemoryStorage, ready: Ready): void {
  storage.append(ready.entries);
  if (ready.hardState !== undefined) storage.setHardState(ready.hardState);
}

function lastOf(entries: readonly Entry[]): Entry {
  const last = entries[entries.length - 1];
  assert.ok(last !== undefined);
  return last;
}

/** A fresh MemoryStorage holds the bootstrap entry (1, term 1): a campaign runs at term 2. */
const term = 2;

function grantVote(raw: RawNode): void {
  raw.step(message({ type: 'MsgVoteResp', from: '2', to: '1', term }));
}

/** Node 1 campaigns and wins with node 2's vote; returns the Ready that carries its first entry (unsaved). */
function electedLeader(): { raw: RawNode; storage: MemoryStorage; firstReady: Ready } {
  const node = asyncNode('1');
  node.raw.campaign();
  save(node.storage, node.raw.ready());
  grantVote(node.raw);
  assert.equal(node.raw.status().role, 'leader');
  const firstReady = node.raw.ready();
  assert.equal(firstReady.entries.length, 1, 'the empty entry of the new term');
  return { ...node, firstReady };
}

test('async writes: the leader counts its own copy only once its save reports back', () => {
  const { raw, storage, firstReady } = electedLeader();
  const first = lastOf(firstReady.entries);
  const commitBefore = raw.status().commit;
  assert.ok(commitBefore < first.index);
  raw.step(message({ type: 'MsgAppResp', from: '2', to: '1', term, index: first.index }));
  assert.equal(raw.status().commit, commitBefore, 'one follower alone is not a majority of three, and the leader has not saved');
  save(storage, firstReady);
  raw.persistedTo(first.index, first.term);
  assert.equal(raw.status().commit, first.index, 'leader (now durable) + follower 2 are a majority');
});

test('async writes: a quorum of followers commits while the leader is still saving; applying waits for the save', () => {
  const { raw, storage, firstReady } = electedLeader();
  const first = lastOf(firstReady.entries);
  raw.step(message({ type: 'MsgAppResp', from: '2', to: '1', term, index: first.index }));
  raw.step(message({ type: 'MsgAppResp', from: '3', to: '1', term, index: first.index }));
  assert.equal(raw.status().commit, first.index, 'two followers of three commit without the leader');
  assert.deepEqual(raw.ready().committedEntries, [], 'not durable here: nothing to apply yet');
  save(storage, firstReady);
  raw.persistedTo(first.index, first.term);
  assert.deepEqual(raw.ready().committedEntries, [first], 'the entry applies once durable here');
  assert.equal(raw.hasReady(), false, 'and is handed out once');
});

test('async writes: entries are handed out to save once, without advance()', () => {
  const { raw, firstReady } = electedLeader();
  raw.propose(encoder.encode('a'));
  const second = raw.ready();
  assert.deepEqual(
    second.entries.map((e) => e.index),
    [lastOf(firstReady.entries).index + 1],
    'the first save is still on the disk: only the new entry goes out',
  );
  assert.throws(() => raw.advance(second), /advance\(\) is for synchronous storage writes/);
});

test('async writes: a save of entries a new leader overwrote meanwhile reports nothing', () => {
  const { raw, storage } = asyncNode('2');
  raw.step(message({ type: 'MsgApp', from: '1', to: '2', term: 2, index: 1, logTerm: 1, entries: [entry(2, 2), entry(3, 2)] }));
  const oldSave = raw.ready();
  assert.deepEqual(
    oldSave.entries.map((e) => [e.index, e.term]),
    [
      [2, 2],
      [3, 2],
    ],
  );
  // A new leader (term 3) replaces entry 3 while the old save is still on the disk.
  raw.step(message({ type: 'MsgApp', from: '3', to: '2', term: 3, index: 2, logTerm: 2, entries: [entry(3, 3)], commit: 3 }));
  const newSave = raw.ready();
  assert.deepEqual(
    newSave.entries.map((e) => [e.index, e.term]),
    [[3, 3]],
    'the replacement is handed out to be saved, though index 3 was handed out before',
  );
  assert.deepEqual(newSave.committedEntries, [], 'nothing new is durable yet');
  save(storage, oldSave);
  raw.persistedTo(3, 2);
  assert.equal(raw.hasReady(), false, 'the stale report (3, term 2) does not make (3, term 3) durable');
  save(storage, newSave);
  raw.persistedTo(3, 3);
  assert.deepEqual(
    raw.ready().committedEntries.map((e) => [e.index, e.term]),
    [
      [2, 2],
      [3, 3],
    ],
  );
});

test('async writes: a snapshot arriving while entries are being saved waits for its own report', () => {
  const { raw, storage } = asyncNode('2');
  raw.step(message({ type: 'MsgApp', from: '1', to: '2', term: 2, index: 1, logTerm: 1, entries: [entry(2, 2), entry(3, 2)], commit: 3 }));
  const entriesSave = raw.ready();
  assert.deepEqual(entriesSave.committedEntries, [], 'committed, but not durable here yet');
  const snapshot = { metadata: { index: 10, term: 2, confState: { voters, learners: [] } }, data: new Uint8Array(0) };
  raw.step(message({ type: 'MsgSnap', from: '1', to: '2', term: 2, snapshot }));
  const snapshotSave = raw.ready();
  assert.equal(snapshotSave.snapshot?.metadata.index, 10);
  save(storage, entriesSave);
  raw.persistedTo(3, 2);
  assert.equal(raw.ready().committedEntries.length, 0, 'nothing is applied from the old save while the snapshot is being saved');
  storage.applySnapshot(snapshotSave.snapshot!);
  raw.snapshotPersisted(10);
  assert.equal(raw.status().applied, 10);
  raw.step(message({ type: 'MsgApp', from: '1', to: '2', term: 2, index: 10, logTerm: 2, entries: [entry(11, 2)], commit: 11 }));
  const after = raw.ready();
  assert.deepEqual(
    after.entries.map((e) => e.index),
    [11],
  );
  assert.equal(after.snapshot, undefined, 'the snapshot is handed out once');
});

test('async writes: append and vote responses are the messages that wait for the save', () => {
  const { raw } = asyncNode('2');
  raw.step(message({ type: 'MsgVote', from: '1', to: '2', term: 2, index: 1, logTerm: 1 }));
  raw.step(message({ type: 'MsgApp', from: '1', to: '2', term: 2, index: 1, logTerm: 1, entries: [entry(2, 2)] }));
  raw.step(message({ type: 'MsgHeartbeat', from: '1', to: '2', term: 2 }));
  const kinds = raw.ready().messages.map((m) => [m.type, isDurabilityAcknowledgement(m)]);
  assert.deepEqual(kinds, [
    ['MsgVoteResp', true],
    ['MsgAppResp', true],
    ['MsgHeartbeatResp', false],
  ]);
});

test('async writes: applied entries are reported by index; an index below a newer snapshot is ignored', () => {
  const { raw, storage, firstReady } = electedLeader();
  save(storage, firstReady);
  const first = lastOf(firstReady.entries);
  raw.persistedTo(first.index, first.term);
  raw.step(message({ type: 'MsgAppResp', from: '2', to: '1', term, index: first.index }));
  const ready = raw.ready();
  assert.deepEqual(ready.committedEntries, [first]);
  assert.equal(raw.ready().committedEntries.length, 0, 'handed out once, before appliedTo');
  raw.appliedTo(first.index);
  assert.equal(raw.status().applied, first.index);
  raw.appliedTo(first.index - 1);
  assert.equal(raw.status().applied, first.index, 'applied never goes back');
});
