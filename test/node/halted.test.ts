/**
 * A node halted by an environmental failure (here its store refuses every save, as on a
 * full disk) refuses new requests that need it to apply with HALTED, saying why — not
 * NO_LEADER — while the write already in flight waits and completes once the store
 * accepts writes again (at the next retry on the scheduler's clock). Runs in memory with
 * a manual scheduler; test/node/disk-full.test.ts shows the same on a real full disk.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/service/service.js';
import type { Statement } from '../../src/state-machine/types.js';
import { MemoryNodeStorage } from './fake-ports.js';
import { startInMemoryRuntime, statement } from './in-memory-runtime.js';
import { serviceFor } from './in-memory-service.js';
import { executeRequest, queryRequest } from './requests.js';

const write = (statements: Statement[]) => executeRequest(statements, { timeoutMs: 60_000 });
const linearizableRead = (sql: string) => queryRequest(sql, { level: 'linearizable' });

const context = { signal: new AbortController().signal };

function halted(error: unknown): boolean {
  return error instanceof ServiceError && error.code === 'HALTED' && /node halted: disk full/.test(error.message);
}

test('a halted node refuses writes, reads and waits that need it to apply with HALTED; the write in flight completes after the halt', async () => {
  const node = await startInMemoryRuntime(['n1']);
  try {
    const { runtime, scheduler, storage, config } = node;
    const service = serviceFor(node, { writeQueueCountMax: 16 });
    assert.equal(runtime.isLeader, true);
    const create = service.execute(write([statement('CREATE TABLE t (v TEXT)')]), context);
    await scheduler.settle();
    await create;

    storage.failure = MemoryNodeStorage.diskFull();
    const during = service.execute(write([statement('INSERT INTO t(v) VALUES (?)', 'during')]), context);
    await scheduler.settle();
    assert.ok(runtime.haltError !== undefined, 'the failed save halted the node');
    const appliedIndex = runtime.appliedIndex;

    await assert.rejects(service.execute(write([statement('INSERT INTO t(v) VALUES (?)', 'refused')]), context), halted);
    await assert.rejects(service.query(linearizableRead('SELECT v FROM t'), context), halted);
    await assert.rejects(service.query({ ...linearizableRead('SELECT v FROM t'), appliedIndexMin: appliedIndex + 1 }, context), halted);
    await assert.rejects(runtime.readBarrier(1000), halted);
    await assert.rejects(runtime.waitForApplied(appliedIndex + 1, 1000), halted);
    await runtime.waitForApplied(appliedIndex, 1000); // already applied: nothing to wait for
    const readiness = await service.readiness({ sync: false, timeoutMs: 1000 });
    assert.ok(
      readiness.some((check) => check.name === 'store' && !check.ok && /halted/.test(check.message)),
      JSON.stringify(readiness),
    );

    // Retries run on the scheduler's clock: space returns, the next retry saves, and the write applies.
    storage.failure = undefined;
    await scheduler.advance(config.haltRetryIntervalMs);
    const written = await during;
    assert.deepEqual(written.results, [{ kind: 'write', lastInsertId: 1, rowsAffected: 1 }]);
    assert.equal(runtime.haltError, undefined);
    const after = service.execute(write([statement('INSERT INTO t(v) VALUES (?)', 'after')]), context);
    await scheduler.settle();
    await after;
    const read = service.query(linearizableRead('SELECT v FROM t ORDER BY rowid'), context);
    await scheduler.settle();
    assert.deepEqual((await read).results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['during'], ['after']] }]);
  } finally {
    await node.close();
  }
});

test('a halted follower that knows no leader answers HALTED, not NO_LEADER', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, storage, transport } = node;
    const service = serviceFor(node, { writeQueueCountMax: 16 });
    await assert.rejects(
      service.execute(write([statement('CREATE TABLE t (v TEXT)')]), context),
      (error: unknown) => error instanceof ServiceError && error.code === 'NO_LEADER',
    );
    // A candidate of a later term asks for this node's vote: granting it must be saved first, and the save fails.
    storage.failure = MemoryNodeStorage.diskFull();
    const lastIndex = storage.lastIndex();
    transport.deliver({
      type: 'MsgVote',
      from: 'n2',
      to: 'n1',
      term: 5,
      logTerm: storage.term(lastIndex),
      index: lastIndex,
      entries: [],
      commit: 0,
      reject: false,
      rejectHint: 0,
      context: new Uint8Array(0),
    });
    await scheduler.settle();
    assert.ok(runtime.haltError !== undefined, 'the failed save halted the node');
    assert.equal(runtime.leaderId, '');
    await assert.rejects(service.execute(write([statement('CREATE TABLE t (v TEXT)')]), context), halted);
    await assert.rejects(service.query(linearizableRead('SELECT 1'), context), halted);
    storage.failure = undefined;
    await scheduler.advance(node.config.haltRetryIntervalMs);
    assert.equal(runtime.haltError, undefined);
    assert.ok(
      transport.sent.some((message) => message.type === 'MsgVoteResp' && message.to === 'n2' && !message.reject),
      'the vote went out once saved',
    );
  } finally {
    await node.close();
  }
});
