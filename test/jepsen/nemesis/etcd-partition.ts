/**
 * Network partitions under `--consensus etcd` (test/jepsen/etcd-packet-filter.ts): one
 * etcd member cut from the other two (a minority: it answers its clients but commits
 * nothing), a quorumlite node — the leader half the time — cut from a majority of etcd's
 * members or from all of them (its lease runs out: it must stop leading, and its fencing
 * token refuses its stale appends), and the two together: a node that reaches only the
 * cut-off member. Connections between etcd's members and the nodes' connections to etcd
 * are cut; the nodes' own traffic (clients, catch-up) is not. One partition at a time.
 */
import type { TestNode } from '../../cluster/harness.js';
import type { EtcdCluster } from '../../etcd/etcd-cluster.js';
import type { EtcdPacketFilter } from '../etcd-packet-filter.js';
import type { ActiveFault, Nemesis, NemesisContext } from './nemesis.js';

type Mode = 'etcd-minority' | 'node-from-etcd-majority' | 'node-from-etcd' | 'node-with-etcd-minority';
const modes: readonly Mode[] = ['etcd-minority', 'node-from-etcd-majority', 'node-from-etcd', 'node-with-etcd-minority'];

/** The mark bit of etcd member `index` (0-based) and of quorumlite node `n<index>`: one per process. */
export function etcdMemberBit(index: number): number {
  return index;
}

export function nodeBit(node: TestNode): number {
  return nodeIndexBit(node.spec.index);
}

/** The mark bit of node `n<index>` (1-based), after etcd's members. */
export function nodeIndexBit(index: number): number {
  return 2 + index;
}

interface Cut {
  readonly description: string;
  readonly targets: readonly string[];
  readonly leaderAffected: boolean;
  apply(): void;
}

function memberName(etcd: EtcdCluster, index: number): string {
  return etcd.members[index]?.name ?? `etcd${index + 1}`;
}

/** Cuts member `isolated` from every other member, both ways. */
function isolateMember(filter: EtcdPacketFilter, etcd: EtcdCluster, isolated: number): void {
  etcd.members.forEach((other, index) => {
    const self = etcd.members[isolated];
    if (index === isolated || self === undefined) return;
    filter.cut(etcdMemberBit(isolated), { host: other.host, port: other.peerPort });
    filter.cut(etcdMemberBit(index), { host: self.host, port: self.peerPort });
  });
}

function cutNodeFrom(filter: EtcdPacketFilter, etcd: EtcdCluster, node: TestNode, members: readonly number[]): void {
  for (const index of members) {
    const member = etcd.members[index];
    if (member !== undefined) filter.cut(nodeBit(node), { host: member.host, port: member.clientPort });
  }
}

/** A running node: the leader half the time, when there is one. */
function pickNode(context: NemesisContext): TestNode | undefined {
  const running = context.cluster.members.filter((node) => node.running);
  if (context.leader !== undefined && running.includes(context.leader) && context.random.chance(0.5)) return context.leader;
  return running.length === 0 ? undefined : context.random.pick(running);
}

function plan(mode: Mode, context: NemesisContext, etcd: EtcdCluster, filter: EtcdPacketFilter): Cut | undefined {
  const indexes = context.random.shuffle(etcd.members.map((_, index) => index));
  const [lone, ...rest] = indexes;
  if (lone === undefined || rest.length === 0) return undefined;
  if (mode === 'etcd-minority') {
    return {
      description: `partition etcd ${rest.map((index) => memberName(etcd, index)).join(',')} | ${memberName(etcd, lone)}`,
      targets: [memberName(etcd, lone)],
      leaderAffected: false,
      apply: () => isolateMember(filter, etcd, lone),
    };
  }
  const node = pickNode(context);
  if (node === undefined) return undefined;
  const name = context.cluster.name(node);
  const role = node === context.leader ? ' (leader)' : '';
  const leaderAffected = node === context.leader;
  if (mode === 'node-from-etcd-majority') {
    return {
      description: `cut ${name}${role} from etcd ${rest.map((index) => memberName(etcd, index)).join(',')} (it keeps ${memberName(etcd, lone)})`,
      targets: [name],
      leaderAffected,
      apply: () => cutNodeFrom(filter, etcd, node, rest),
    };
  }
  if (mode === 'node-from-etcd') {
    return {
      description: `cut ${name}${role} from every etcd member`,
      targets: [name],
      leaderAffected,
      apply: () => cutNodeFrom(filter, etcd, node, indexes),
    };
  }
  return {
    description: `partition etcd ${rest.map((index) => memberName(etcd, index)).join(',')} | ${memberName(etcd, lone)} + ${name}${role}`,
    targets: [memberName(etcd, lone), name],
    leaderAffected,
    apply: () => {
      isolateMember(filter, etcd, lone);
      cutNodeFrom(filter, etcd, node, rest);
    },
  };
}

export function etcdPartitionNemesis(etcd: EtcdCluster, filter: EtcdPacketFilter): Nemesis {
  let active = false;
  return {
    kind: 'etcd-partition',
    async begin(context) {
      if (active) return undefined;
      const cut = plan(context.random.pick(modes), context, etcd, filter);
      if (cut === undefined) return undefined;
      try {
        cut.apply();
      } catch (error) {
        filter.heal();
        throw error;
      }
      active = true;
      const fault: ActiveFault = {
        kind: 'etcd-partition',
        description: cut.description,
        targets: cut.targets,
        leaderAffected: cut.leaderAffected,
        async heal() {
          filter.heal();
          active = false;
        },
      };
      return fault;
    },
  };
}
