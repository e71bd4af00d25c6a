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
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NodeLogger, silentLogger } from '../../src/node/logger.js';
import type { QuorumNode, QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { TestNodes } from './start-node.js';

const context = { signal: new AbortController().signal };
const testNodes = new TestNodes('install-disk-full');
const mountPoint = mkdtempSync(join(tmpdir(), 'quorumlite-install-full-'));
const tmpfsBytes = 96 * 1024 * 1024;
const rowCount = 40;
/** 8 MB of rows: the staged copy needs well over the slack left. */
const rowBytes = 200 * 1024;
let mounted = false;

after(async () => {
  await testNodes.stopAll();
  if (mounted) execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' });
  rmSync(mountPoint, { recursive: true, force: true });
});

function tryMount(): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root, cannot mount a tmpfs';
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${tmpfsBytes}`, 'tmpfs', mountPoint], { stdio: 'pipe' });
    mounted = true;
    return undefined;
  } catch (error) {
    return `cannot mount a tmpfs (${(error as Error).message.split('\n')[0]})`;
  }
}

/** Room left on the disk for the follower's log saves while its snapshot is staged (a few MiB less than the staged copy needs). */
const slackBytes = 2 * 1024 * 1024;

/** Writes a filler file that leaves `freeBytes` free on the file system at `directory` (to within a page or so). */
function fillLeaving(directory: string, freeBytes: number): string {
  const stats = statfsSync(directory);
  const fillerBytes = stats.bavail * stats.bsize - freeBytes;
  const path = join(directory, 'filler');
  if (fillerBytes <= 0) return path;
  const descriptor = openSync(path, 'w');
  const chunk = Buffer.alloc(1024 * 1024, 1);
  try {
    for (let written = 0; written < fillerBytes; ) written += writeSync(descriptor, chunk, 0, Math.min(chunk.length, fillerBytes - written));
  } finally {
    closeSync(descriptor);
  }
  return path;
}

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
  const reason = tryMount();
  if (reason !== undefined) {
    console.log(`skipped: ${reason}`);
    t.skip(reason);
    return;
  }
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
    filler = fillLeaving(mountPoint, slackBytes);
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
