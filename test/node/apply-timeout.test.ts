/**
 * rqlited's -raft-apply-timeout (NodeConfig.applyTimeoutMs): a write waits at most this
 * long for its entry to commit and apply, even when the request allows longer. Here the
 * entry cannot commit because the node's store refuses every save (a full disk), on a
 * manual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/service/service.js';
import { MemoryNodeStorage } from './fake-ports.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';
import { serviceFor } from './in-memory-service.js';
import { executeRequest, statement } from './requests.js';

const context = { signal: new AbortController().signal };

test('a write that cannot apply fails after the apply timeout, not the request timeout', async () => {
  const node = await startInMemoryRuntime(['n1'], { applyTimeoutMs: 2_000 });
  try {
    const service = serviceFor(node);
    const created = service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')], { timeoutMs: 60_000 }), context);
    await node.scheduler.settle();
    await created;
    node.storage.failure = MemoryNodeStorage.diskFull();
    let outcome: unknown;
    const stuck = service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', 'x')], { timeoutMs: 60_000 }), context).then(
      () => 'applied',
      (error: unknown) => error,
    );
    void stuck.then((value) => {
      outcome = value;
    });
    await node.scheduler.advance(1_900);
    assert.equal(outcome, undefined, 'still waiting before the apply timeout');
    await node.scheduler.advance(200);
    await stuck;
    const failure = outcome as unknown;
    assert.ok(failure instanceof ServiceError && failure.code === 'TIMEOUT', String(failure));
    assert.match(failure.message, /write not applied within 2000ms/);
    node.storage.failure = undefined;
    await node.scheduler.advance(node.config.haltRetryIntervalMs);
  } finally {
    await node.close();
  }
});

test('the request timeout still bounds a write when it is the shorter of the two', async () => {
  const node = await startInMemoryRuntime(['n1'], { applyTimeoutMs: 10_000 });
  try {
    const service = serviceFor(node);
    node.storage.failure = MemoryNodeStorage.diskFull();
    const stuck = service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')], { timeoutMs: 500 }), context).catch((error: unknown) => error);
    await node.scheduler.advance(600);
    const outcome = await stuck;
    assert.ok(outcome instanceof ServiceError && outcome.code === 'TIMEOUT', String(outcome));
    assert.match(outcome.message, /within 500ms/);
    node.storage.failure = undefined;
    await node.scheduler.advance(node.config.haltRetryIntervalMs);
  } finally {
    await node.close();
  }
});
