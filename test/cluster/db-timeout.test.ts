/**
 * `db_timeout` in the shipped form: `quorumlite serve` from dist/, where a read with a
 * deadline runs in the built read process (dist/state-machine/timed-read-process.js).
 * Through a follower of a 2-node cluster at `level=strong`: the read is forwarded, run on
 * the leader, interrupted there, and answered with rqlite's "query timeout" and the
 * read's `raft_index`; a read that ends in time is answered as without db_timeout.
 * test/node/rqlite-parameters.test.ts covers the details in process.
 */
import { after, before, test } from 'node:test';
import { forwardedStrongReadTimeout } from './db-timeout-scenario.js';
import { TestCluster, type TestNode } from './harness.js';
import { startLeaderAndFollower } from './leader-and-follower.js';

let cluster: TestCluster;
let follower: TestNode;

before(async () => {
  cluster = await TestCluster.create({ size: 2, formation: 'join' });
  ({ follower } = await startLeaderAndFollower(cluster));
});

after(async () => {
  await cluster?.close();
});

test('a forwarded strong read past its db_timeout is interrupted on the leader; one in time is unchanged', async () =>
  forwardedStrongReadTimeout(cluster, follower));
