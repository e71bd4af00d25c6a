import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PendingProposals } from '../../src/node/pending-proposals.js';
import { AppliedWaiters } from '../../src/node/applied-waiters.js';
import { PendingReads } from '../../src/node/pending-reads.js';
import { planTicks } from '../../src/node/timing.js';
import { systemScheduler } from '../../src/node/scheduler.js';
import { ServiceError } from '../../src/service/service.js';

function code(expected: string): (error: unknown) => boolean {
  return (error) => error instanceof ServiceError && error.code === expected;
}

test('a proposal resolves when its index applies with its term', async () => {
  const pending = new PendingProposals<string>(4);
  const waiting = pending.wait(7, 2);
  pending.applied(6, 2, 'other');
  assert.equal(pending.count, 1);
  pending.applied(7, 2, 'ours');
  assert.equal(await waiting, 'ours');
  assert.equal(pending.count, 0);
});

test("a proposal fails when another term's entry lands at its index", async () => {
  const pending = new PendingProposals<string>(4);
  const waiting = pending.wait(7, 2);
  pending.applied(7, 3, 'theirs');
  await assert.rejects(waiting, code('UNAVAILABLE'));
});

test('leadership loss fails every waiting proposal at once', async () => {
  const pending = new PendingProposals<string>(4);
  const first = pending.wait(1, 1);
  const second = pending.wait(2, 1);
  pending.failAll(new ServiceError('UNAVAILABLE', 'leadership lost'));
  await assert.rejects(first, /leadership lost/);
  await assert.rejects(second, /leadership lost/);
  assert.equal(pending.count, 0);
});

test('the proposal table is bounded: at the bound it refuses', async () => {
  const pending = new PendingProposals<string>(2);
  const waits = [pending.wait(1, 1), pending.wait(2, 1)];
  assert.equal(pending.hasRoom(), false);
  assert.throws(() => pending.wait(3, 1), code('UNAVAILABLE'));
  pending.applied(1, 1, 'a');
  assert.equal(pending.hasRoom(), true);
  pending.applied(2, 1, 'b');
  assert.deepEqual(await Promise.all(waits), ['a', 'b']);
});

test('a second waiter at the same index is a programmer error', () => {
  const pending = new PendingProposals<string>(2);
  void pending.wait(1, 1).catch(() => undefined);
  assert.throws(() => pending.wait(1, 1), /assertion/);
  pending.failAll(new Error('cleanup'));
});

test('applied waiters release in index order and time out', async () => {
  const waiters = new AppliedWaiters(5, 3, systemScheduler);
  await waiters.wait(5, 1000); // already applied
  const released: number[] = [];
  const seven = waiters.wait(7, 10_000).then(() => released.push(7));
  const six = waiters.wait(6, 10_000).then(() => released.push(6));
  const late = waiters.wait(100, 20);
  await assert.rejects(waiters.wait(8, 1000), code('UNAVAILABLE')); // bound of 3 reached
  waiters.advance(6);
  await six;
  assert.deepEqual(released, [6]);
  waiters.advance(9);
  await seven;
  assert.deepEqual(released, [6, 7]);
  await assert.rejects(late, code('TIMEOUT'));
  assert.equal(waiters.count, 0);
  assert.throws(() => waiters.advance(8), /assertion/);
});

test('applied waiters fail all on stop', async () => {
  const waiters = new AppliedWaiters(0, 2, systemScheduler);
  const waiting = waiters.wait(3, 10_000);
  waiters.failAll(new ServiceError('UNAVAILABLE', 'stopping'));
  await assert.rejects(waiting, /stopping/);
});

test('ReadIndex reads: confirmed, failed, bounded, timed out', async () => {
  const contexts: Uint8Array[] = [];
  const reads = new PendingReads({ countMax: 2, retryMs: 60_000 }, systemScheduler, (context) => {
    contexts.push(context);
    return false;
  });
  const first = reads.join(10_000);
  const second = reads.join(10_000); // joins the next round: the first is in flight
  await assert.rejects(reads.join(10_000), code('UNAVAILABLE'));
  reads.confirmed(contexts[0] as Uint8Array, 42);
  assert.equal(contexts.length, 2, 'the second read got a round of its own once the first ended');
  assert.notDeepEqual(contexts[0], contexts[1]);
  reads.failed(contexts[1] as Uint8Array, new ServiceError('NOT_LEADER', 'lost'));
  assert.equal(await first, 42);
  await assert.rejects(second, code('NOT_LEADER'));
  const timing = reads.join(10);
  await assert.rejects(timing, code('TIMEOUT'));
  reads.confirmed(contexts[2] as Uint8Array, 1); // late answer for a timed-out read is ignored
  assert.equal(reads.count, 0);
});

test('tick plan: heartbeats land on ticks, elections have resolution', () => {
  assert.deepEqual(planTicks(100, 1000), { tickMs: 100, heartbeatTicks: 1, electionTicks: 10 });
  assert.deepEqual(planTicks(50, 1000), { tickMs: 50, heartbeatTicks: 1, electionTicks: 20 });
  assert.deepEqual(planTicks(200, 1000), { tickMs: 100, heartbeatTicks: 2, electionTicks: 10 });
  assert.throws(() => planTicks(100, 150), /must be >= 2/);
  assert.throws(() => planTicks(1, 150), /heartbeatMs/);
});

test('ReadIndex read contexts never repeat across a restart (a leader may still answer the earlier incarnation by context)', () => {
  const clockAt = (nowMs: number) => ({ ...systemScheduler, nowMs: () => nowMs });
  const contexts: Uint8Array[] = [];
  const record = (context: Uint8Array): boolean => {
    contexts.push(context);
    return false;
  };
  const before = new PendingReads({ countMax: 4, retryMs: 60_000 }, clockAt(1_000), record);
  const afterRestart = new PendingReads({ countMax: 4, retryMs: 60_000 }, clockAt(1_250), record);
  const first = before.join(60_000);
  const second = afterRestart.join(60_000);
  assert.notDeepEqual(contexts[0], contexts[1], 'the same sequence number in two incarnations');
  before.failAll(new Error('stop'));
  afterRestart.failAll(new Error('stop'));
  first.catch(() => undefined);
  second.catch(() => undefined);
});
