/**
 * `/status?leader_not=ID` waits in leaderOtherThan (src/node/leader-wait.ts): until the
 * node knows a leader other than ID, its wait bound, or the caller going away, whichever
 * comes first, and it leaves no timer or listener behind.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { leaderOtherThan } from '../../src/node/leader-wait.js';
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

async function settledWithin(promise: Promise<void>, turns: number): Promise<boolean> {
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
  assert.equal(await settledWithin(leaderOtherThan(log, scheduler, 'n2', 10_000, new AbortController().signal), 2), true, 'another node leads already');
  const waiting = leaderOtherThan(log, scheduler, 'n1', 10_000, new AbortController().signal);
  log.elect('');
  assert.equal(await settledWithin(waiting, 3), false, 'no leader yet');
  log.elect('n3');
  assert.equal(await settledWithin(waiting, 3), true);
  assert.equal(log.listeners.size, 0, 'its listener is gone');
  assert.equal(scheduler.pendingTimerCount, 0, 'its timer is cancelled');
});

test('answers after waitMs with no new leader, or when the caller goes away, and leaves nothing behind', async () => {
  const scheduler = new ManualScheduler();
  const log = new FakeLeadership();
  const timedOut = leaderOtherThan(log, scheduler, 'n1', 500, new AbortController().signal);
  await scheduler.advance(499);
  assert.equal(await settledWithin(timedOut, 3), false);
  await scheduler.advance(1);
  assert.equal(await settledWithin(timedOut, 3), true);
  assert.equal(log.listeners.size, 0);

  const caller = new AbortController();
  const abandoned = leaderOtherThan(log, scheduler, 'n1', 10_000, caller.signal);
  assert.equal(await settledWithin(abandoned, 3), false);
  caller.abort();
  assert.equal(await settledWithin(abandoned, 3), true);
  assert.equal(log.listeners.size, 0);
  assert.equal(scheduler.pendingTimerCount, 0);
});
