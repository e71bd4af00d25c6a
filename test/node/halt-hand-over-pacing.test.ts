/**
 * When a halted leader hands over (halt.ts HaltHandOverPacing, used by leadership.ts and
 * etcd-log.ts): not at the first failed attempt of a step, from the second on, and at most
 * once per haltHandOverSpacingMs, tested at each bound and one short of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HaltHandOverPacing, haltHandOverAttempt, haltHandOverSpacingMs } from '../../src/node/halt.js';

test('the bounds are the documented values', () => {
  assert.equal(haltHandOverAttempt, 2);
  assert.equal(haltHandOverSpacingMs, 10_000);
});

test('a hand-over is due from attempt haltHandOverAttempt on, then not again until haltHandOverSpacingMs later', () => {
  const pacing = new HaltHandOverPacing();
  assert.equal(pacing.due(haltHandOverAttempt - 1, 0), false, 'a one-off failure does not move leadership');
  assert.equal(pacing.due(haltHandOverAttempt, 0), true);
  assert.equal(pacing.due(haltHandOverAttempt + 1, haltHandOverSpacingMs - 1), false, 'one ms short of the spacing');
  assert.equal(pacing.due(haltHandOverAttempt + 2, haltHandOverSpacingMs), true, 'at the spacing');
  assert.equal(pacing.due(haltHandOverAttempt - 1, 3 * haltHandOverSpacingMs), false, 'a new halt starts at attempt 1 again');
});
