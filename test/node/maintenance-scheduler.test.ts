/**
 * The leader's schedule for rqlited's -auto-vacuum-int and -auto-optimize-int: a
 * maintenance entry once the interval has passed since the last run recorded in the
 * database (or since the node started), only on the leader, one at a time. A real
 * runtime and state machine on a manual clock.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MaintenanceScheduler } from '../../src/node/maintenance-scheduler.js';
import { silentLogger } from '../../src/node/logger.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';

test('the leader proposes VACUUM and statistics refresh at their intervals; a new leader carries on the recorded schedule', async () => {
  const node = await startInMemoryRuntime(['n1'], { autoVacuumIntervalMs: 10_000, autoOptimizeIntervalMs: 25_000 });
  const { runtime, stateMachine, scheduler, config } = node;
  const startedAtMs = scheduler.nowMs();
  const maintenance = new MaintenanceScheduler({ config, log: runtime, database: stateMachine, scheduler, logger: silentLogger });
  try {
    maintenance.start();
    await scheduler.advance(9_000);
    assert.deepEqual([...stateMachine.maintenanceTimes()], [], 'nothing before the first interval');
    await scheduler.advance(1_500);
    await scheduler.settle();
    assert.deepEqual([...stateMachine.maintenanceTimes()], [['vacuum', startedAtMs + 10_000]]);
    await scheduler.advance(15_000);
    await scheduler.settle();
    const times = new Map(stateMachine.maintenanceTimes());
    assert.equal(times.get('vacuum'), startedAtMs + 20_000);
    assert.equal(times.get('optimize'), startedAtMs + 25_000);
    maintenance.stop();
    // A scheduler that starts later (a new leader) goes by the recorded times, not by its own start.
    const successor = new MaintenanceScheduler({ config, log: runtime, database: stateMachine, scheduler, logger: silentLogger });
    successor.start();
    await scheduler.advance(4_000);
    await scheduler.settle();
    assert.equal(new Map(stateMachine.maintenanceTimes()).get('vacuum'), startedAtMs + 20_000);
    await scheduler.advance(6_000);
    await scheduler.settle();
    // Its first check after the recorded run plus the interval (by its own start it would be 35.5 s).
    assert.equal(new Map(stateMachine.maintenanceTimes()).get('vacuum'), startedAtMs + 30_500);
    successor.stop();
  } finally {
    maintenance.stop();
    await node.close();
  }
});

test('a follower never proposes maintenance, and nothing runs when both intervals are 0', async () => {
  const node = await startInMemoryRuntime(['n1'], { autoVacuumIntervalMs: 1_000 });
  const { stateMachine, scheduler, config } = node;
  let proposals = 0;
  const follower = { isLeader: false, stopped: false, propose: () => Promise.reject(new Error(`proposed ${++proposals}`)) };
  const maintenance = new MaintenanceScheduler({ config, log: follower, database: stateMachine, scheduler, logger: silentLogger });
  const off = new MaintenanceScheduler({
    config: { ...config, autoVacuumIntervalMs: 0, autoOptimizeIntervalMs: 0 },
    log: node.runtime,
    database: stateMachine,
    scheduler,
    logger: silentLogger,
  });
  try {
    maintenance.start();
    off.start();
    await scheduler.advance(5_000);
    await scheduler.settle();
    assert.equal(proposals, 0);
    assert.deepEqual([...stateMachine.maintenanceTimes()], []);
  } finally {
    maintenance.stop();
    off.stop();
    await node.close();
  }
});
