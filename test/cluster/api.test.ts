/**
 * A 3-node cluster formed with --bootstrap-expect 3; bad input of every kind leaves the
 * data unchanged on every node; rqlite's own client (rqlite-js) works against it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { badInputLeavesDataUnchanged, everyNodeListedAsVoter, rqliteJsThroughFollower } from './api-scenario.js';
import { TestCluster, type TestNode } from './harness.js';

const bodyBytesMax = 65_536;
let cluster: TestCluster;
let leader: TestNode;
let follower: TestNode;

before(async () => {
  cluster = await TestCluster.create({ size: 3, formation: 'bootstrap-expect', flags: ['--http-max-body-bytes', String(bodyBytesMax)] });
  try {
    await cluster.start();
    leader = await cluster.waitForLeader();
    follower = cluster.nodes.find((node) => node !== leader)!;
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  }
});

after(async () => {
  await cluster?.close();
});

test('--bootstrap-expect 3 forms one cluster of three voters', async () => {
  await everyNodeListedAsVoter(cluster, follower);
  // How the nodes formed is the embedded Raft's: the etcd log has no bootstrap step.
  for (const node of cluster.nodes) assert.match(node.log(), /"event":"bootstrap"/, `${node.id} bootstrapped with the others`);
});

test('bad input gets a clear error and leaves the data unchanged on every node', async () =>
  badInputLeavesDataUnchanged(cluster, leader, follower, bodyBytesMax));

test('rqlite-js executes and queries with parameters through a follower of the 3-node cluster', async () => rqliteJsThroughFollower(cluster, follower));
