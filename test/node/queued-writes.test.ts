/**
 * Queued writes through the real cluster service, runtime and state machine, on a manual
 * scheduler: many `?queue` requests become a few log entries (one per batch), `?wait`
 * answers once its batch applied (with that entry's index), `-write-queue-tx` makes a
 * batch all-or-nothing, a full queue makes a request wait and time out, a node without a
 * leader refuses at once, and /status reports the queue under rqlite's keys.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nodeConfigDefaults, type NodeConfig, type NodeConfigInput } from '../../src/node/config.js';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { ServiceError, type DataResponse } from '../../src/service/service.js';
import { MemoryNodeStorage } from './fake-ports.js';
import { startInMemoryRuntime, statement, type InMemoryRuntime } from './in-memory-runtime.js';
import { serviceFor } from './in-memory-service.js';
import type { NodeClusterService } from '../../src/node/cluster-service.js';
import { executeRequest, queryRequest } from './requests.js';

const context = { signal: new AbortController().signal };

/** The node's write-queue settings (rqlited's -write-queue-* flags). */
type WriteQueueSettings = Partial<Pick<NodeConfig, 'writeQueueCountMax' | 'writeQueueBatchCountMax' | 'writeQueueTimeoutMs' | 'writeQueueTransaction'>>;

async function settled<Value>(node: InMemoryRuntime, promise: Promise<Value>): Promise<Value> {
  await node.scheduler.settle();
  return promise;
}

async function withLeader(
  writeQueue: WriteQueueSettings,
  body: (node: InMemoryRuntime, service: NodeClusterService) => Promise<void>,
  config: Partial<NodeConfigInput> = {},
): Promise<void> {
  const node = await startInMemoryRuntime(['n1'], config);
  try {
    assert.equal(node.runtime.isLeader, true);
    const service = serviceFor(node, writeQueue);
    await settled(node, service.execute(executeRequest([statement('CREATE TABLE t (v TEXT UNIQUE)')]), context));
    await body(node, service);
  } finally {
    await node.close();
  }
}

function queued(value: string, options: { wait?: boolean; timeoutMs?: number } = {}) {
  return executeRequest([statement('INSERT INTO t(v) VALUES (?)', value)], {
    queue: true,
    wait: options.wait ?? false,
    timeoutMs: options.timeoutMs ?? 10_000,
  });
}

async function rowCount(node: InMemoryRuntime, service: NodeClusterService): Promise<unknown> {
  const answer = await settled(node, service.query(queryRequest('SELECT count(*) FROM t'), context));
  const [result] = answer.results;
  return result?.kind === 'rows' ? result.rows[0]?.[0] : result;
}

test('300 queued writes become three log entries (batch size 128, then the timeout); ?wait answers with its batch’s index', async () => {
  await withLeader({}, async (node, service) => {
    const before = node.runtime.appliedIndex;
    const answers: DataResponse[] = [];
    for (let value = 0; value < 299; value += 1) answers.push(await service.execute(queued(`v${value}`), context));
    const waited = service.execute(queued('last', { wait: true }), context);
    await node.scheduler.settle();
    assert.equal(node.runtime.appliedIndex, before + 2, 'two full batches went at once');
    await node.scheduler.advance(nodeConfigDefaults.writeQueueTimeoutMs);
    const last = await waited;
    assert.equal(node.runtime.appliedIndex, before + 3, 'the rest went at the timeout, as one entry');
    assert.equal(last.raftIndex, before + 3);
    assert.deepEqual(last.results, []);
    const numbers = [...answers, last].map((answer) => answer.sequenceNumber as bigint);
    for (const [position, number] of numbers.entries()) assert.equal(number, (numbers[0] as bigint) + BigInt(position), 'consecutive');
    assert.ok((numbers[0] as bigint) >= BigInt(node.scheduler.nowMs() - 1000) * 1_000_000n, 'numbered from the wall clock in nanoseconds');
    assert.equal(await rowCount(node, service), 300);
    const status = (await service.status({ key: '' })) as { http: { queue: { _default: Record<string, unknown> } } };
    const queue = status.http.queue._default;
    assert.deepEqual(Object.keys(queue).sort(), Object.keys(queue), 'sorted keys, as Go writes a map');
    assert.equal(queue.max_size, 1024);
    assert.equal(queue.batch_size, 128);
    assert.equal(queue.timeout, '50ms');
    assert.equal(queue.sequence_number, numbers[numbers.length - 1]);
    assert.equal(queue.batches, 3);
    assert.equal(queue.objects_rx, 300);
    assert.equal(queue.objects_tx, 300);
    assert.equal(queue.depth, 0);
  });
});

test('with writeQueueTransaction a batch is one transaction: one failing statement undoes the whole batch', async () => {
  await withLeader({ writeQueueTransaction: true }, async (node, service) => {
    await service.execute(queued('a'), context);
    await service.execute(queued('a'), context);
    const waited = service.execute(queued('b', { wait: true }), context);
    await node.scheduler.advance(nodeConfigDefaults.writeQueueTimeoutMs);
    await waited;
    assert.equal(await rowCount(node, service), 0);
    const alone = service.execute(queued('c', { wait: true }), context);
    await node.scheduler.advance(nodeConfigDefaults.writeQueueTimeoutMs);
    await alone;
    assert.equal(await rowCount(node, service), 1);
  });
});

test('without it each request stands alone: the same failing request costs only itself', async () => {
  await withLeader({}, async (node, service) => {
    await service.execute(queued('a'), context);
    await service.execute(queued('a'), context);
    const waited = service.execute(queued('b', { wait: true }), context);
    await node.scheduler.advance(nodeConfigDefaults.writeQueueTimeoutMs);
    await waited;
    assert.equal(await rowCount(node, service), 2);
  });
});

test('a full queue makes a request wait for room, up to its timeout; ?wait times out with TIMEOUT; nothing is lost', async () => {
  await withLeader({ writeQueueCountMax: 2, writeQueueBatchCountMax: 2 }, async (node, service) => {
    // The store refuses to save (a full disk): the batch is proposed but cannot commit yet.
    node.storage.failure = MemoryNodeStorage.diskFull();
    const first = await service.execute(queued('a'), context);
    const waited = service.execute(queued('b', { wait: true, timeoutMs: 1_000 }), context);
    await node.scheduler.settle();
    assert.ok(node.runtime.haltError !== undefined, 'the batch’s save failed');
    const refused = service.execute(queued('c', { timeoutMs: 100 }), context);
    const refusedChecked = assert.rejects(
      refused,
      (error: unknown) => error instanceof ServiceError && error.code === 'TIMEOUT' && /write queue full/.test(error.message),
    );
    const waitedChecked = assert.rejects(
      waited,
      (error: unknown) => error instanceof ServiceError && error.code === 'TIMEOUT' && /not applied within/.test(error.message),
    );
    await node.scheduler.settle();
    assert.equal(((await service.status({ key: '' })) as { http: { queue: { _default: { blocked: number } } } }).http.queue._default.blocked, 1);
    await node.scheduler.advance(100);
    await refusedChecked;
    await node.scheduler.advance(900);
    await waitedChecked;
    // The disk accepts writes again: the batch in flight commits; both requests applied, once.
    node.storage.failure = undefined;
    await node.scheduler.advance(node.config.haltRetryIntervalMs);
    assert.equal(await rowCount(node, service), 2);
    assert.equal(typeof first.sequenceNumber, 'bigint');
  });
});

test('a node that knows no leader refuses a queued write at once with NO_LEADER (rqlite: 503 leader not found)', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const service = serviceFor(node);
    await assert.rejects(service.execute(queued('a'), context), (error: unknown) => error instanceof ServiceError && error.code === 'NO_LEADER');
  } finally {
    await node.close();
  }
});

test('a queued write that can never fit a batch is refused at once with BAD_REQUEST; one exactly at the bound is taken', async () => {
  const entryDataBytesMax = 8192;
  // The batch's header: magic, version, flags, time, seed, id ('queue n1 ' + 16 hex digits + ' ' + 20 digits), request count.
  const batchBytesMax = entryDataBytesMax - (3 + 8 + 8 + 4 + 'queue n1 '.length + 16 + 1 + 20 + 4);
  await withLeader(
    {},
    async (node, service) => {
      const sized = (bytes: number) => {
        const overhead = encodeCommand({ statements: [statement('INSERT INTO t(v) VALUES (?)', '')], transaction: false, timestampMs: 0, seed: 0n }).byteLength;
        return executeRequest([statement('INSERT INTO t(v) VALUES (?)', 'x'.repeat(bytes - overhead))], { queue: true, wait: true });
      };
      await assert.rejects(
        service.execute(sized(batchBytesMax + 1), context),
        (error: unknown) =>
          error instanceof ServiceError && error.code === 'BAD_REQUEST' && new RegExp(`exceeds the batch bound of ${batchBytesMax} bytes`).test(error.message),
      );
      const atBound = service.execute(sized(batchBytesMax), context);
      await node.scheduler.advance(nodeConfigDefaults.writeQueueTimeoutMs);
      await atBound;
      assert.equal(await rowCount(node, service), 1);
    },
    { entryDataBytesMax },
  );
});
