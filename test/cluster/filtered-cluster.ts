/**
 * What the iptables tests start with: a 3-node cluster of real processes on their own hosts
 * (127.0.0.N and the next two; N ≥ 2, never all of loopback), a packet filter whose rules
 * name only those hosts, and the test's table created. Whatever fails on the way, nothing
 * is left running and no rule is left behind.
 */
import assert from 'node:assert/strict';
import { TestCluster } from './harness.js';
import { PacketFilter } from './packet-filter.js';

export interface FilteredCluster {
  readonly cluster: TestCluster;
  readonly filter: PacketFilter;
  /** Removes the filter's rules first, then stops the cluster. */
  close(): Promise<void>;
}

export async function startFilteredCluster(firstHostIndex: number, schemaSql: string): Promise<FilteredCluster> {
  const cluster = await TestCluster.create({ size: 3, formation: 'join', firstHostIndex });
  let filter: PacketFilter | undefined;
  const close = async (): Promise<void> => {
    try {
      filter?.close();
    } finally {
      await cluster.close();
    }
  };
  try {
    filter = PacketFilter.open(cluster.nodes.map((node) => node.spec.host));
    await cluster.start().catch((error: unknown) => {
      throw new Error(`${String(error)}\n${cluster.logs()}`);
    });
    const leader = await cluster.waitForLeader();
    const created = await leader.execute([schemaSql]);
    assert.equal(created.status, 200, created.text);
    return { cluster, filter, close };
  } catch (error) {
    await close();
    throw error;
  }
}
