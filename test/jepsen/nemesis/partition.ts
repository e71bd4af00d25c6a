/**
 * Network partitions with iptables DROP rules on the peer (Raft) ports of the test's own
 * addresses (test/cluster/packet-filter.ts): a majority from a minority, the leader from
 * everyone, one node that can hear but not speak, and a bridge (two halves that each see
 * one node in the middle). Client traffic from 127.0.0.1 is never dropped, so a client
 * sees what a cut-off node answers. One partition at a time.
 */
import type { TestNode } from '../../cluster/harness.js';
import type { Endpoint, PacketFilter } from '../../cluster/packet-filter.js';
import type { JepsenCluster } from '../cluster.js';
import { type ActiveFault, describeNodes, type Nemesis, type NemesisContext } from './nemesis.js';

type Mode = 'majority' | 'isolate-leader' | 'one-way' | 'bridge';
const modes: readonly Mode[] = ['majority', 'isolate-leader', 'one-way', 'bridge'];

function endpoint(node: TestNode): Endpoint {
  return { host: node.spec.host, port: node.spec.raftPort };
}

function cutBetween(filter: PacketFilter, left: readonly TestNode[], right: readonly TestNode[]): void {
  for (const a of left) for (const b of right) filter.dropBothWays(endpoint(a), endpoint(b));
}

interface Plan {
  readonly description: string;
  readonly targets: readonly TestNode[];
  readonly leaderAffected: boolean;
  apply(filter: PacketFilter): void;
}

function plan(mode: Mode, context: NemesisContext, cluster: JepsenCluster): Plan | undefined {
  const members = context.random.shuffle([...cluster.members]);
  const leader = context.leader;
  if (mode === 'majority') {
    const minority = members.slice(0, Math.floor((members.length - 1) / 2) || 1);
    const rest = members.filter((node) => !minority.includes(node));
    const leaderAffected = leader !== undefined && minority.includes(leader);
    return {
      description: `partition ${describeNodes(cluster, rest)} | ${describeNodes(cluster, minority)}`,
      targets: minority,
      leaderAffected,
      apply: (filter) => cutBetween(filter, minority, rest),
    };
  }
  if (mode === 'isolate-leader') {
    if (leader === undefined) return undefined;
    const rest = members.filter((node) => node !== leader);
    return {
      description: `isolate leader ${cluster.name(leader)}`,
      targets: [leader],
      leaderAffected: true,
      apply: (filter) => cutBetween(filter, [leader], rest),
    };
  }
  if (mode === 'one-way') {
    const [mute, ...rest] = members;
    if (mute === undefined) return undefined;
    return {
      description: `one-way: ${cluster.name(mute)} hears but is not heard`,
      targets: [mute],
      leaderAffected: mute === leader,
      apply: (filter) => {
        for (const other of rest) filter.dropOneWay(endpoint(mute), endpoint(other));
      },
    };
  }
  if (members.length < 3) return undefined;
  const [bridge, ...rest] = members;
  const half = Math.ceil(rest.length / 2);
  const left = rest.slice(0, half);
  const right = rest.slice(half);
  return {
    description: `bridge ${describeNodes(cluster, left)} | ${cluster.name(bridge as TestNode)} | ${describeNodes(cluster, right)}`,
    targets: [...left, ...right],
    // Each half plus the bridge can make a majority: the leader may well keep its place.
    leaderAffected: false,
    apply: (filter) => cutBetween(filter, left, right),
  };
}

export function partitionNemesis(filter: PacketFilter): Nemesis {
  let active = false;
  return {
    kind: 'partition',
    async begin(context) {
      if (active) return undefined;
      const chosen = plan(context.random.pick(modes), context, context.cluster);
      if (chosen === undefined) return undefined;
      chosen.apply(filter);
      active = true;
      const fault: ActiveFault = {
        kind: 'partition',
        description: chosen.description,
        targets: chosen.targets.map((node) => context.cluster.name(node)),
        leaderAffected: chosen.leaderAffected,
        async heal() {
          filter.heal();
          active = false;
        },
      };
      return fault;
    },
  };
}
