/**
 * Interactive transactions on a real 3-node cluster (real processes): 20 concurrent
 * read-modify-write increments through db.interactive() end at exactly 20; concurrent
 * bank transfers keep the total constant in every read (inside transactions too); a
 * leader killed with transactions open aborts them cleanly (TX_NOT_FOUND on the new
 * leader), loses nothing committed, and a commit retried there after the lost reply
 * applies once.
 */
import { after, before, test } from 'node:test';
import { createClient, type Client } from '../../src/client/index.js';
import { TestCluster } from './harness.js';
import { bankTransfers, concurrentIncrements, followerForwardsTransactions, leaderKilledWithOpenTransactions } from './interactive-transactions-scenario.js';

let cluster: TestCluster;
let db: Client;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
  await cluster.waitForMembers(3);
  db = createClient({ nodes: cluster.nodes.map((node) => node.url), retry: { initialDelayMs: 5, delayMsMax: 200 } });
});

after(async () => {
  await db?.close();
  await cluster?.close();
});

test('20 concurrent read-modify-write increments through db.interactive() end at exactly 20', async () =>
  cluster.withLogs(() => concurrentIncrements(cluster, db)));

test('concurrent bank transfers keep the total constant in every read, inside transactions and out', async () =>
  cluster.withLogs(() => bankTransfers(cluster, db)));

test('a follower forwards every transaction call to the leader', async () => cluster.withLogs(() => followerForwardsTransactions(cluster, db)));

test('a leader killed with transactions open: they abort cleanly, nothing committed is lost, a retried commit applies once', async () =>
  cluster.withLogs(() => leaderKilledWithOpenTransactions(cluster, db)));
