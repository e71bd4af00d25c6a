/**
 * A halt on a full disk is a recorded state change: `halted` with reason `disk-full` at
 * error, then `resumed` at info once space returns, both in the node's events (what
 * /status shows), and the failed saves are counted for /metrics. In memory, with a
 * manual scheduler and a store that refuses saves as a full disk does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryNodeStorage } from '../node/fake-ports.js';
import { startInMemoryRuntime, statement } from '../node/in-memory-runtime.js';
import { serviceFor } from '../node/in-memory-service.js';
import { executeRequest } from '../node/requests.js';

const context = { signal: new AbortController().signal };

test('a disk-full halt and its end are recorded as events, and the failed saves counted', async () => {
  const node = await startInMemoryRuntime(['n1']);
  try {
    const { runtime, scheduler, storage, config } = node;
    const service = serviceFor(node, { writeQueueCountMax: 16 });
    const create = service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')], { timeoutMs: 60_000 }), context);
    await scheduler.settle();
    await create;

    storage.failure = MemoryNodeStorage.diskFull();
    const during = service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('x')")], { timeoutMs: 60_000 }), context);
    await scheduler.settle();
    const halted = runtime.events.list().find((event) => event.event === 'halted');
    assert.ok(halted !== undefined, JSON.stringify(runtime.events.list()));
    assert.equal(halted.level, 'error');
    assert.equal(halted.fields['reason'], 'disk-full');
    assert.ok(runtime.metrics.logSaveFailureCount >= 1);

    storage.failure = undefined;
    await scheduler.advance(config.haltRetryIntervalMs);
    await during;
    const resumed = runtime.events.list().find((event) => event.event === 'resumed');
    assert.equal(resumed?.level, 'info');
  } finally {
    await node.close();
  }
});
