/**
 * The one rerun loop behind Client.interactive() and the ORM drivers' retryOnConflict:
 * which errors rerun, how many runs at most, and the backoff's bounds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isConflict, retryOnConflict } from '../../src/client/conflict-retry.js';
import { QuorumliteError } from '../../src/client/errors.js';

function recordingTools(): { sleeps: number[]; tools: { sleep: (ms: number) => Promise<void>; random: () => number } } {
  const sleeps: number[] = [];
  // random() just below 1: each wait is its ceiling, less the floor's rounding.
  return { sleeps, tools: { sleep: async (ms) => void sleeps.push(ms), random: () => 0.9999 } };
}

test('isConflict finds TX_CONFLICT or TX_NOT_FOUND down an error cause chain, and nothing else', () => {
  const conflict = new QuorumliteError('TX_CONFLICT', 'changed');
  assert.equal(isConflict(conflict), true);
  assert.equal(isConflict(new Error('orm wrapper', { cause: new Error('inner', { cause: conflict }) })), true);
  assert.equal(isConflict({ code: 'TX_NOT_FOUND' }), true);
  assert.equal(isConflict(new QuorumliteError('SQL_ERROR', 'no such table')), false);
  assert.equal(isConflict(undefined), false);
  let deep: unknown = conflict;
  for (let depth = 0; depth < 8; depth += 1) deep = new Error(`wrapper ${depth}`, { cause: deep });
  assert.equal(isConflict(deep), false, 'the chain is searched 8 deep, not forever');
});

test('a conflict reruns the work up to attemptsMax runs in all, then throws the last conflict; the backoff doubles to its bound', async () => {
  const { sleeps, tools } = recordingTools();
  let runCount = 0;
  await assert.rejects(
    retryOnConflict(
      async () => {
        runCount += 1;
        throw new QuorumliteError('TX_CONFLICT', `run ${runCount}`);
      },
      { attemptsMax: 6, initialDelayMs: 10, delayMsMax: 50 },
      tools,
    ),
    /run 6/,
  );
  assert.equal(runCount, 6);
  assert.deepEqual(sleeps, [9, 19, 39, 49, 49], 'full jitter under 10, 20, 40, then the 50 ms bound');
});

test('success after conflicts returns its value; any other error is thrown at once; attemptsMax below 1 is refused', async () => {
  const { tools } = recordingTools();
  let runCount = 0;
  const value = await retryOnConflict(
    async () => {
      runCount += 1;
      if (runCount < 3) throw new QuorumliteError('TX_NOT_FOUND', 'lost with its leader');
      return 'done';
    },
    {},
    tools,
  );
  assert.deepEqual([value, runCount], ['done', 3]);
  runCount = 0;
  await assert.rejects(
    retryOnConflict(
      async () => {
        runCount += 1;
        throw new Error('application decided');
      },
      {},
      tools,
    ),
    /application decided/,
  );
  assert.equal(runCount, 1);
  await assert.rejects(
    retryOnConflict(async () => 1, { attemptsMax: 0 }, tools),
    { code: 'INVALID_ARGUMENT' },
  );
});
