/**
 * The client against a real 3-node quorumlite cluster (built CLI, real processes):
 * discovery from one seed, writes through the leader, read-your-writes on followers,
 * exact 64-bit integers and BLOBs, and exactly-once writes across a kill -9 of the
 * leader. Needs `npm run build` (npm test builds first).
 */
import { after, before, describe, it } from 'node:test';
import type { Client } from '../../src/client/index.js';
import { TestCluster } from '../cluster/harness.js';
import { discoversAndWritesToLeader, everyWriteOnceAcrossLeaderKill, shellWorksAgainstCluster, sqlErrorsCarryStatementIndex } from './real-cluster-scenario.js';

describe('client against a real cluster', () => {
  let cluster: TestCluster;
  let client: Client;
  before(async () => {
    cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['--log-level', 'warn'] });
    await cluster.start();
  });
  after(async () => {
    await client?.close();
    await cluster?.close();
  });

  it('discovers the cluster from one follower and writes to the leader directly', async () => {
    await discoversAndWritesToLeader(cluster, (created) => {
      client = created;
    });
  });

  it('reports SQL errors with the statement index', async () => {
    await sqlErrorsCarryStatementIndex(client);
  });

  it('quorumlite shell works against the cluster: SQL, .nodes, .leader, .backup', async () => {
    await shellWorksAgainstCluster(cluster);
  });

  it('applies every write exactly once while the leader is killed', async () => {
    await everyWriteOnceAcrossLeaderKill(cluster, client);
  });
});
