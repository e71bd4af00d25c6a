/**
 * Cluster scenarios of the embedded Raft's tests, run unchanged on the etcd log
 * (`--consensus etcd`, real processes, a 1-member etcd: etcd's own faults are
 * etcd-failover.test.ts's): interactive transactions (concurrent increments, bank
 * transfers, forwarding from a follower, a leader killed with transactions open) from
 * interactive-transactions-scenario.ts, and linearizable follower reads (served by the
 * follower, redirect and strong by the leader, never stale across a leader kill) from
 * follower-reads-scenario.ts. One cluster for all of them; killed nodes restart between.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { createClient, type Client } from '../../src/client/index.js';
import { followerAnswersLinearizableReads, followerReadsAcrossLeaderKill } from '../cluster/follower-reads-scenario.js';
import { TestCluster } from '../cluster/harness.js';
import {
  bankTransfers,
  concurrentIncrements,
  followerForwardsTransactions,
  leaderKilledWithOpenTransactions,
} from '../cluster/interactive-transactions-scenario.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefix = `/quorumlite-scenarios-${process.pid}`;

let etcd: EtcdCluster;
let cluster: TestCluster;
let db: Client;

before(async () => {
  etcd = await EtcdCluster.start({ size: 1 });
  cluster = await TestCluster.create({ size: 3, formation: 'etcd', etcd: { endpoints: etcd.endpoints, prefix }, firstHostIndex: 11 });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  await cluster.waitForLeader();
  db = createClient({ nodes: cluster.nodes.map((node) => node.url), retry: { initialDelayMs: 5, delayMsMax: 200 } });
});

after(async () => {
  await db?.close();
  await cluster?.close();
  await etcd?.close();
});

/** A node a scenario killed starts again on its data (the next scenario wants three). */
async function restartKilled(): Promise<void> {
  for (const node of cluster.nodes) if (!node.running) node.start(cluster.flagsFor(node));
  await cluster.waitForConvergence();
}

test('interactive transactions: 20 concurrent increments end at exactly 20', () => cluster.withLogs(() => concurrentIncrements(cluster, db)));

test('interactive transactions: concurrent bank transfers keep the total constant in every read', () => cluster.withLogs(() => bankTransfers(cluster, db)));

test('interactive transactions: a follower forwards every transaction call to the leader', () =>
  cluster.withLogs(() => followerForwardsTransactions(cluster, db)));

test('interactive transactions: a leader killed with transactions open aborts them, loses nothing, a retried commit applies once', () =>
  cluster.withLogs(async () => {
    await leaderKilledWithOpenTransactions(cluster, db);
    await restartKilled();
  }));

test('follower reads: a follower answers linearizable reads itself; redirect and strong go to the leader', () =>
  cluster.withLogs(async () => {
    // The transaction scenario's `events` table goes: these scenarios want their own, empty.
    const created = await (await cluster.waitForLeader()).execute(['DROP TABLE events', 'CREATE TABLE events (id INTEGER PRIMARY KEY)']);
    assert.deepEqual(
      (created.body as { results: { error?: string }[] }).results.map((result) => result.error),
      [undefined, undefined],
      created.text,
    );
    assert.equal(created.status, 200, created.text);
    await followerAnswersLinearizableReads(cluster);
  }));

test('follower reads: across a leader kill they fail or wait, never miss an acknowledged write', () =>
  cluster.withLogs(() => followerReadsAcrossLeaderKill(cluster)));
