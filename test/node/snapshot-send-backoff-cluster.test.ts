/**
 * A follower that answers heartbeats but can take no snapshot (here its transport refuses
 * any snapshot above 1 KiB): the leader's core asks for a transfer at each heartbeat
 * answer. Before the backoff the leader streamed a snapshot and logged a warning every
 * heartbeat for as long as it lasted; now transfers to it wait 250 ms, 500 ms, 1 s, 2 s…
 * and the 1st, 2nd, 4th… failure is logged, with the count and the wait.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger, type NodeLogger } from '../../src/node/logger.js';
import type { QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, statement } from './requests.js';
import { TestNodes } from './start-node.js';

const context = { signal: new AbortController().signal };
const testNodes = new TestNodes('snapshot-backoff');
after(() => testNodes.stopAll());

interface Logged {
  readonly atMs: number;
  readonly fields: Record<string, unknown>;
}

/** How long the test watches the leader's transfers after the first one. */
const watchMs = 3_000;

test('transfers to a follower that refuses every snapshot back off, and their warnings thin out', async () => {
  const sends: Logged[] = [];
  const failures: Logged[] = [];
  const logger: NodeLogger = {
    ...silentLogger,
    info(fields) {
      if (fields.event === 'snapshot-send') sends.push({ atMs: performance.now(), fields });
    },
    warn(fields) {
      if (fields.event === 'snapshot-send-failed') failures.push({ atMs: performance.now(), fields });
    },
  };
  const timers: Partial<QuorumNodeOptions> = {
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    snapshotThresholdEntries: 8,
    snapshotTrailingEntries: 2,
    snapshotIntervalMs: 100,
  };
  const leader = await testNodes.start({ ...timers, logger });
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const joining = { ...timers, joinAddresses: [leader.config.raftAdvertisedAddress] };
  const follower = await testNodes.start({ ...joining, transportLimits: { snapshotBytesMax: 1024 } });
  await testNodes.start(joining);
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);

  // Cut the follower off while the leader writes and compacts its log past it: it can only catch up by a snapshot.
  leader.faults.isolate(follower.config.nodeId);
  follower.faults.isolate(leader.config.nodeId);
  for (let row = 0; row < 30; row++) await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', 'x'.repeat(200))]), context);
  await waitFor('the leader compacted past the follower', () => (leader.runtime.position().firstIndex > follower.runtime.appliedIndex + 1 ? true : undefined));
  assert.equal(sends.length, 0, 'no transfer while cut off');
  leader.faults.heal();
  follower.faults.heal();
  await waitFor('a first transfer was tried', () => (sends.length > 0 ? true : undefined), 20_000);
  const firstAtMs = sends[0]!.atMs;
  await new Promise((resolve) => setTimeout(resolve, watchMs));
  const watchedSends = sends.filter((send) => send.atMs <= firstAtMs + watchMs);
  const watchedFailures = failures.filter((failure) => failure.atMs <= firstAtMs + watchMs);

  // With waits of 250, 500, 1,000 and 2,000 ms after the 1st to 4th failures, 3 s hold at most 4 attempts (5 with slack);
  // at one per heartbeat answer (every 50 ms), they would be dozens.
  assert.ok(watchedSends.length >= 3, `the leader kept trying: ${watchedSends.length} attempts`);
  assert.ok(watchedSends.length <= 5, `the leader backed off: ${watchedSends.length} attempts in ${watchMs} ms`);
  assert.ok(follower.runtime.appliedIndex < leader.runtime.appliedIndex, 'the follower never got the snapshot');
  assert.deepEqual(
    watchedFailures.map((failure) => failure.fields.failures),
    [1, 2, 4].slice(0, watchedFailures.length),
    'the 1st, 2nd and 4th failures in a row are logged',
  );
  assert.ok(watchedFailures.length >= 2, `${watchedFailures.length} warnings`);
  assert.deepEqual(
    watchedFailures.map((failure) => failure.fields.retryInMs),
    [250, 500, 2_000].slice(0, watchedFailures.length),
  );
  assert.match(String(watchedFailures[0]!.fields.error), /snapshotBytesMax|too large|TOO_LARGE/i);
});
