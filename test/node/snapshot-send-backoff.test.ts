import { test } from 'node:test';
import assert from 'node:assert/strict';
import { followerCountMax, SnapshotSendBackoff } from '../../src/node/snapshot-send-backoff.js';

test('failures in a row double the wait up to its bound, and only the 1st, 2nd, 4th, 8th… are logged', () => {
  const backoff = new SnapshotSendBackoff({ firstDelayMs: 100, delayMaxMs: 1_000 });
  assert.equal(backoff.mayStart('n2', 0), true);
  const notes = Array.from({ length: 9 }, (_, position) => backoff.failed('n2', position * 10_000));
  assert.deepEqual(
    notes.map((note) => note.retryInMs),
    [100, 200, 400, 800, 1_000, 1_000, 1_000, 1_000, 1_000],
  );
  assert.deepEqual(
    notes.filter((note) => note.logIt).map((note) => note.failures),
    [1, 2, 4, 8],
  );
  const lastAt = 8 * 10_000;
  assert.equal(backoff.mayStart('n2', lastAt + 999), false);
  assert.equal(backoff.mayStart('n2', lastAt + 1_000), true);
  assert.equal(backoff.mayStart('n3', lastAt), true, 'other followers do not wait');
  assert.equal(backoff.succeeded('n2'), 9);
  assert.equal(backoff.mayStart('n2', lastAt), true);
  assert.equal(backoff.succeeded('n2'), 0);
  assert.equal(backoff.failed('n2', lastAt).retryInMs, 100, 'a success starts the next run over');
});

test('a very long run of failures stays at the bound', () => {
  const backoff = new SnapshotSendBackoff({ firstDelayMs: 1, delayMaxMs: 10_000 });
  let note = backoff.failed('n2', 0);
  for (let count = 0; count < 200; count++) note = backoff.failed('n2', 0);
  assert.equal(note.failures, 201);
  assert.equal(note.retryInMs, 10_000);
});

test('at most followerCountMax followers are remembered, the oldest run forgotten first', () => {
  const backoff = new SnapshotSendBackoff();
  for (let index = 0; index <= followerCountMax; index++) backoff.failed(`n${index}`, 0);
  assert.equal(backoff.size, followerCountMax);
  assert.equal(backoff.mayStart('n0', 0), true, 'the oldest is forgotten');
  assert.equal(backoff.mayStart(`n${followerCountMax}`, 0), false);
});

test('settings out of range are refused', () => {
  assert.throws(() => new SnapshotSendBackoff({ firstDelayMs: 0, delayMaxMs: 10 }), RangeError);
  assert.throws(() => new SnapshotSendBackoff({ firstDelayMs: 20, delayMaxMs: 10 }), RangeError);
});
