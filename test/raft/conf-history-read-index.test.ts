import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeConfChange } from '../../src/raft/index.js';
import type { ConfChange, Entry } from '../../src/raft/index.js';
import { ConfHistory } from '../../src/raft/conf-history.js';
import { ReadIndexQueue } from '../../src/raft/read-index.js';
import { encoder, entry } from './helpers.js';

function change(index: number, term: number, type: ConfChange['type'], nodeId: string): Entry {
  return { index, term, type: 'conf-change', data: encodeConfChange({ type, nodeId, context: new Uint8Array(0) }) };
}

test('conf history: changes count on append, revert on truncation, and answer by index', () => {
  const history = new ConfHistory(1, { voters: ['3', '1', '2'], learners: [] });
  assert.deepEqual(history.latest(), { voters: ['1', '2', '3'], learners: [] }, 'normalized');
  assert.equal(history.onAppend([entry(2, 2), entry(3, 2)]), false, 'no conf change, no truncation');
  assert.equal(history.onAppend([change(4, 2, 'add-learner', '4'), change(5, 2, 'add-voter', '4')]), true);
  assert.deepEqual(history.latest(), { voters: ['1', '2', '3', '4'], learners: [] });
  assert.deepEqual(history.at(4), { voters: ['1', '2', '3'], learners: ['4'] });
  assert.deepEqual(history.at(3), { voters: ['1', '2', '3'], learners: [] });
  assert.equal(history.onAppend([entry(5, 3)]), true, 'truncating the promotion reverts it');
  assert.deepEqual(history.latest(), { voters: ['1', '2', '3'], learners: ['4'] });
  assert.equal(history.latestIndex(), 4);
  assert.throws(() => history.at(0), /predates the log start 1/);
});

test('conf history: trimming keeps what later indexes need; restore starts over at the snapshot', () => {
  const history = new ConfHistory(0, { voters: ['1'], learners: [] });
  history.onAppend([change(2, 1, 'add-voter', '2'), change(5, 1, 'add-voter', '3')]);
  history.trim(4);
  assert.deepEqual(history.at(4), { voters: ['1', '2'], learners: [] });
  assert.throws(() => history.at(1), /predates/);
  history.restore(9, { voters: ['1', '2', '3', '4'], learners: [] }, 6);
  assert.deepEqual(history.at(6), { voters: ['1', '2', '3'], learners: [] }, 'committed history stays answerable');
  assert.throws(() => history.at(7), /membership at 7 is unknown/, 'never seen: refused, not guessed');
  assert.throws(() => history.at(8), /unknown/);
  assert.deepEqual(history.latest(), { voters: ['1', '2', '3', '4'], learners: [] });
  assert.equal(history.latestIndex(), 9);
  history.trim(9);
  assert.deepEqual(history.at(9), { voters: ['1', '2', '3', '4'], learners: [] });
  assert.throws(() => history.at(8), /predates the log start 9/);
});

test('read index queue: a quorum confirms a read and every read before it', () => {
  const queue = new ReadIndexQueue();
  const voters = ['1', '2', '3'];
  const a = encoder.encode('a');
  const b = encoder.encode('b');
  queue.add({ context: a, requester: '1' }, 5);
  queue.add({ context: b, requester: '1' }, 7);
  assert.equal(queue.size(), 2);
  assert.equal(queue.roundInFlight(), false);
  assert.deepEqual(queue.startRound(), b, 'a round carries the newest context');
  assert.equal(queue.roundInFlight(), true);
  assert.deepEqual(queue.acknowledge('1', b, voters), []);
  assert.deepEqual(queue.acknowledge('9', b, voters), [], 'a non-voter does not count');
  const released = queue.acknowledge('2', encoder.encode('b'), voters);
  assert.deepEqual(
    released.map((read) => read.index),
    [5, 7],
  );
  assert.equal(queue.size(), 0);
  assert.equal(queue.roundInFlight(), false, 'the round ends once its newest read is confirmed');
  assert.deepEqual(queue.acknowledge('3', a, voters), [], 'late acks for answered reads are ignored');
});

test('read index queue: deferred reads are handed back; leadership loss fails everything', () => {
  const queue = new ReadIndexQueue();
  queue.deferUntilTermCommit({ context: encoder.encode('early'), requester: '1' });
  queue.add({ context: encoder.encode('pending'), requester: '2' }, 3);
  assert.equal(queue.size(), 2);
  assert.deepEqual(
    queue.takeDeferred().map((read) => new TextDecoder().decode(read.context)),
    ['early'],
  );
  queue.deferUntilTermCommit({ context: encoder.encode('again'), requester: '1' });
  queue.startRound();
  assert.equal(queue.roundInFlight(), true);
  assert.deepEqual(
    queue
      .failAll()
      .map((read) => new TextDecoder().decode(read.context))
      .sort(),
    ['again', 'pending'],
  );
  assert.equal(queue.size(), 0);
  assert.equal(queue.roundInFlight(), false, 'no round is in flight for a new leadership');
});
