/**
 * Starts a test cluster and names its leader and one follower, for tests that talk to
 * both. A failed start carries every node's log tail in its message, since the test never
 * runs to print them.
 */
import type { TestCluster, TestNode } from './harness.js';

export async function startLeaderAndFollower(cluster: TestCluster): Promise<{ leader: TestNode; follower: TestNode }> {
  try {
    await cluster.start();
    const leader = await cluster.waitForLeader();
    const follower = cluster.nodes.find((node) => node !== leader) as TestNode;
    return { leader, follower };
  } catch (error) {
    throw new Error(`${String(error)}\n${cluster.logs()}`);
  }
}
