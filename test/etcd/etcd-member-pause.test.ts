/**
 * `--consensus etcd` with one etcd member hung (SIGSTOP: a GC pause, a stalled disk, a
 * starved process): etcd's other two members go on, and so must the nodes. Calls that
 * reached the hung member hang until their deadline; the nodes' lease, appends, reads
 * and watches must move to the live members well within a lease.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TestCluster } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';
import { diagnoseLongGap, writeThroughFault } from './background-writer.js';

const prefix = `/quorumlite-member-pause-${process.pid}`;
const leaseTtlSeconds = 2;
/** The longest stretch without an acknowledged write we accept while one etcd member of three hangs. */
const gapMsMax = leaseTtlSeconds * 1000 + 3_000;
const pauseMs = 7_000;

describe('--consensus etcd with one etcd member hung', { concurrency: false }, () => {
  let etcd: EtcdCluster;
  let cluster: TestCluster;

  before(async () => {
    etcd = await EtcdCluster.start({ size: 3 });
    cluster = await TestCluster.create({
      size: 3,
      formation: 'etcd',
      etcd: { endpoints: etcd.endpoints, prefix },
      flags: ['--etcd-lease-ttl', String(leaseTtlSeconds), '--log-level', 'info'],
    });
    await cluster.start();
    const leader = await cluster.waitForLeader();
    const created = await leader.execute(['CREATE TABLE fruit (id INTEGER PRIMARY KEY, name TEXT NOT NULL)']);
    assert.equal(created.status, 200, created.text);
  });

  after(async () => {
    for (const index of [0, 1, 2]) etcd?.resume(index);
    await cluster?.close();
    await etcd?.close();
  });

  test('each etcd member paused in turn: writes go on', async (t) =>
    cluster.withLogs(async () => {
      const gapsMs: number[] = [];
      for (const paused of [0, 1, 2]) {
        const fault = { start: () => etcd.pause(paused), end: () => etcd.resume(paused) };
        const run = await writeThroughFault(cluster, `etcd${paused + 1} paused`, fault, { faultMs: pauseMs, settleMs: 1_500 });
        t.diagnostic(
          `etcd${paused + 1} paused for ${pauseMs / 1000} s: ${run.acknowledgedCount} writes acknowledged, longest gap ${Math.round(run.longestGapMs)} ms`,
        );
        diagnoseLongGap((line) => t.diagnostic(line), cluster, etcd, run);
        gapsMs.push(run.longestGapMs);
      }
      for (const gapMs of gapsMs) assert.ok(gapMs <= gapMsMax, `writes stalled ${Math.round(gapMs)} ms while one etcd member of three was paused`);
    }));
});
