/**
 * `retries` on a real follower (NodeRuntime and NodeClusterService; the transport is the
 * in-memory recording fake, whose calls the test answers): a forwarded write or
 * /db/request that cannot reach the leader is tried again at most `retries` more times,
 * only for failures to reach it (a call that reached the leader and failed there, or timed
 * out, is not repeated), and a forwarded /db/query never is (as in rqlite).
 * test/node/rqlite-parameters.test.ts shows the same through HTTP over real TCP.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message, MessageType } from '../../src/raft/types.js';
import { ServiceError } from '../../src/service/service.js';
import { TransportError } from '../../src/transport/errors.js';
import { startInMemoryRuntime, type InMemoryRuntime } from './in-memory-runtime.js';
import { serviceFor } from './in-memory-service.js';
import { executeRequest, queryRequest, statement } from './requests.js';

const context = { signal: new AbortController().signal };

function message(type: MessageType, from: string, term: number): Message {
  return { type, from, to: 'n1', term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(0) };
}

/** Answers the node's calls to its peers (the recording fake's own call() refuses every one). */
function answerCalls(node: InMemoryRuntime, answer: (method: string) => Promise<unknown>): void {
  Object.assign(node.transport, { call: (_target: unknown, method: string) => answer(method) });
}

/** A follower of n2 whose calls to n2 fail with `failures` in turn, then answer `answer`; returns the methods called. */
async function followerWithCalls(
  failures: Error[],
  answer: unknown = { ok: true, value: { results: [], raftIndex: 7, sequenceNumber: null, servedBy: 'n2:raft' } },
) {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  node.transport.deliver(message('MsgHeartbeat', 'n2', 5));
  await node.scheduler.settle();
  assert.equal(node.runtime.leaderId, 'n2');
  const calls: string[] = [];
  answerCalls(node, (method) => {
    calls.push(method);
    const failure = failures[calls.length - 1];
    return failure === undefined ? Promise.resolve(answer) : Promise.reject(failure);
  });
  return { node, service: serviceFor(node), calls };
}

const unreachable = (): TransportError => new TransportError('UNREACHABLE', 'peer n2 at n2:raft is unreachable: connection reset');
const insert = [statement("INSERT INTO t VALUES ('x')")];

test('a forwarded write is tried at most retries + 1 times while the leader cannot be reached', async () => {
  const { node, service, calls } = await followerWithCalls([unreachable(), unreachable(), unreachable(), unreachable()]);
  try {
    const failed = await service.execute(executeRequest(insert, { forwardRetryCountMax: 2 }), context).catch((error: unknown) => error);
    assert.ok(failed instanceof ServiceError && failed.code === 'UNAVAILABLE', String(failed));
    assert.deepEqual(calls, ['quorumlite.execute', 'quorumlite.execute', 'quorumlite.execute']);

    calls.length = 0;
    await assert.rejects(service.execute(executeRequest(insert), context), (error: unknown) => error instanceof ServiceError && error.code === 'UNAVAILABLE');
    assert.equal(calls.length, 1, 'no retries by default');
  } finally {
    await node.close();
  }
});

test('a retry that reaches the leader returns its answer', async () => {
  const { node, service, calls } = await followerWithCalls([unreachable(), unreachable()]);
  try {
    const response = await service.execute(executeRequest(insert, { forwardRetryCountMax: 5 }), context);
    assert.equal(response.raftIndex, 7);
    assert.equal(calls.length, 3);
  } finally {
    await node.close();
  }
});

test('/db/request retries, with writes or read-only (rqlite forwards both as a Request)', async () => {
  const { node, service, calls } = await followerWithCalls([unreachable()]);
  try {
    const mixed = (sql: string) => ({ ...queryRequest(sql), queue: false, wait: false, idempotencyKey: null, forwardRetryCountMax: 1 });
    await service.request(mixed("INSERT INTO t VALUES ('x')"), context);
    assert.deepEqual(calls, ['quorumlite.request', 'quorumlite.request']);
  } finally {
    await node.close();
  }
  const readOnly = await followerWithCalls([unreachable()]);
  try {
    await readOnly.service.request({ ...queryRequest('SELECT 1'), queue: false, wait: false, idempotencyKey: null, forwardRetryCountMax: 1 }, context);
    assert.deepEqual(readOnly.calls, ['quorumlite.query', 'quorumlite.query']);
  } finally {
    await readOnly.node.close();
  }
});

test('only failures to reach the leader are retried, and a forwarded query never is', async () => {
  const timedOut = new TransportError('TIMEOUT', 'no reply from n2 within 10000ms');
  const refused = { ok: false, error: { code: 'BAD_REQUEST', message: 'no such table: t', leaderApiAddress: null } };
  const { node, service, calls } = await followerWithCalls([timedOut], refused);
  try {
    await assert.rejects(
      service.execute(executeRequest(insert, { forwardRetryCountMax: 5 }), context),
      (error: unknown) => error instanceof ServiceError && error.code === 'TIMEOUT',
    );
    assert.equal(calls.length, 1, 'a call that may have run on the leader and timed out is not repeated');
    await assert.rejects(
      service.execute(executeRequest(insert, { forwardRetryCountMax: 5 }), context),
      (error: unknown) => error instanceof ServiceError && error.code === 'BAD_REQUEST',
    );
    assert.equal(calls.length, 2, 'an answer from the leader is not repeated');

    calls.length = 0;
    answerCalls(node, (method) => {
      calls.push(method);
      return Promise.reject(unreachable());
    });
    const query = { ...queryRequest('SELECT 1'), forwardRetryCountMax: 5 };
    await assert.rejects(service.query(query, context));
    assert.deepEqual(calls, ['quorumlite.query']);
  } finally {
    await node.close();
  }
});
