import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoffDelayMs } from '../../src/transport/backoff.js';

const limits = { backoffBaseMs: 50, backoffMsMax: 2000 };

describe('backoffDelayMs', () => {
  it('doubles the ceiling per failed attempt, with half of it jittered', () => {
    assert.equal(
      backoffDelayMs(1, limits, () => 0),
      25,
    );
    assert.equal(
      backoffDelayMs(1, limits, () => 1),
      50,
    );
    assert.equal(
      backoffDelayMs(2, limits, () => 0),
      50,
    );
    assert.equal(
      backoffDelayMs(3, limits, () => 1),
      200,
    );
    assert.equal(
      backoffDelayMs(3, limits, () => 0.5),
      150,
    );
  });

  it('never exceeds backoffMsMax, even after very many attempts', () => {
    for (const attempt of [7, 10, 31, 1000, 1e9]) {
      assert.equal(
        backoffDelayMs(attempt, limits, () => 1),
        2000,
      );
      assert.equal(
        backoffDelayMs(attempt, limits, () => 0),
        1000,
      );
    }
  });

  it('stays within [ceiling/2, ceiling] for any random value, even out-of-range ones', () => {
    for (const random of [-5, 0, 0.3, 0.999, 1, 7, Number.NaN]) {
      const delay = backoffDelayMs(4, limits, () => random);
      assert.ok(delay >= 200 && delay <= 400, `delay ${delay} for random ${random}`);
    }
  });

  it('rejects invalid input', () => {
    assert.throws(() => backoffDelayMs(0, limits, Math.random), RangeError);
    assert.throws(() => backoffDelayMs(1.5, limits, Math.random), RangeError);
    assert.throws(() => backoffDelayMs(1, { backoffBaseMs: 0, backoffMsMax: 10 }, Math.random), RangeError);
    assert.throws(() => backoffDelayMs(1, { backoffBaseMs: 20, backoffMsMax: 10 }, Math.random), RangeError);
  });
});
