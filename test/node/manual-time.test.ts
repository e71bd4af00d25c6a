/**
 * The runtime's only source of time is the Scheduler in its dependencies: with a manual
 * one, real time passing changes nothing, and elections, timeouts and retries happen
 * exactly when the test advances the clock. (What a deterministic simulator needs.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleepReal } from 'node:timers/promises';
import { ServiceError } from '../../src/service/service.js';
import { decodeCommand } from '../../src/state-machine/command-codec.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';

function hasCode(expected: string): (error: unknown) => boolean {
  return (error) => error instanceof ServiceError && error.code === expected;
}

test('a follower campaigns only when the scheduler’s clock passes its election timeout, never on real time', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, transport, config } = node;
    assert.equal(runtime.role, 'follower');
    assert.equal(transport.sent.length, 0);
    // Three election timeouts of real time: nothing happens.
    await sleepReal(config.electionTimeoutMs * 3);
    await scheduler.settle();
    assert.equal(transport.sent.length, 0, 'no message without the scheduler’s clock moving');
    assert.equal(runtime.role, 'follower');
    // Less than the election timeout on the scheduler's clock: still nothing.
    await scheduler.advance(config.electionTimeoutMs - runtime.tickPlan.tickMs);
    assert.equal(transport.sent.length, 0);
    // The randomised timeout is below twice the configured one: by then it has campaigned.
    await scheduler.advance(config.electionTimeoutMs + runtime.tickPlan.tickMs);
    const preVotes = transport.sent.filter((message) => message.type === 'MsgPreVote');
    assert.deepEqual(preVotes.map((message) => message.to).sort(), ['n2', 'n3']);
    assert.equal(runtime.role, 'pre-candidate');
  } finally {
    await node.close();
  }
});

test('a waiter times out only when the scheduler’s clock reaches its timeout', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler } = node;
    let outcome: unknown = 'pending';
    const timeoutMs = 5000;
    runtime.waitForApplied(1_000, timeoutMs).then(
      () => {
        outcome = 'resolved';
      },
      (error: unknown) => {
        outcome = error;
      },
    );
    await sleepReal(50);
    await scheduler.advance(timeoutMs - 1);
    assert.equal(outcome, 'pending');
    await scheduler.advance(1);
    assert.ok(hasCode('TIMEOUT')(outcome), String(outcome));
  } finally {
    await node.close();
  }
});

test('a single voter leads and commits with no time passing: its Ready turns run on the scheduler, its commands carry its clock', async () => {
  const node = await startInMemoryRuntime(['n1']);
  try {
    const { runtime, scheduler, stateMachine } = node;
    assert.equal(runtime.isLeader, true);
    const command = runtime.encodeCommandFor([{ sql: 'CREATE TABLE t (v TEXT)', positional: [], named: {} }], false, null);
    assert.equal(decodeCommand(command).timestampMs, scheduler.nowMs(), 'a command carries the scheduler’s clock');
    const written = runtime.propose(command, 10_000);
    await scheduler.settle();
    const outcome = await written;
    assert.equal(stateMachine.appliedIndex, outcome.index);
    assert.equal(scheduler.monotonicMs(), 0, 'the clock never moved');
  } finally {
    await node.close();
  }
});
