/**
 * Interactive transactions on one real node in this process, over real HTTP: the happy
 * path (own writes, lastInsertId inside), conflicts (seen by the next statement and at
 * commit), determinism of random() and 'now' between preview and commit, and every kind
 * of bad input: unknown or expired id, commit twice, rollback after commit, SQL errors
 * inside, BEGIN/COMMIT inside, too many open (per node and per client), too many bytes,
 * and a commit retried after the leader forgot the transaction (applied once).
 */
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createClient } from '../../src/client/index.js';
import { startTestNode, type StartedTestNode } from '../node/start-node.js';

interface Answer {
  readonly status: number;
  readonly code: string | null;
  readonly body: Record<string, unknown>;
}

let started: StartedTestNode;

async function post(path: string, body: unknown = undefined, key?: string): Promise<Answer> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (key !== undefined) headers['idempotency-key'] = key;
  const response = await fetch(`${started.baseUrl}${path}`, { method: 'POST', headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: response.status, code: response.headers.get('x-quorumlite-error'), body: parsed };
}

async function begin(): Promise<string> {
  const answer = await post('/db/begin');
  assert.equal(answer.status, 200, JSON.stringify(answer));
  assert.equal(typeof answer.body['tx_id'], 'string');
  return answer.body['tx_id'] as string;
}

function rows(answer: Answer): unknown[] {
  const results = answer.body['results'] as { values?: unknown[] }[];
  return results[0]?.values ?? [];
}

describe('interactive transactions on one node', () => {
  before(async () => {
    started = await startTestNode('transactions', {
      transactionLimits: { openCountMax: 6, openPerClientCountMax: 4, idleTimeoutMs: 400, bufferedBytesMax: 2000, endedCountMax: 2 },
    });
    const setup = await post('/db/execute', [
      'CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER)',
      'INSERT INTO counter VALUES (1, 0)',
      'CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT UNIQUE)',
    ]);
    assert.equal(setup.status, 200);
  });
  after(async () => {
    await started.node.stop();
    rmSync(started.dataDirectory, { recursive: true, force: true });
  });

  it('reads its own writes, reports lastInsertId inside, and applies only at commit', async () => {
    const id = await begin();
    const inserted = await post(`/db/execute?tx=${id}`, [["INSERT INTO items (name) VALUES ('a')"]]);
    assert.equal(inserted.status, 200);
    assert.deepEqual((inserted.body['results'] as unknown[])[0], { last_insert_id: 1, rows_affected: 1 });
    assert.deepEqual(rows(await post(`/db/query?tx=${id}`, ['SELECT name FROM items'])), [['a']]);
    assert.deepEqual(rows(await post('/db/query?level=strong', ['SELECT count(*) FROM items'])), [[0]], 'not visible outside before commit');
    const committed = await post(`/db/commit?tx=${id}`);
    assert.equal(committed.status, 200);
    assert.equal(typeof committed.body['raft_index'], 'number');
    assert.deepEqual(rows(await post('/db/query?level=strong', ['SELECT name FROM items'])), [['a']]);
  });

  it('aborts with TX_CONFLICT when a statement finds what it read changed, and at commit', async () => {
    const first = await begin();
    assert.deepEqual(rows(await post(`/db/query?tx=${first}`, ['SELECT n FROM counter WHERE id = 1'])), [[0]]);
    await post('/db/execute', ['UPDATE counter SET n = n + 100 WHERE id = 1']);
    const next = await post(`/db/execute?tx=${first}`, ['UPDATE counter SET n = 1 WHERE id = 1']);
    assert.equal(next.status, 409);
    assert.equal(next.code, 'TX_CONFLICT');
    assert.equal((await post(`/db/commit?tx=${first}`)).code, 'TX_NOT_FOUND', 'a conflict ends the transaction');

    const second = await begin();
    assert.deepEqual(rows(await post(`/db/query?tx=${second}`, ['SELECT n FROM counter WHERE id = 1'])), [[100]]);
    await post(`/db/execute?tx=${second}`, ['UPDATE counter SET n = 101 WHERE id = 1']);
    await post('/db/execute', ['UPDATE counter SET n = n + 1 WHERE id = 1']);
    const commit = await post(`/db/commit?tx=${second}`);
    assert.equal(commit.status, 409);
    assert.equal(commit.code, 'TX_CONFLICT');
    assert.deepEqual(rows(await post('/db/query?level=strong', ['SELECT n FROM counter WHERE id = 1'])), [[101]], 'the plain write stands alone');
  });

  it("gives random() and 'now' the same answers in the preview and at commit", async () => {
    const id = await begin();
    const seen = rows(await post(`/db/query?tx=${id}`, ["SELECT random(), datetime('now'), randomblob(4)"]));
    await post(`/db/execute?tx=${id}`, ["INSERT INTO items (name) VALUES (hex(randomblob(8)) || datetime('now'))"]);
    const commit = await post(`/db/commit?tx=${id}`);
    assert.equal(commit.status, 200, JSON.stringify(commit.body));
    assert.equal(seen.length, 1);
  });

  it('keeps a transaction usable after a SQL error, and refuses BEGIN / COMMIT inside', async () => {
    const id = await begin();
    const failed = await post(`/db/execute?tx=${id}`, [["INSERT INTO items (name) VALUES ('a')"]]);
    assert.equal(failed.status, 200);
    assert.match(String((failed.body['results'] as { error?: string }[])[0]?.error), /UNIQUE/);
    for (const sql of ['BEGIN', 'COMMIT', 'SAVEPOINT s', 'ROLLBACK']) {
      const refused = await post(`/db/execute?tx=${id}`, [sql]);
      assert.equal(refused.code, 'REFUSED_SQL', sql);
      assert.match(String(refused.body['error']), /inside an interactive transaction: end it with \/db\/commit or \/db\/rollback/, sql);
    }
    await post(`/db/execute?tx=${id}`, [["INSERT INTO items (name) VALUES ('after-error')"]]);
    assert.equal((await post(`/db/commit?tx=${id}`)).status, 200);
    assert.deepEqual(rows(await post('/db/query?level=strong', ["SELECT count(*) FROM items WHERE name = 'after-error'"])), [[1]]);
  });

  it('answers TX_NOT_FOUND for an unknown id, a second commit and a rollback after commit; a repeated commit key answers again', async () => {
    const unknown = await post('/db/query?tx=00000000000000000000000000000000', ['SELECT 1']);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.code, 'TX_NOT_FOUND');
    assert.equal((await post('/db/commit')).status, 400, 'tx is required');
    const id = await begin();
    await post(`/db/execute?tx=${id}`, ["INSERT INTO items (name) VALUES ('twice')"]);
    const first = await post(`/db/commit?tx=${id}`, undefined, 'commit-key-1');
    assert.equal(first.status, 200);
    const repeated = await post(`/db/commit?tx=${id}`, undefined, 'commit-key-1');
    assert.deepEqual(repeated.body, first.body, 'the same key answers the same commit');
    const second = await post(`/db/commit?tx=${id}`, undefined, 'commit-key-2');
    assert.equal(second.code, 'TX_NOT_FOUND');
    assert.match(String(second.body['text']), /already committed/);
    const rollback = await post(`/db/rollback?tx=${id}`);
    assert.equal(rollback.code, 'TX_NOT_FOUND');
    const other = await begin();
    assert.equal((await post(`/db/rollback?tx=${other}`)).status, 200);
    assert.equal((await post(`/db/rollback?tx=${other}`)).status, 200, 'a repeated rollback answers as the first');
    assert.equal((await post(`/db/query?tx=${other}`, ['SELECT 1'])).code, 'TX_NOT_FOUND');
  });

  it('applies a commit retried after the leader forgot the transaction once, and never a transaction that did not commit', async () => {
    const id = await begin();
    await post(`/db/execute?tx=${id}`, ["INSERT INTO items (name) VALUES ('once')"]);
    const first = await post(`/db/commit?tx=${id}`, undefined, 'retried-commit');
    assert.equal(first.status, 200);
    // endedCountMax is 2: two more ended transactions push this one's outcome out of the registry.
    for (let count = 0; count < 2; count++) await post(`/db/rollback?tx=${await begin()}`);
    const retried = await post(`/db/commit?tx=${id}`, undefined, 'retried-commit');
    assert.equal(retried.status, 200, JSON.stringify(retried));
    assert.deepEqual(rows(await post('/db/query?level=strong', ["SELECT count(*) FROM items WHERE name = 'once'"])), [[1]]);
    const never = await post('/db/commit?tx=ffffffffffffffffffffffffffffffff', undefined, 'never-committed');
    assert.equal(never.code, 'TX_NOT_FOUND');
    assert.equal((await post('/db/commit?tx=ffffffffffffffffffffffffffffffff', undefined, 'never-committed')).code, 'TX_NOT_FOUND');
  });

  it('bounds open transactions per client and per node, and bytes per transaction', async () => {
    const opened: string[] = [];
    for (let count = 0; count < 4; count++) opened.push(await begin());
    const perClient = await post('/db/begin');
    assert.equal(perClient.status, 429);
    assert.equal(perClient.code, 'TX_LIMIT');
    assert.match(String(perClient.body['text']), /openPerClientCountMax/);
    const big = await post(`/db/execute?tx=${opened[0]}`, [['INSERT INTO items (name) VALUES (?)', 'x'.repeat(3000)]]);
    assert.equal(big.status, 429);
    assert.match(String(big.body['text']), /bufferedBytesMax/);
    assert.equal((await post(`/db/query?tx=${opened[0]}`, ['SELECT 1'])).status, 200, 'a refused call leaves the transaction open');
    for (const id of opened) await post(`/db/rollback?tx=${id}`);
    assert.equal(started.node.transactions.openCount, 0);
  });

  it('aborts a transaction idle past idleTimeoutMs', async () => {
    const id = await begin();
    await new Promise((resolve) => setTimeout(resolve, 900));
    const late = await post(`/db/query?tx=${id}`, ['SELECT 1']);
    assert.equal(late.code, 'TX_NOT_FOUND');
    assert.match(String(late.body['text']), /expired after 400 ms idle/);
  });

  it('runs db.interactive() read-modify-write increments to the exact total', async () => {
    const db = createClient({ nodes: [started.baseUrl], discoverNodes: false });
    try {
      const before = rows(await post('/db/query?level=strong', ['SELECT n FROM counter WHERE id = 1']))[0] as number[];
      await Promise.all(
        Array.from({ length: 4 }, () =>
          db.interactive(
            async (tx) => {
              const read = await tx.query<{ n: number }>('SELECT n FROM counter WHERE id = 1');
              await tx.execute({ sql: 'UPDATE counter SET n = ? WHERE id = 1', args: [(read.results[0]?.rows[0]?.n ?? 0) + 1] });
            },
            { attemptsMax: 50 },
          ),
        ),
      );
      assert.deepEqual(rows(await post('/db/query?level=strong', ['SELECT n FROM counter WHERE id = 1'])), [[(before[0] ?? 0) + 4]]);
    } finally {
      await db.close();
    }
  });
});
