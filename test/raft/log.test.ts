import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage } from '../../src/raft/index.js';
import { RaftLog } from '../../src/raft/raft-log.js';
import { UnstableLog, limitBytes } from '../../src/raft/log-unstable.js';
import { entryOverheadBytes } from '../../src/raft/types.js';
import { entry } from './helpers.js';

function logWith(terms: number[]): RaftLog {
  const storage = new MemoryStorage({ confState: { voters: ['1'], learners: [] }, bootstrapIndex: 0 });
  storage.append(terms.map((term, i) => entry(i + 1, term, `v${i + 1}`)));
  return new RaftLog(storage, 0);
}

test('log: stable entries and unstable appends form one log', () => {
  const log = logWith([1, 1, 2]);
  assert.equal(log.firstIndex(), 1);
  assert.equal(log.lastIndex(), 3);
  log.append([entry(4, 3), entry(5, 3)]);
  assert.equal(log.lastIndex(), 5);
  assert.equal(log.term(4), 3);
  assert.equal(log.term(0), 0, 'the dummy entry before the log has the snapshot term');
  assert.equal(log.term(6), undefined);
  assert.deepEqual(
    log.slice(2, 6, Infinity)?.map((e) => e.index),
    [2, 3, 4, 5],
  );
});

test('log: findConflict reports the first new or mismatching entry', () => {
  const log = logWith([1, 1, 2]);
  assert.equal(log.findConflict([entry(1, 1), entry(2, 1)]), 0, 'all present');
  assert.equal(log.findConflict([entry(2, 1), entry(3, 2), entry(4, 2)]), 4, 'new entry');
  assert.equal(log.findConflict([entry(2, 1), entry(3, 3)]), 3, 'term mismatch');
});

test('log: maybeAppend truncates a conflicting unstable and stable suffix', () => {
  const log = logWith([1, 1, 2, 2]);
  log.append([entry(5, 2)]);
  const result = log.maybeAppend(2, 1, 0, [entry(3, 3), entry(4, 3)]);
  assert.deepEqual(
    result?.appended.map((e) => `${e.term}/${e.index}`),
    ['3/3', '3/4'],
  );
  assert.equal(result?.lastNewIndex, 4);
  assert.equal(log.lastIndex(), 4, 'entry 5 of the old suffix is gone');
  assert.equal(log.term(3), 3);
  assert.equal(log.term(2), 1);
  assert.deepEqual(
    log.slice(1, 5, Infinity)?.map((e) => e.term),
    [1, 1, 3, 3],
  );
});

test('log: maybeAppend rejects a mismatching previous entry and keeps the log', () => {
  const log = logWith([1, 1, 2]);
  assert.equal(log.maybeAppend(3, 1, 3, [entry(4, 3)]), undefined);
  assert.equal(log.lastIndex(), 3);
  assert.equal(log.committed, 0, 'commit does not move on a rejected append');
});

test('log: maybeAppend commits min(leader commit, last new index)', () => {
  const log = logWith([1, 1]);
  log.maybeAppend(2, 1, 10, [entry(3, 1)]);
  assert.equal(log.committed, 3);
  const log2 = logWith([1, 1, 1, 1]);
  log2.maybeAppend(1, 1, 10, [entry(2, 1)]);
  assert.equal(log2.committed, 2, 'entries after the last new one may still differ from the leader');
});

test('log: truncating below the commit index is a programmer error', () => {
  const log = logWith([1, 1, 1]);
  log.commitTo(3);
  assert.throws(() => log.maybeAppend(1, 1, 3, [entry(2, 2)]), /conflicts with committed/);
  assert.throws(() => log.commitTo(9), /beyond the last index/);
});

test('log: findConflictByTerm skips whole terms for fast backtracking', () => {
  const log = logWith([1, 1, 1, 4, 4, 5, 5, 6, 6, 6]);
  assert.deepEqual(log.findConflictByTerm(10, 3), { index: 3, term: 1 });
  assert.deepEqual(log.findConflictByTerm(10, 5), { index: 7, term: 5 });
  assert.deepEqual(log.findConflictByTerm(10, 6), { index: 10, term: 6 });
  assert.deepEqual(log.findConflictByTerm(20, 9), { index: 10, term: 6 }, 'clamped to the last index');
  assert.deepEqual(log.findConflictByTerm(10, 0), { index: 0, term: 0 });
});

test('log: isUpToDate compares last term, then last index', () => {
  const log = logWith([1, 2, 2]);
  assert.equal(log.isUpToDate(3, 2), true);
  assert.equal(log.isUpToDate(2, 2), false);
  assert.equal(log.isUpToDate(1, 3), true);
  assert.equal(log.isUpToDate(9, 1), false);
});

test('log: only entries of the given term commit through maybeCommit', () => {
  const log = logWith([1, 1, 2]);
  assert.equal(log.maybeCommit(2, 2), false, 'index 2 has term 1');
  assert.equal(log.committed, 0);
  assert.equal(log.maybeCommit(3, 2), true);
  assert.equal(log.committed, 3);
});

test('log: slices honour bytesMax but return at least one entry', () => {
  const log = logWith([1, 1, 1, 1]);
  log.append([entry(5, 1, 'xx'), entry(6, 1, 'yy')]);
  const oneEntryBytes = 2 + entryOverheadBytes;
  assert.equal(log.slice(1, 7, 0)?.length, 1, 'at least one');
  assert.equal(log.slice(1, 7, 2 * oneEntryBytes)?.length, 2);
  assert.equal(log.slice(4, 7, 3 * oneEntryBytes)?.length, 3, 'across stable and unstable');
  assert.equal(limitBytes([entry(1, 1, 'abc')], 1).length, 1);
});

test('log: compacted entries are reported as unavailable, not thrown', () => {
  const storage = new MemoryStorage({ confState: { voters: ['1'], learners: [] }, bootstrapIndex: 0 });
  storage.append([entry(1, 1), entry(2, 1), entry(3, 2)]);
  storage.setHardState({ term: 2, vote: '', commit: 3 });
  storage.createSnapshot(2, { voters: ['1'], learners: [] }, new Uint8Array(0));
  storage.compact(2);
  const log = new RaftLog(storage, 2);
  assert.equal(log.firstIndex(), 3);
  assert.equal(log.term(1), undefined);
  assert.equal(log.term(2), 1);
  assert.equal(log.slice(1, 4, Infinity), undefined);
  assert.equal(log.entriesFrom(3, Infinity)?.length, 1);
});

test('log: restore resets to a snapshot; committed entries wait until it is persisted', () => {
  const log = logWith([1, 1]);
  log.restore({ metadata: { index: 10, term: 3, confState: { voters: ['1'], learners: [] } }, data: new Uint8Array(0) });
  assert.equal(log.committed, 10);
  assert.equal(log.lastIndex(), 10);
  assert.equal(log.firstIndex(), 11);
  assert.equal(log.term(10), 3);
  assert.equal(log.hasNextCommittedEntries(), false);
});

test('log: nextCommittedEntries are bounded by bytes and resume after appliedTo', () => {
  const log = logWith([1, 1, 1]);
  log.commitTo(3);
  const first = log.nextCommittedEntries(1);
  assert.deepEqual(
    first.map((e) => e.index),
    [1],
  );
  log.appliedTo(1);
  assert.deepEqual(
    log.nextCommittedEntries(Infinity).map((e) => e.index),
    [2, 3],
  );
  assert.throws(() => log.appliedTo(9), /outside/);
});

test('log: constructor refuses applied beyond the persisted commit', () => {
  const storage = new MemoryStorage({ confState: { voters: ['1'], learners: [] } });
  assert.throws(() => new RaftLog(storage, 5), /applied 5 is beyond the persisted commit index 1/);
});

test('unstable: stableTo ignores a stale acknowledgement after truncation', () => {
  const unstable = new UnstableLog(5);
  unstable.truncateAndAppend([entry(5, 1), entry(6, 1)]);
  unstable.truncateAndAppend([entry(6, 2)]);
  assert.equal(unstable.stableTo(6, 1), false, 'entry 6 of term 1 no longer exists');
  assert.equal(unstable.stableTo(6, 2), true);
  assert.equal(unstable.entries.length, 0);
  assert.equal(unstable.offset, 7);
});

test('unstable: appending before the offset replaces everything unstable', () => {
  const unstable = new UnstableLog(5);
  unstable.truncateAndAppend([entry(5, 1), entry(6, 1)]);
  unstable.truncateAndAppend([entry(4, 2)]);
  assert.equal(unstable.offset, 4);
  assert.deepEqual(
    unstable.entries.map((e) => e.index),
    [4],
  );
});
