/**
 * The write queue behind `?queue`, on a manual scheduler: batches close at the batch size,
 * at the timeout (and not a millisecond before), when the queue is full, and at the entry's
 * byte and statement bounds; the capacity makes requests wait for room (first come, first
 * served) and time out; a failed batch is sent again under the same id until it commits,
 * unless the refusal cannot change; sequence numbers count up from the start given.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ServiceError } from '../../src/service/service.js';
import { WriteQueue, type QueuedWrite, type WriteBatch, type WriteQueueSettings } from '../../src/node/write-queue.js';
import { ManualScheduler } from './manual-scheduler.js';
import { statement } from './requests.js';

const settings: WriteQueueSettings = {
  capacity: 8,
  heldBytesMax: 1000,
  batchSize: 3,
  timeoutMs: 50,
  batchBytesMax: 100,
  batchStatementCountMax: 10,
  retryDelayMsMin: 10,
  retryDelayMsMax: 40,
};

function write(name: string, options: { bytes?: number; statementCount?: number } = {}): QueuedWrite {
  const statements = Array.from({ length: options.statementCount ?? 1 }, () => statement(`INSERT INTO t(v) VALUES ('${name}')`));
  return { statements, transaction: false, idempotencyKey: null, bytes: options.bytes ?? 10 };
}

const noSignal = new AbortController().signal;

/** A queue whose sends the test answers: each send waits until the test resolves or fails it. */
function harness(overrides: Partial<WriteQueueSettings> = {}) {
  const scheduler = new ManualScheduler();
  const sent: { batch: WriteBatch; resolve: (index: number) => void; reject: (error: unknown) => void }[] = [];
  const queue = new WriteQueue(
    { ...settings, ...overrides },
    {
      scheduler,
      send: (batch) => new Promise<number>((resolve, reject) => sent.push({ batch, resolve, reject })),
      isRetryable: (error) => error instanceof ServiceError && error.code !== 'BAD_REQUEST',
      batchId: (first) => `batch ${first}`,
      sequenceStart: 1000n,
    },
  );
  const names = (index: number) => sent[index]?.batch.writes.map((queued) => (queued.statements[0]?.sql ?? '').replace(/.*'(.*)'.*/, '$1'));
  return { scheduler, sent, queue, names };
}

test('a batch goes at once when it reaches the batch size; the rest wait for the next', async () => {
  const { scheduler, sent, queue, names } = harness();
  const tickets: Awaited<ReturnType<WriteQueue['enqueue']>>[] = [];
  for (const name of ['a', 'b', 'c', 'd']) tickets.push(await queue.enqueue(write(name), 1000, noSignal));
  await scheduler.settle();
  assert.deepEqual(
    tickets.map((ticket) => ticket.sequenceNumber),
    [1001n, 1002n, 1003n, 1004n],
  );
  assert.equal(sent.length, 1, 'one batch of batchSize went without waiting for the timer');
  assert.deepEqual(names(0), ['a', 'b', 'c']);
  assert.equal(sent[0]?.batch.id, 'batch 1001');
  assert.equal(sent[0]?.batch.lastSequenceNumber, 1003n);
  assert.equal(queue.stats().depth, 1);
  // One batch in flight at a time: 'd' waits even once its timer passes.
  await scheduler.advance(settings.timeoutMs * 2);
  assert.equal(sent.length, 1);
  sent[0]?.resolve(7);
  assert.equal(await tickets[0]?.applied, 7);
  await scheduler.settle();
  assert.equal(sent.length, 2, 'the timer already passed: the next batch goes as soon as the first applied');
  assert.deepEqual(names(1), ['d']);
  assert.equal(queue.stats().lastAppliedSequenceNumber, 1003n);
});

test('a batch below the batch size goes when the timeout passes, not a millisecond before', async () => {
  const { scheduler, sent, queue, names } = harness();
  await queue.enqueue(write('a'), 1000, noSignal);
  await scheduler.advance(20);
  await queue.enqueue(write('b'), 1000, noSignal);
  await scheduler.advance(settings.timeoutMs - 20 - 1);
  assert.equal(sent.length, 0, 'the timer runs from the batch’s first request');
  await scheduler.advance(1);
  assert.equal(sent.length, 1);
  assert.deepEqual(names(0), ['a', 'b']);
  assert.equal(queue.stats().timeoutFlushes, 1);
});

test('with timeout 0 a batch goes only when full (or when the queue is full)', async () => {
  const { scheduler, sent, queue } = harness({ timeoutMs: 0 });
  await queue.enqueue(write('a'), 1000, noSignal);
  await queue.enqueue(write('b'), 1000, noSignal);
  await scheduler.advance(60_000);
  assert.equal(sent.length, 0);
  await queue.enqueue(write('c'), 1000, noSignal);
  await scheduler.settle();
  assert.equal(sent.length, 1);
});

test('a batch stops at the byte and statement bounds; a request at the bound alone still goes', async () => {
  const { scheduler, sent, queue, names } = harness({ batchSize: 100 });
  await queue.enqueue(write('a', { bytes: 60 }), 1000, noSignal);
  await queue.enqueue(write('b', { bytes: 40 }), 1000, noSignal);
  await queue.enqueue(write('c', { bytes: 1 }), 1000, noSignal);
  await scheduler.settle();
  assert.equal(sent.length, 1, 'the bytes reached batchBytesMax: the batch went at once');
  assert.deepEqual(names(0), ['a', 'b'], 'exactly batchBytesMax fits; one byte more starts the next batch');
  sent[0]?.resolve(1);
  await scheduler.settle();
  await queue.enqueue(write('d', { statementCount: 9 }), 1000, noSignal);
  await queue.enqueue(write('e', { statementCount: 10 }), 1000, noSignal);
  await scheduler.settle();
  assert.equal(sent.length, 2);
  assert.deepEqual(names(1), ['c', 'd'], '1 + 9 statements is batchStatementCountMax');
  sent[1]?.resolve(2);
  await scheduler.settle();
  assert.equal(sent.length, 3);
  assert.deepEqual(names(2), ['e'], 'a request of batchStatementCountMax statements goes alone');
});

test('at capacity a request waits for room, first come first served, and times out; at most capacity wait', async () => {
  const { scheduler, sent, queue } = harness({ capacity: 2, batchSize: 2 });
  const first = await queue.enqueue(write('a'), 1000, noSignal);
  await queue.enqueue(write('b'), 1000, noSignal);
  await scheduler.settle();
  assert.equal(sent.length, 1, 'full: the batch went');
  // The two in flight fill the queue: the next requests wait.
  const late = queue.enqueue(write('late'), 30, noSignal);
  const waiting = queue.enqueue(write('c'), 1000, noSignal);
  await assert.rejects(queue.enqueue(write('refused'), 1000, noSignal), (error: unknown) => error instanceof ServiceError && error.code === 'UNAVAILABLE');
  assert.equal(queue.stats().blocked, 2);
  const lateRefused = assert.rejects(
    late,
    (error: unknown) => error instanceof ServiceError && error.code === 'TIMEOUT' && /write queue full/.test(error.message),
  );
  await scheduler.advance(30);
  await lateRefused;
  const aborted = new AbortController();
  const abandoned = queue.enqueue(write('abandoned'), 1000, aborted.signal);
  aborted.abort();
  await assert.rejects(abandoned, (error: unknown) => error instanceof ServiceError && error.code === 'TIMEOUT');
  sent[0]?.resolve(5);
  await first.applied;
  const admitted = await waiting;
  assert.equal(admitted.sequenceNumber, 1003n, 'a number is handed out on admission: the requests that gave up waiting never got one');
  assert.equal(queue.stats().blocked, 0);
});

test('byte capacity: requests wait for room when the held bytes would pass heldBytesMax', async () => {
  const { scheduler, sent, queue } = harness({ heldBytesMax: 100, batchSize: 100, capacity: 100 });
  await queue.enqueue(write('a', { bytes: 100 }), 1000, noSignal);
  const waiting = queue.enqueue(write('b', { bytes: 1 }), 1000, noSignal);
  await scheduler.settle();
  assert.equal(sent.length, 1, 'a request waiting for room sends the batch at once');
  assert.equal(queue.stats().blocked, 1);
  sent[0]?.resolve(1);
  await waiting;
  assert.equal(queue.stats().blocked, 0);
});

test('a batch whose send fails is sent again under the same id until it commits; a lasting refusal fails its requests', async () => {
  const { scheduler, sent, queue } = harness({ batchSize: 1 });
  const ticket = await queue.enqueue(write('a'), 1000, noSignal);
  const next = await queue.enqueue(write('b'), 1000, noSignal);
  await scheduler.settle();
  sent[0]?.reject(new ServiceError('UNAVAILABLE', 'leader lost while forwarding'));
  await scheduler.settle();
  assert.equal(sent.length, 1, 'no resend before the retry delay');
  await scheduler.advance(settings.retryDelayMsMin);
  assert.equal(sent.length, 2);
  sent[1]?.reject(new ServiceError('NO_LEADER', 'leader not found'));
  await scheduler.settle();
  await scheduler.advance(settings.retryDelayMsMin * 2 - 1);
  assert.equal(sent.length, 2, 'the delay doubles');
  await scheduler.advance(1);
  assert.equal(sent.length, 3);
  assert.deepEqual(
    sent.map((item) => item.batch.id),
    ['batch 1001', 'batch 1001', 'batch 1001'],
  );
  sent[2]?.resolve(9);
  assert.equal(await ticket.applied, 9);
  assert.equal(queue.stats().retries, 2);
  await scheduler.settle();
  assert.equal(sent[3]?.batch.id, 'batch 1002');
  sent[3]?.reject(new ServiceError('BAD_REQUEST', 'statement refused'));
  await assert.rejects(next.applied, (error: unknown) => error instanceof ServiceError && error.code === 'BAD_REQUEST');
  assert.equal(queue.stats().batchesFailed, 1);
});

test('drain sends what is held at once; close fails what is left', async () => {
  const { scheduler, sent, queue } = harness();
  const held = await queue.enqueue(write('a'), 1000, noSignal);
  const drained = queue.drain(1000);
  await scheduler.settle();
  assert.equal(sent.length, 1, 'drain does not wait for the timer');
  sent[0]?.resolve(3);
  await drained;
  await held.applied;
  const left = await queue.enqueue(write('b'), 1000, noSignal);
  queue.close(new ServiceError('UNAVAILABLE', 'node is shutting down'));
  await assert.rejects(left.applied, (error: unknown) => error instanceof ServiceError && error.code === 'UNAVAILABLE');
  await assert.rejects(queue.enqueue(write('c'), 1000, noSignal), (error: unknown) => error instanceof ServiceError && error.code === 'UNAVAILABLE');
});

test("a batch holds one database's writes: another database's write ends it, and the batch names its database", async () => {
  const { scheduler, sent, queue, names } = harness({ batchSize: 10 });
  const inDatabase = (name: string, database: string | undefined): QueuedWrite => ({ ...write(name), database });
  for (const [name, database] of [
    ['a', undefined],
    ['b', undefined],
    ['c', 'x'],
    ['d', 'x'],
    ['e', undefined],
  ] as const) {
    await queue.enqueue(inDatabase(name, database), 1000, noSignal);
  }
  await scheduler.settle();
  assert.equal(sent.length, 1, 'the first batch went at once: a write of another database follows it');
  assert.deepEqual(names(0), ['a', 'b']);
  assert.equal(sent[0]?.batch.database, undefined);
  sent[0]?.resolve(1);
  await scheduler.settle();
  assert.deepEqual(names(1), ['c', 'd']);
  assert.equal(sent[1]?.batch.database, 'x');
  sent[1]?.resolve(2);
  await scheduler.advance(settings.timeoutMs);
  assert.deepEqual(names(2), ['e'], 'the last one waits for its timer, as any batch not full');
  assert.equal(sent[2]?.batch.database, undefined);
});
