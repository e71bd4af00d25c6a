/**
 * Failover: kill -9 the leader while a client writes. A new leader is elected, writes
 * continue, every acknowledged write is on every surviving node, and the killed node
 * restarts, catches up, and ends with the same content checksum as the others
 * (failover-scenario.ts; test/etcd/etcd-failover.test.ts runs it on the etcd log).
 */
import { after, before, test } from 'node:test';
import { killLeaderUnderWrites } from './failover-scenario.js';
import { TestCluster } from './harness.js';

let cluster: TestCluster;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'join' });
  await cluster.start().catch((error: unknown) => {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  });
});

after(async () => {
  await cluster?.close();
});

test('kill -9 the leader under writes: a new leader, no acknowledged write lost, the old leader catches up', async () =>
  cluster.withLogs(() => killLeaderUnderWrites(cluster)));
