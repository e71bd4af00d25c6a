/**
 * The membership nemesis removes a voter only while the configuration the leader lists
 * keeps at least one less than the starting size. Found by `npm run jepsen -- --workload
 * bank --nemesis all --nodes 3` (seed 618050859): a node the nemesis added exited at start
 * (its disk was full), the nemesis still counted it, removed a real voter, and left one
 * voter that no restart with --join could bring back, so no leader came back after healing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Prng } from '../sim/prng.js';
import type { TestNode } from '../cluster/harness.js';
import type { JepsenCluster, NodeView } from './cluster.js';
import { membershipNemesis } from './nemesis/membership.js';

interface ClusterStub {
  addMember: () => Promise<TestNode | undefined>;
  waitForJoin: () => Promise<'joined' | 'exited' | 'pending'>;
}

/** A cluster whose nemesis list holds three running nodes and whose leader lists `voters`. */
function clusterListing(voters: readonly string[]): { cluster: JepsenCluster; removed: string[]; stub: ClusterStub } {
  const nodes = ['n1', 'n2', 'n3'].map((id) => ({ id, running: true }) as unknown as TestNode);
  const removed: string[] = [];
  const stub = {
    members: nodes,
    leader: async () => nodes[0],
    view: async () => ({ state: 'Leader', voters }) as unknown as NodeView,
    removeMember: async (node: TestNode) => {
      removed.push(node.id);
    },
    addMember: async () => undefined as TestNode | undefined,
    waitForJoin: async (): Promise<'joined' | 'exited' | 'pending'> => 'joined',
    name: (node: TestNode) => node.id,
  };
  return { cluster: stub as unknown as JepsenCluster, removed, stub };
}

async function faultsBegun(cluster: JepsenCluster, seedCount: number): Promise<string[]> {
  const descriptions: string[] = [];
  for (let seed = 1; seed <= seedCount; seed++) {
    const context = { cluster, random: new Prng(seed), leader: undefined, busy: new Set<TestNode>(), log: () => undefined };
    const fault = await membershipNemesis(3).begin(context);
    descriptions.push(fault?.description ?? '');
  }
  return descriptions;
}

test('with two voters listed (one added node never joined), no removal is asked for', async () => {
  const { cluster, removed } = clusterListing(['n1', 'n2']);
  const descriptions = await faultsBegun(cluster, 20);
  assert.deepEqual(removed, []);
  assert.ok(
    descriptions.some((text) => text.includes('remove skipped: the configuration lists 2 voters (the run keeps at least 2)')),
    descriptions.join('\n'),
  );
});

test('with three voters listed, removals go ahead', async () => {
  const { cluster, removed } = clusterListing(['n1', 'n2', 'n3']);
  await faultsBegun(cluster, 20);
  assert.ok(removed.length > 0);
});

test('an added node whose process exited before it joined is reported as a failed add, not as a member or a target', async () => {
  const { cluster, stub } = clusterListing(['n1', 'n2']);
  // Two members listed, below the starting three: the nemesis adds.
  (cluster as unknown as { members: TestNode[] }).members = cluster.members.slice(0, 2);
  stub.addMember = async () => ({ id: 'n4', running: false }) as unknown as TestNode;
  stub.waitForJoin = async () => 'exited';
  const context = { cluster, random: new Prng(1), leader: undefined, busy: new Set<TestNode>(), log: () => undefined };
  const fault = await membershipNemesis(3).begin(context);
  assert.equal(fault?.description, 'add: add of n4 failed: its process exited before it joined');
  assert.deepEqual(fault?.targets, []);
});
