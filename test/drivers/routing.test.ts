/** The drivers' pure parts: which endpoint a statement goes to, and the conflict retry loop. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { QuorumliteError } from '../../src/client/index.js';
import { isPlainSelect } from '../../src/drivers/client-port.js';
import { isConflict, retryOnConflict } from '../../src/drivers/kysely/index.js';

test('a statement that starts with SELECT, past blanks, comments and parentheses, is a plain read', () => {
  for (const sql of ['select 1', '  SELECT * FROM t', '-- note\nselect 1', '/* a */ (select 1) union select 2', '\n\tSelect\n1']) {
    assert.equal(isPlainSelect(sql), true, sql);
  }
  for (const sql of ['insert into t values (1) returning *', 'with x as (select 1) delete from t', 'selectivity', 'pragma table_info(t)', '']) {
    assert.equal(isPlainSelect(sql), false, sql);
  }
});

test('isConflict finds TX_CONFLICT and TX_NOT_FOUND through a chain of causes, and nothing else', () => {
  const conflict = new QuorumliteError('TX_CONFLICT', 'conflict');
  assert.equal(isConflict(conflict), true);
  assert.equal(isConflict(new Error('wrapped', { cause: new Error('twice', { cause: conflict }) })), true);
  assert.equal(isConflict(new QuorumliteError('TX_NOT_FOUND', 'lost')), true);
  assert.equal(isConflict(new QuorumliteError('SQL_ERROR', 'no such table')), false);
  assert.equal(isConflict('TX_CONFLICT'), false);
});

test('retryOnConflict runs the work again after a conflict, at most attemptsMax times, and never after another error', async () => {
  let runs = 0;
  const result = await retryOnConflict(
    async () => {
      runs += 1;
      if (runs < 3) throw new Error('commit failed', { cause: { code: 'TX_CONFLICT' } });
      return 'done';
    },
    { initialDelayMs: 1 },
  );
  assert.deepEqual([result, runs], ['done', 3]);
  runs = 0;
  await assert.rejects(
    retryOnConflict(
      async () => {
        runs += 1;
        throw Object.assign(new Error('conflict'), { code: 'TX_CONFLICT' });
      },
      { attemptsMax: 4, initialDelayMs: 1 },
    ),
    /conflict/,
  );
  assert.equal(runs, 4);
  runs = 0;
  await assert.rejects(
    retryOnConflict(async () => {
      runs += 1;
      throw new QuorumliteError('SQL_ERROR', 'syntax');
    }),
    /syntax/,
  );
  assert.equal(runs, 1);
});
