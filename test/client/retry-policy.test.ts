import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { QuorumliteError } from '../../src/client/errors.js';
import { defaultRetryPolicyConfig, RetryPolicy, runWithRetries, type Sleep } from '../../src/client/retry-policy.js';
import { resolveConfig } from '../../src/client/options.js';

const config = { initialDelayMs: 10, delayMsMax: 1_000, multiplier: 2, attemptsMax: 100 };

/** A fake world: sleeping advances the clock instead of waiting. */
function fakeWorld(startMs = 1_000) {
  const state = { nowMs: startMs, sleeps: [] as number[] };
  const clock = { now: () => state.nowMs };
  const sleep: Sleep = async (delayMs) => {
    state.sleeps.push(delayMs);
    state.nowMs += delayMs;
  };
  return { state, clock, sleep };
}

function sequence(values: readonly number[]): () => number {
  let index = 0;
  return () => values[index++ % values.length] as number;
}

const retryable = () => new QuorumliteError('CONNECTION_FAILED', 'refused');

describe('RetryPolicy', () => {
  it('grows the delay ceiling exponentially up to the cap', () => {
    const policy = new RetryPolicy(config, () => 0.5);
    const ceilings = [1, 2, 3, 4, 5, 6, 7, 8, 9, 50].map((count) => policy.delayCeilingMs(count));
    assert.deepEqual(ceilings, [10, 20, 40, 80, 160, 320, 640, 1_000, 1_000, 1_000]);
  });

  it('draws full jitter: 0 at random 0, just under the ceiling at random → 1', () => {
    assert.equal(new RetryPolicy(config, () => 0).delayMs(4), 0);
    assert.equal(new RetryPolicy(config, () => 0.999_999).delayMs(4), 79);
    assert.equal(new RetryPolicy(config, () => 0.5).delayMs(4), 40);
    for (let draw = 0; draw < 1; draw += 0.01) {
      const delay = new RetryPolicy(config, () => draw).delayMs(20);
      assert.ok(delay >= 0 && delay < 1_000, `delay ${delay} outside [0, 1000)`);
    }
  });

  it('refuses a random source outside [0, 1) and bad configs', () => {
    assert.throws(() => new RetryPolicy(config, () => 1).delayMs(1), RangeError);
    assert.throws(() => new RetryPolicy({ ...config, attemptsMax: 0 }, Math.random), RangeError);
    assert.throws(() => new RetryPolicy({ ...config, initialDelayMs: -1 }, Math.random), RangeError);
    assert.throws(() => new RetryPolicy({ ...config, multiplier: 0.5 }, Math.random), RangeError);
  });

  it('defaults: a waiting call retries at least every 250 ms, and the default deadline ends an outage before the attempt count does', () => {
    const highest = new RetryPolicy(defaultRetryPolicyConfig, () => 0.999_999);
    for (let failed = 1; failed <= defaultRetryPolicyConfig.attemptsMax; failed += 1) assert.ok(highest.delayMs(failed) < 250);
    assert.equal(highest.delayCeilingMs(defaultRetryPolicyConfig.attemptsMax), 250);
    const mean = new RetryPolicy(defaultRetryPolicyConfig, () => 0.5);
    let waitedMs = 0;
    for (let failed = 1; failed < defaultRetryPolicyConfig.attemptsMax; failed += 1) waitedMs += mean.delayMs(failed);
    assert.ok(waitedMs > resolveConfig({ nodes: ['http://127.0.0.1:4001'] }).deadlineMs, `mean waits over all attempts: ${waitedMs} ms`);
  });

  it('stops for non-retryable errors, aborts, attempts and the deadline', () => {
    const policy = new RetryPolicy({ ...config, attemptsMax: 3 }, () => 0.5);
    const base = { failedAttemptCount: 1, errorRetryable: true, nowMs: 0, deadlineAtMs: 10_000, aborted: false };
    assert.deepEqual(policy.decide(base), { kind: 'retry', delayMs: 5 });
    assert.deepEqual(policy.decide({ ...base, errorRetryable: false }), { kind: 'stop', reason: 'not-retryable' });
    assert.deepEqual(policy.decide({ ...base, aborted: true }), { kind: 'stop', reason: 'aborted' });
    assert.deepEqual(policy.decide({ ...base, failedAttemptCount: 3 }), { kind: 'stop', reason: 'attempts' });
    assert.deepEqual(policy.decide({ ...base, nowMs: 9_995 }), { kind: 'stop', reason: 'deadline' });
    assert.deepEqual(policy.decide({ ...base, nowMs: 9_994 }), { kind: 'retry', delayMs: 5 });
  });
});

describe('runWithRetries', () => {
  it('retries retryable failures with growing delays, then succeeds', async () => {
    const world = fakeWorld();
    const policy = new RetryPolicy(config, () => 0.5);
    let calls = 0;
    const result = await runWithRetries(
      async () => {
        calls += 1;
        if (calls < 5) throw retryable();
        return 'ok';
      },
      { policy, clock: world.clock, sleep: world.sleep, deadlineAtMs: world.state.nowMs + 60_000 },
    );
    assert.equal(result, 'ok');
    assert.deepEqual(world.state.sleeps, [5, 10, 20, 40]);
  });

  it('never sleeps past the deadline and reports DEADLINE_EXCEEDED with the last error as cause', async () => {
    const world = fakeWorld();
    const deadlineAtMs = world.state.nowMs + 2_500;
    const policy = new RetryPolicy(config, sequence([0.9, 0.3, 0.99, 0.7]));
    const error = await runWithRetries(
      async () => {
        throw retryable();
      },
      { policy, clock: world.clock, sleep: world.sleep, deadlineAtMs },
    ).catch((caught: unknown) => caught);
    assert.ok(error instanceof QuorumliteError);
    assert.equal(error.code, 'DEADLINE_EXCEEDED');
    assert.equal((error.cause as QuorumliteError).code, 'CONNECTION_FAILED');
    assert.ok(world.state.nowMs < deadlineAtMs, `clock ${world.state.nowMs} passed the deadline ${deadlineAtMs}`);
    assert.ok(world.state.sleeps.length >= 3);
  });

  it('returns a non-retryable error at once, without sleeping', async () => {
    const world = fakeWorld();
    const policy = new RetryPolicy(config, () => 0.5);
    let calls = 0;
    await assert.rejects(
      runWithRetries(
        async () => {
          calls += 1;
          throw new QuorumliteError('SQL_ERROR', 'no such table: t', { statementIndex: 0 });
        },
        { policy, clock: world.clock, sleep: world.sleep, deadlineAtMs: world.state.nowMs + 60_000 },
      ),
      { code: 'SQL_ERROR' },
    );
    assert.equal(calls, 1);
    assert.deepEqual(world.state.sleeps, []);
  });

  it('stops after attemptsMax attempts with the last error', async () => {
    const world = fakeWorld();
    const policy = new RetryPolicy({ ...config, attemptsMax: 4 }, () => 0);
    let calls = 0;
    await assert.rejects(
      runWithRetries(
        async () => {
          calls += 1;
          throw new QuorumliteError('NO_LEADER', `no leader ${calls}`);
        },
        { policy, clock: world.clock, sleep: world.sleep, deadlineAtMs: world.state.nowMs + 60_000 },
      ),
      { code: 'NO_LEADER', message: 'no leader 4' },
    );
    assert.equal(calls, 4);
  });

  it('stops with ABORTED when the signal fires between attempts', async () => {
    const world = fakeWorld();
    const controller = new AbortController();
    const policy = new RetryPolicy(config, () => 0.5);
    let calls = 0;
    await assert.rejects(
      runWithRetries(
        async () => {
          calls += 1;
          if (calls === 2) controller.abort(new Error('user cancelled'));
          throw retryable();
        },
        { policy, clock: world.clock, sleep: world.sleep, deadlineAtMs: world.state.nowMs + 60_000, signal: controller.signal },
      ),
      { code: 'ABORTED' },
    );
    assert.equal(calls, 2);
  });

  it('does not start when the signal is already aborted', async () => {
    const world = fakeWorld();
    let calls = 0;
    await assert.rejects(
      runWithRetries(
        async () => {
          calls += 1;
          return 1;
        },
        { policy: new RetryPolicy(config, () => 0), clock: world.clock, sleep: world.sleep, deadlineAtMs: world.state.nowMs + 1, signal: AbortSignal.abort() },
      ),
      { code: 'ABORTED' },
    );
    assert.equal(calls, 0);
  });

  it('rethrows programmer errors (not QuorumliteError) without retrying', async () => {
    const world = fakeWorld();
    let calls = 0;
    await assert.rejects(
      runWithRetries(
        async () => {
          calls += 1;
          throw new TypeError('bug');
        },
        { policy: new RetryPolicy(config, () => 0), clock: world.clock, sleep: world.sleep, deadlineAtMs: world.state.nowMs + 60_000 },
      ),
      TypeError,
    );
    assert.equal(calls, 1);
  });
});

describe('runWithRetries after a stall', () => {
  it('does not start another attempt once the sleep ran past the deadline', async () => {
    const state = { nowMs: 0 };
    let calls = 0;
    const error = await runWithRetries(
      async () => {
        calls += 1;
        throw new QuorumliteError('NO_LEADER', 'leader not found');
      },
      {
        policy: new RetryPolicy({ initialDelayMs: 10, delayMsMax: 10, multiplier: 2, attemptsMax: 100 }, () => 0.5),
        clock: { now: () => state.nowMs },
        // A sleep of 5 ms that takes 10 minutes (a stalled process).
        sleep: async () => {
          state.nowMs += 600_000;
        },
        deadlineAtMs: 1_000,
      },
    ).catch((caught: unknown) => caught);
    assert.equal(calls, 1);
    assert.ok(error instanceof QuorumliteError);
    assert.equal(error.code, 'DEADLINE_EXCEEDED');
    assert.equal((error.cause as QuorumliteError).code, 'NO_LEADER');
  });
});
