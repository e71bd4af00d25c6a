/**
 * The client's interactive transactions against a node:http double: what goes on the
 * wire (paths, `?tx=`, idempotency keys), the reply codes, and interactive()'s reruns
 * on TX_CONFLICT / TX_NOT_FOUND, bounded by attemptsMax.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient, QuorumliteError } from '../../src/client/index.js';
import { sendJson, startFakeNode, type FakeNode, type RecordedRequest } from './helpers/fake-node.js';

const fastRetry = { initialDelayMs: 1, delayMsMax: 10 };
const errorHeader = (code: string) => ({ 'x-quorumlite-error': code, 'x-quorumlite-version': 'test' });

describe('client interactive transactions', () => {
  let node: FakeNode;
  let transactionCount = 0;
  let conflictsLeft = 0;
  before(async () => {
    node = await startFakeNode((request, response) => {
      if (request.path === '/db/begin') {
        transactionCount += 1;
        sendJson(response, 200, { tx_id: `tx-${transactionCount}` });
        return;
      }
      if (request.path === '/db/commit') {
        if (conflictsLeft > 0) {
          conflictsLeft -= 1;
          sendJson(response, 409, { error: 'transaction conflict' }, errorHeader('TX_CONFLICT'));
          return;
        }
        sendJson(response, 200, { raft_index: 42 });
        return;
      }
      if (request.path === '/db/rollback') {
        sendJson(response, 200, {});
        return;
      }
      if (request.query.get('tx') === 'gone') {
        sendJson(response, 404, { error: 'transaction gone is unknown' }, errorHeader('TX_NOT_FOUND'));
        return;
      }
      sendJson(response, 200, { results: [{ columns: ['n'], types: ['integer'], values: [[7]] }] });
    });
  });
  after(async () => {
    await node.close();
  });

  function client() {
    return createClient({ nodes: [node.url], discoverNodes: false, retry: fastRetry });
  }

  function since(count: number): RecordedRequest[] {
    return node.requests.slice(count);
  }

  it('begins, queries, executes and commits with ?tx= and a key on every call', async () => {
    const db = client();
    try {
      const start = node.requests.length;
      const tx = await db.begin();
      assert.match(tx.id, /^tx-\d+$/);
      const read = await tx.query('SELECT n FROM t');
      assert.deepEqual(read.results[0]?.rows, [{ n: 7 }]);
      await tx.execute({ sql: 'UPDATE t SET n = ?', args: [8] });
      await tx.request('SELECT 1');
      assert.deepEqual(await tx.commit(), { raftIndex: 42 });
      assert.equal(db.lastWriteIndex, 42);
      const sent = since(start);
      assert.deepEqual(
        sent.map((request) => request.path),
        ['/db/begin', '/db/query', '/db/execute', '/db/request', '/db/commit'],
      );
      for (const request of sent.slice(1)) {
        assert.equal(request.query.get('tx'), tx.id, request.path);
        assert.match(String(request.headers['idempotency-key']), /^[0-9a-f]{32}$/, request.path);
      }
    } finally {
      await db.close();
    }
  });

  it('maps the transaction codes', async () => {
    const db = client();
    try {
      const gone = await db.begin();
      Object.defineProperty(gone, 'id', { value: 'gone' });
      await assert.rejects(gone.query('SELECT 1'), (error: unknown) => error instanceof QuorumliteError && error.code === 'TX_NOT_FOUND' && !error.retryable);
      conflictsLeft = 1;
      const tx = await db.begin();
      await assert.rejects(tx.commit(), (error: unknown) => error instanceof QuorumliteError && error.code === 'TX_CONFLICT' && error.httpStatus === 409);
    } finally {
      conflictsLeft = 0;
      await db.close();
    }
  });

  it('interactive() runs the function again after a conflict, with a new transaction', async () => {
    const db = client();
    try {
      conflictsLeft = 2;
      const start = node.requests.length;
      const seen: string[] = [];
      const result = await db.interactive(
        async (tx) => {
          seen.push(tx.id);
          await tx.query('SELECT n FROM t');
          return 'done';
        },
        { initialDelayMs: 1 },
      );
      assert.equal(result, 'done');
      assert.equal(new Set(seen).size, 3);
      assert.equal(since(start).filter((request) => request.path === '/db/commit').length, 3);
    } finally {
      conflictsLeft = 0;
      await db.close();
    }
  });

  it('interactive() stops after attemptsMax and rolls back when the function throws', async () => {
    const db = client();
    try {
      conflictsLeft = 5;
      await assert.rejects(
        db.interactive(async () => undefined, { attemptsMax: 2, initialDelayMs: 1 }),
        (error: unknown) => error instanceof QuorumliteError && error.code === 'TX_CONFLICT',
      );
      assert.equal(conflictsLeft, 3);
      conflictsLeft = 0;
      const start = node.requests.length;
      await assert.rejects(
        db.interactive(async () => {
          throw new Error('application decided');
        }),
        /application decided/,
      );
      assert.deepEqual(
        since(start).map((request) => request.path),
        ['/db/begin', '/db/rollback'],
      );
      await assert.rejects(
        db.interactive(async () => undefined, { attemptsMax: 0 }),
        { code: 'INVALID_ARGUMENT' },
      );
    } finally {
      conflictsLeft = 0;
      await db.close();
    }
  });
});
