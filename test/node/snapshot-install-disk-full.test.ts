/**
 * Found by the fault suite (`npm test`, bounded list-append with a full disk): a follower
 * received a snapshot, then staging its copy beside the database met a full disk. The
 * worker thread's ENOSPC reached the runtime as BAD_SNAPSHOT, not an environmental
 * failure, so the Ready loop stopped hard (`event: fatal`) and the process died. Now the
 * worker's answer carries the error's code, the state machine reports ENVIRONMENT, and
 * the Ready loop halts and retries the install until space returns. Needs root for a
 * size-limited tmpfs; skips with a printed reason otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { type NodeLogger, silentLogger } from '../../src/node/logger.js';
import type { QuorumNode, QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { TestNodes } from './start-node.js';
import { fillDisk, mountSmallDisk } from '../small-disk.js';

const context = { signal: new AbortController().signal };
const testNodes = new TestNodes('install-disk-full');
const disk = mountSmallDisk('install-full', 96 * 1024 * 1024);
const mountPoint = disk.path;
const rowCount = 40;
/** 8 MB of rows: the staged copy needs well over the slack left. */
const rowBytes = 200 * 1024;

after(async () => {
  try {
    await testNodes.stopAll();
  } finally {
    disk.remove();
  }
});

/** Room left on the disk for the follower's log saves while its snapshot is staged (a few MiB less than the staged copy needs). */
const slackBytes = 2 * 1024 * 1024;

/**
 * A logger that fills the disk the moment the snapshot file has arrived (logged before the
 * core hears of it, so before the install stages its copy): the file fits, its copy does not.
 */
function fillingOnReceipt(fill: () => void): NodeLogger {
  let filled = false;
  return {
    ...silentLogger,
    info(fields) {
      if (fields.event !== 'snapshot-received' || filled) return;
      filled = true;
      fill();
    },
  };
}

test('a snapshot install that meets a full disk halts the follower and is retried; with space back it catches up, and the process never dies', async (t) => {
  if (disk.skipped(t)) return;
  const fatal: Error[] = [];
  const timers: Partial<QuorumNodeOptions> = {
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    haltRetryIntervalMs: 100,
    snapshotThresholdEntries: 8,
    snapshotTrailingEntries: 2,
    snapshotIntervalMs: 100,
    onFatal: (error) => fatal.push(error),
  };
  const leader = await testNodes.start(timers);
  await waitFor('the first node leads', () => (leader.runtime.isLeader ? true : undefined));
  const joining = { ...timers, joinAddresses: [leader.config.raftAdvertisedAddress] };
  let filler: string | undefined;
  const logger = fillingOnReceipt(() => {
    filler = fillDisk(mountPoint, slackBytes);
  });
  const follower: QuorumNode = await testNodes.start({ ...joining, dataDirectory: join(mountPoint, 'follower'), logger });
  await testNodes.start(joining);
  await waitFor('three voters', () => (leader.runtime.confState().voters.length === 3 ? true : undefined));
  await leader.service.execute(executeRequest([statement('CREATE TABLE t (v BLOB)')]), context);
  await waitFor('the follower has the table', () => (follower.runtime.appliedIndex >= leader.runtime.appliedIndex ? true : undefined));

  // Cut the follower off while the leader writes and compacts its log past it: it can only catch up by a snapshot.
  leader.faults.isolate(follower.config.nodeId);
  follower.faults.isolate(leader.config.nodeId);
  for (let row = 0; row < rowCount; row++) {
    await leader.service.execute(executeRequest([statement('INSERT INTO t VALUES (zeroblob(?))', rowBytes + row)]), context);
  }
  await waitFor('the leader compacted past the follower', () => (leader.runtime.position().firstIndex > follower.runtime.appliedIndex + 1 ? true : undefined));
  leader.faults.heal();
  follower.faults.heal();

  await waitFor(
    'the follower halts on its full disk',
    () => ((follower.runtime.haltError as { code?: string } | undefined)?.code === 'ENVIRONMENT' ? true : undefined),
    30_000,
  );
  assert.deepEqual(fatal, [], 'the process did not stop hard');
  assert.ok(filler !== undefined, 'the disk was filled when the snapshot arrived');
  unlinkSync(filler);
  // The halt clears once the whole install is done (the restore, then recording it in the store).
  await waitFor(
    'the follower installed, caught up and resumed',
    () => (follower.runtime.appliedIndex >= leader.runtime.appliedIndex && follower.runtime.haltError === undefined ? true : undefined),
    30_000,
  );
  const read = await follower.service.query(queryRequest('SELECT count(*) FROM t', { level: 'none' }), context);
  assert.deepEqual((read.results[0] as { rows?: unknown }).rows, [[rowCount]]);
  assert.deepEqual(fatal, []);
});
