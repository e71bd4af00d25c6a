/**
 * waitForLeader (src/node/leader-wait.ts), behind `/status?leader_not=ID` and every
 * waitForLeaderChange: it answers when the leader becomes one the caller accepts (for
 * leader_not: a leader other than ID), at its wait bound, or when the caller goes away,
 * whichever comes first, and it leaves no timer or listener behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leaderChangeWithin, leaderOtherThan, waitForLeader } from '../../src/node/leader-wait.js';
import { ServiceError } from '../../src/service/service.js';
import { ManualScheduler } from './manual-scheduler.js';

class FakeLeadership {
  leaderId = 'n1';
  readonly listeners = new Set<() => void>();

  subscribeLeaderChanges(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  elect(id: string): void {
    this.leaderId = id;
    for (const listener of [...this.listeners]) listener();
  }
}

async function settledWithin(promise: Promise<unknown>, turns: number): Promise<boolean> {
  let settled = false;
  void promise.then(() => {
    settled = true;
  });
  for (let turn = 0; turn < turns; turn++) await new Promise((resolve) => setImmediate(resolve));
  return settled;
}

test('answers when a leader other than the named one is known: not during the election, at once if one already is', async () => {
  const scheduler = new ManualScheduler();
  const log = new FakeLeadership();
  assert.equal(
    await settledWithin(waitForLeader(log, scheduler, leaderOtherThan('n2'), 10_000, new AbortController().signal), 2),
    true,
    'another node leads already',
  );
  const waiting = waitForLeader(log, scheduler, leaderOtherThan('n1'), 10_000, new AbortController().signal);
  log.elect('');
  assert.equal(await settledWithin(waiting, 3), false, 'no leader yet');
  log.elect('n3');
  assert.equal(await settledWithin(waiting, 3), true);
  assert.equal(await waiting, true, 'the leader it waited for came');
  assert.equal(log.listeners.size, 0, 'its listener is gone');
  assert.equal(scheduler.pendingTimerCount, 0, 'its timer is cancelled');
});

test('answers after waitMs with no new leader, or when the caller goes away, and leaves nothing behind', async () => {
  const scheduler = new ManualScheduler();
  const log = new FakeLeadership();
  const timedOut = waitForLeader(log, scheduler, leaderOtherThan('n1'), 500, new AbortController().signal);
  await scheduler.advance(499);
  assert.equal(await settledWithin(timedOut, 3), false);
  await scheduler.advance(1);
  assert.equal(await settledWithin(timedOut, 3), true);
  assert.equal(await timedOut, false, 'no leader other than n1 came');
  assert.equal(log.listeners.size, 0);

  const caller = new AbortController();
  const abandoned = waitForLeader(log, scheduler, leaderOtherThan('n1'), 10_000, caller.signal);
  assert.equal(await settledWithin(abandoned, 3), false);
  caller.abort();
  assert.equal(await settledWithin(abandoned, 3), true);
  assert.equal(await abandoned, false);
  assert.equal(log.listeners.size, 0);
  assert.equal(scheduler.pendingTimerCount, 0);
});

test('leaderChangeWithin, the waitForLeaderChange of the runtime and the etcd log, is TIMEOUT at its bound and nothing sooner', async () => {
  const scheduler = new ManualScheduler();
  const log = new FakeLeadership();
  const handedOver = leaderChangeWithin(log, scheduler, 1_000, (id) => id === 'n2');
  log.elect('n2');
  await handedOver;
  const failed = leaderChangeWithin(log, scheduler, 1_000, (id) => id === 'n3');
  const outcome = failed.then(
    () => 'resolved',
    (error: unknown) => error,
  );
  await scheduler.advance(999);
  assert.equal(await settledWithin(outcome, 3), false);
  await scheduler.advance(1);
  const error = await outcome;
  assert.ok(error instanceof ServiceError && error.code === 'TIMEOUT', String(error));
  assert.equal(log.listeners.size, 0);
  assert.equal(scheduler.pendingTimerCount, 0);
});
