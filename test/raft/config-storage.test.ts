import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftError, RaftStorageError, RawNode } from '../../src/raft/index.js';
import type { RaftConfig } from '../../src/raft/index.js';
import { entry, testConfig } from './helpers.js';

function storage(): MemoryStorage {
  return new MemoryStorage({ confState: { voters: ['1', '2', '3'], learners: [] } });
}

function rejects(overrides: Partial<RaftConfig>, message: RegExp): void {
  assert.throws(
    () => new RawNode(testConfig('1', storage(), overrides)),
    (error: unknown) => error instanceof RaftError && error.code === 'INVALID_CONFIG' && message.test(error.message),
    message.source,
  );
}

test('config: every limit is checked at construction with a clear error', () => {
  rejects({ id: '' }, /id must be a non-empty string/);
  rejects({ heartbeatTicks: 0 }, /heartbeatTicks must be >= 1, got 0/);
  rejects({ electionTicks: 5, heartbeatTicks: 5 }, /electionTicks \(5\) must be greater than heartbeatTicks \(5\)/);
  rejects({ electionTicks: 1.5 }, /electionTicks must be an integer/);
  rejects({ messageBytesMax: 0 }, /messageBytesMax must be >= 1/);
  rejects({ inflightMessageCountMax: 0 }, /inflightMessageCountMax must be >= 1/);
  rejects({ inflightBytesMax: 10, messageBytesMax: 11 }, /inflightBytesMax \(10\) must be >= messageBytesMax \(11\)/);
  rejects({ uncommittedEntriesBytesMax: 0 }, /uncommittedEntriesBytesMax must be >= 1/);
  rejects({ pendingReadCountMax: 0 }, /pendingReadCountMax must be >= 1/);
  rejects({ committedBytesPerReadyMax: 0 }, /committedBytesPerReadyMax must be >= 1/);
  rejects({ queuedMessageCountMax: 0 }, /queuedMessageCountMax must be >= 1/);
  rejects({ readOnly: 'lease', checkQuorum: false }, /'lease' requires checkQuorum/);
  rejects({ readOnly: 'lease', checkQuorum: true, leaseDriftTicks: 10 }, /leaseDriftTicks \(10\) must be less than electionTicks \(10\)/);
  rejects({ applied: -1 }, /applied must be >= 0/);
  rejects({ applied: 5 }, /applied 5 is beyond the persisted commit index 1/);
  rejects({ random: undefined as unknown as () => number }, /random must be a function/);
});

test('config: the smallest valid limits are accepted', () => {
  const node = new RawNode(
    testConfig('1', storage(), {
      electionTicks: 2,
      heartbeatTicks: 1,
      messageBytesMax: 1,
      inflightMessageCountMax: 1,
      inflightBytesMax: 1,
      uncommittedEntriesBytesMax: 1,
      pendingReadCountMax: 1,
      committedBytesPerReadyMax: 1,
      queuedMessageCountMax: 1,
      readOnly: 'lease',
      checkQuorum: true,
      leaseDriftTicks: 1,
    }),
  );
  assert.equal(node.status().role, 'follower');
});

test('config: a random source outside [0, 1) is an assertion failure', () => {
  assert.throws(() => new RawNode(testConfig('1', storage(), { random: () => 1 })), /outside \[0, 1\)/);
});

test('memory storage: bootstrap at index 1 with the membership', () => {
  const s = storage();
  assert.equal(s.firstIndex(), 2);
  assert.equal(s.lastIndex(), 1);
  assert.equal(s.term(1), 1);
  assert.deepEqual(s.initialState().hardState, { term: 1, vote: '', commit: 1 });
  assert.deepEqual(s.snapshot().metadata.confState.voters, ['1', '2', '3']);
  const joiner = new MemoryStorage();
  assert.equal(joiner.lastIndex(), 0);
  assert.deepEqual(joiner.initialState().confState, { voters: [], learners: [] });
});

test('memory storage: out-of-range reads throw named errors', () => {
  const s = storage();
  s.append([entry(2, 1), entry(3, 1)]);
  const code = (fn: () => unknown) => {
    try {
      fn();
    } catch (error) {
      return error instanceof RaftStorageError ? error.code : 'other';
    }
    return 'none';
  };
  assert.equal(
    code(() => s.term(0)),
    'COMPACTED',
  );
  assert.equal(
    code(() => s.term(4)),
    'UNAVAILABLE',
  );
  assert.equal(
    code(() => s.entries(1, 3, Infinity)),
    'COMPACTED',
  );
  assert.equal(
    code(() => s.entries(2, 5, Infinity)),
    'UNAVAILABLE',
  );
  assert.deepEqual(
    s.entries(2, 4, 0).map((e) => e.index),
    [2],
    'at least one entry',
  );
});

test('memory storage: append truncates a conflicting suffix and refuses gaps', () => {
  const s = storage();
  s.append([entry(2, 1), entry(3, 1), entry(4, 1)]);
  s.append([entry(3, 2)]);
  assert.equal(s.lastIndex(), 3);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.append([entry(5, 2)]), /leaves a gap/);
  assert.throws(() => s.append([entry(4, 2), entry(6, 2)]), /not contiguous/);
  assert.equal(s.lastIndex(), 3, 'a refused append changes nothing');
  s.append([entry(1, 1)]);
  assert.equal(s.lastIndex(), 3, 'entries covered by the snapshot are ignored');
});

test('memory storage: snapshots and compaction never lose what they must keep', () => {
  const s = storage();
  s.append([entry(2, 1), entry(3, 2), entry(4, 2)]);
  assert.throws(() => s.compact(3), /the snapshot is at 1/, 'compaction beyond the snapshot is refused');
  const snapshot = s.createSnapshot(3, { voters: ['1', '2', '3'], learners: [] }, Uint8Array.of(9));
  assert.equal(snapshot.metadata.term, 2);
  assert.equal(s.firstIndex(), 2, 'creating a snapshot keeps the log');
  s.compact(3);
  assert.equal(s.firstIndex(), 4);
  assert.equal(s.term(3), 2);
  assert.throws(() => s.createSnapshot(3, { voters: [], learners: [] }, new Uint8Array(0)), /not newer/);
  assert.throws(() => s.applySnapshot(snapshot), /not newer/);
  assert.equal(s.lastIndex(), 4, 'a refused snapshot leaves the log as it was');
  s.setSnapshotUnavailable(true);
  assert.throws(
    () => s.snapshot(),
    (error: unknown) => error instanceof RaftStorageError && error.code === 'SNAPSHOT_TEMPORARILY_UNAVAILABLE',
  );
});
