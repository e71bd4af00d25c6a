/**
 * A nemesis begins one fault and returns how to heal it. The schedule (schedule.ts)
 * decides when, and how many at once. Faults that stop a process (kill, pause, removal,
 * a full disk) claim their node in `busy`, so two of them never fight over one node.
 */
import type { Prng } from '../../sim/prng.js';
import type { TestNode } from '../../cluster/harness.js';
import type { JepsenCluster } from '../cluster.js';
import type { NemesisKind } from '../history.js';

export interface ActiveFault {
  readonly kind: NemesisKind;
  readonly description: string;
  readonly targets: readonly string[];
  readonly leaderAffected: boolean;
  /** Undoes the fault; never throws for a node that is already gone. */
  heal(): Promise<void>;
}

export interface NemesisContext {
  readonly cluster: JepsenCluster;
  readonly random: Prng;
  /** The leader when the fault begins, if one answered. */
  readonly leader: TestNode | undefined;
  /** Nodes a process-level fault holds. */
  readonly busy: Set<TestNode>;
  readonly log: (line: string) => void;
}

export interface Nemesis {
  readonly kind: NemesisKind;
  /** Begins a fault, or returns undefined when none fits now (e.g. every node busy). */
  begin(context: NemesisContext): Promise<ActiveFault | undefined>;
}

/** A running member no other process-level fault holds: the leader half of the time, when it is free. */
export function pickTarget(context: NemesisContext): TestNode | undefined {
  const free = context.cluster.members.filter((node) => node.running && !context.busy.has(node));
  if (free.length === 0) return undefined;
  if (context.leader !== undefined && free.includes(context.leader) && context.random.chance(0.5)) return context.leader;
  return context.random.pick(free);
}

export function describeNodes(cluster: JepsenCluster, nodes: readonly TestNode[]): string {
  return nodes.map((node) => cluster.name(node)).join(',');
}
