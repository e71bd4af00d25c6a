/**
 * The reaper's rules with time under the test's control: who is reaped, when, and when
 * not (a member still heard from, timeouts of 0, a non-leader, a voter whose removal would
 * leave no quorum the leader hears from, a member added late).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { NodeLogger } from '../../src/node/logger.js';
import { Reaper, reapCheckIntervalMsMax } from '../../src/node/reaper.js';
import type { NodeId } from '../../src/raft/types.js';
import { ManualScheduler } from './manual-scheduler.js';

class FakeLog {
  isLeader = true;
  stopped = false;
  voters: NodeId[] = ['n1', 'n2', 'n3'];
  learners: NodeId[] = [];
  /** Monotonic ms of each peer's last message. */
  readonly contactMs = new Map<NodeId, number>();
  constructor(readonly scheduler: ManualScheduler) {}

  confState(): { voters: NodeId[]; learners: NodeId[] } {
    return { voters: this.voters, learners: this.learners };
  }

  peerSilenceMs(id: NodeId): number {
    return this.scheduler.monotonicMs() - (this.contactMs.get(id) ?? 0);
  }

  /** Every member except `silent` answers now. */
  hearAllBut(...silent: NodeId[]): void {
    for (const id of [...this.voters, ...this.learners]) if (!silent.includes(id)) this.contactMs.set(id, this.scheduler.monotonicMs());
  }
}

function recordingLogger(events: string[]): NodeLogger {
  const record = (fields: Record<string, unknown>): void => {
    events.push(String(fields.event));
  };
  return { debug: record, info: record, warn: record, error: record };
}

function setUp(timeouts: { reapNodeTimeoutMs: number; reapReadOnlyNodeTimeoutMs: number }) {
  const scheduler = new ManualScheduler();
  const log = new FakeLog(scheduler);
  const removed: NodeId[] = [];
  const events: string[] = [];
  const reaper = new Reaper({
    config: { nodeId: 'n1', heartbeatMs: 50, electionTimeoutMs: 500, ...timeouts },
    log,
    removeMember: async (id) => {
      removed.push(id);
      log.voters = log.voters.filter((voter) => voter !== id);
      log.learners = log.learners.filter((learner) => learner !== id);
    },
    scheduler,
    logger: recordingLogger(events),
  });
  reaper.start();
  /** Advances time in heartbeat steps; every member but `silent` keeps answering. */
  const run = async (ms: number, ...silent: NodeId[]): Promise<void> => {
    for (let elapsed = 0; elapsed < ms; elapsed += 50) {
      log.hearAllBut(...silent);
      await scheduler.advance(50);
    }
  };
  return { scheduler, log, removed, events, reaper, run };
}

test('a voter silent past -raft-reap-node-timeout is reaped, once, and logged; members that answer never are', async () => {
  const { removed, events, run } = setUp({ reapNodeTimeoutMs: 3_000, reapReadOnlyNodeTimeoutMs: 0 });
  await run(10_000);
  assert.deepEqual(removed, [], 'everyone answers');
  await run(2_900, 'n3');
  assert.deepEqual(removed, [], 'not yet past the timeout');
  await run(3_000 + reapCheckIntervalMsMax, 'n3');
  assert.deepEqual(removed, ['n3']);
  assert.ok(events.includes('reap') && events.includes('reaped'));
});

test('non-voters have their own timeout; 0 never reaps', async () => {
  const { log, removed, run } = setUp({ reapNodeTimeoutMs: 0, reapReadOnlyNodeTimeoutMs: 1_000 });
  log.learners = ['r1'];
  await run(5_000, 'n3', 'r1');
  assert.deepEqual(removed, ['r1'], 'the silent voter is kept: its timeout is 0');
});

test('a voter is not reaped while the voters left would hold no quorum the leader hears from', async () => {
  const { log, removed, events, run } = setUp({ reapNodeTimeoutMs: 1_000, reapReadOnlyNodeTimeoutMs: 0 });
  log.voters = ['n1', 'n2', 'n3', 'n4', 'n5'];
  // n2..n4 silent: without any one of them, four voters remain and the leader hears one other.
  await run(3_000, 'n2', 'n3', 'n4');
  assert.deepEqual(removed, []);
  assert.ok(events.includes('reap-deferred'));
  // n2 silent alone: it goes.
  await run(3_000, 'n2');
  assert.deepEqual(removed, ['n2']);
});

test('only the leader reaps, and a new leader or a newly added member starts the clock again', async () => {
  const { log, removed, run, scheduler } = setUp({ reapNodeTimeoutMs: 2_000, reapReadOnlyNodeTimeoutMs: 2_000 });
  log.isLeader = false;
  await run(5_000, 'n3');
  assert.deepEqual(removed, [], 'a follower reaps nothing');
  // This node becomes leader: its contact with n3 counts from now (its peerSilenceMs starts there).
  log.isLeader = true;
  log.contactMs.set('n3', scheduler.monotonicMs());
  await run(1_500, 'n3');
  assert.deepEqual(removed, []);
  // A learner added with no contact at all still gets its whole timeout from when the leader first saw it.
  log.learners = ['r9'];
  await run(3_000, 'n3', 'r9');
  assert.deepEqual(removed, ['n3']);
  await run(1_500, 'r9');
  assert.deepEqual(removed, ['n3', 'r9']);
});

test('stop() ends the checks', async () => {
  const { removed, reaper, run } = setUp({ reapNodeTimeoutMs: 500, reapReadOnlyNodeTimeoutMs: 0 });
  reaper.stop();
  await run(5_000, 'n3');
  assert.deepEqual(removed, []);
});
