import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hasQuorum, majorityCommitIndex, quorumCount, voteResult } from '../../src/raft/quorum.js';
import { Inflights, Progress } from '../../src/raft/progress.js';

test('quorum: majority sizes', () => {
  assert.deepEqual([1, 2, 3, 4, 5].map(quorumCount), [1, 2, 2, 3, 3]);
});

test('quorum: the commit index is the highest index a majority has', () => {
  const match: Record<string, number> = { a: 5, b: 3, c: 9, d: 1, e: 3 };
  assert.equal(
    majorityCommitIndex(['a', 'b', 'c', 'd', 'e'], (id) => match[id] ?? 0),
    3,
  );
  assert.equal(
    majorityCommitIndex(['a', 'b', 'c'], (id) => match[id] ?? 0),
    5,
  );
  assert.equal(
    majorityCommitIndex(['a', 'd'], (id) => match[id] ?? 0),
    1,
  );
  assert.equal(
    majorityCommitIndex(['c'], (id) => match[id] ?? 0),
    9,
  );
  assert.equal(
    majorityCommitIndex([], () => 7),
    0,
  );
});

test('quorum: the commit index equals the sorted reference for every size up to 9 and random matches, ties and zeros', () => {
  let seed = 12345;
  const next = (bound: number): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % bound;
  };
  for (let round = 0; round < 2_000; round++) {
    const size = 1 + (round % 9);
    const voters = Array.from({ length: size }, (_, index) => `n${index}`);
    // Small ranges make ties common; some rounds use large indexes.
    const range = round % 3 === 0 ? 4 : round % 3 === 1 ? 50 : 2 ** 40;
    const match = new Map(voters.map((id) => [id, next(range)] as const));
    const reference = [...match.values()].sort((a, b) => b - a)[quorumCount(size) - 1];
    assert.equal(
      majorityCommitIndex(voters, (id) => match.get(id) ?? 0),
      reference,
      `voters ${JSON.stringify([...match])}`,
    );
  }
});

test('quorum: learners are not voters, so their matches never count', () => {
  // Voters a, b, c; learner z has everything. Only the voters decide.
  const match: Record<string, number> = { a: 9, b: 1, c: 1, z: 9 };
  assert.equal(
    majorityCommitIndex(['a', 'b', 'c'], (id) => match[id] ?? 0),
    1,
  );
});

test('quorum: vote results', () => {
  const voters = ['1', '2', '3'];
  assert.equal(voteResult(voters, new Map([['1', true]])), 'pending');
  assert.equal(
    voteResult(
      voters,
      new Map([
        ['1', true],
        ['2', true],
      ]),
    ),
    'won',
  );
  assert.equal(
    voteResult(
      voters,
      new Map([
        ['1', true],
        ['2', false],
        ['3', false],
      ]),
    ),
    'lost',
  );
  assert.equal(
    voteResult(
      voters,
      new Map([
        ['2', false],
        ['3', false],
      ]),
    ),
    'lost',
  );
  assert.equal(
    voteResult(
      voters,
      new Map([
        ['1', true],
        ['4', true],
        ['5', true],
      ]),
    ),
    'pending',
    'votes of non-voters (learners) are ignored',
  );
  assert.equal(
    voteResult(
      ['1', '2', '3', '4'],
      new Map([
        ['1', true],
        ['2', true],
      ]),
    ),
    'pending',
  );
});

test('quorum: hasQuorum counts active voters', () => {
  assert.equal(
    hasQuorum(['1', '2', '3'], (id) => id !== '3'),
    true,
  );
  assert.equal(
    hasQuorum(['1', '2', '3'], (id) => id === '1'),
    false,
  );
});

test('inflights: full at messageCountMax, freed by acknowledgement', () => {
  const inflights = new Inflights(3, 1000);
  inflights.add(1, 10);
  inflights.add(2, 10);
  assert.equal(inflights.full(), false);
  inflights.add(3, 10);
  assert.equal(inflights.full(), true, 'full at exactly messageCountMax');
  assert.throws(() => inflights.add(4, 10), /full inflight window/);
  inflights.freeLE(2);
  assert.equal(inflights.count(), 1);
  assert.equal(inflights.bytes(), 10);
  assert.equal(inflights.full(), false);
});

test('inflights: full at bytesMax', () => {
  const inflights = new Inflights(100, 25);
  inflights.add(1, 10);
  inflights.add(2, 14);
  assert.equal(inflights.full(), false, '24 bytes < 25');
  inflights.add(3, 1);
  assert.equal(inflights.full(), true, 'full at exactly bytesMax');
  inflights.freeFirstOne();
  assert.equal(inflights.bytes(), 15);
  assert.throws(() => {
    const window = new Inflights(5, 100);
    window.add(5, 1);
    window.add(4, 1);
  }, /not increasing/);
});

function progress(): Progress {
  return new Progress(6, false, new Inflights(2, 1000));
}

test('progress: probe pauses after one message until answered', () => {
  const p = progress();
  assert.equal(p.state, 'probe');
  assert.equal(p.isPaused(), false);
  p.sentEntries(3, 8, 30);
  assert.equal(p.isPaused(), true);
  assert.equal(p.next, 6, 'probe does not advance next optimistically');
  assert.equal(p.maybeUpdate(8), true);
  assert.equal(p.isPaused(), false);
  assert.equal(p.match, 8);
  assert.equal(p.next, 9);
});

test('progress: replicate advances optimistically up to the inflight bound', () => {
  const p = progress();
  p.maybeUpdate(5);
  p.becomeReplicate();
  assert.equal(p.next, 6);
  p.sentEntries(2, 7, 20);
  p.sentEntries(1, 8, 10);
  assert.equal(p.next, 9);
  assert.equal(p.isPaused(), true, 'two messages in flight, window of two');
  p.maybeUpdate(7);
  p.inflights.freeLE(7);
  assert.equal(p.isPaused(), false);
});

test('progress: rejections move next back; stale rejections are ignored', () => {
  const p = progress();
  p.maybeUpdate(3);
  p.next = 10;
  assert.equal(p.maybeDecreaseTo(5, 4), false, 'probe: only a rejection of next-1 counts');
  assert.equal(p.maybeDecreaseTo(9, 4), true);
  assert.equal(p.next, 5);
  assert.equal(p.maybeDecreaseTo(4, 0), true);
  assert.equal(p.next, 4, 'never below match + 1');
  const r = progress();
  r.maybeUpdate(5);
  r.becomeReplicate();
  r.sentEntries(1, 9, 10);
  assert.equal(r.maybeDecreaseTo(4, 0), false, 'replicate: a rejection at or below match is stale');
  assert.equal(r.maybeDecreaseTo(7, 3), true);
  assert.equal(r.next, 6);
});

test('progress: snapshot state pauses; probing resumes after the snapshot index', () => {
  const p = progress();
  p.becomeSnapshot(20);
  assert.equal(p.isPaused(), true);
  assert.equal(p.pendingSnapshotIndex, 20);
  p.becomeProbe();
  assert.equal(p.next, 21);
  assert.equal(p.pendingSnapshotIndex, 0);
});
