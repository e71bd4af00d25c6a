/**
 * Process faults: kill -9 (of one node, the leader, or a majority at once) and restart
 * from what is on disk; SIGSTOP and SIGCONT (a process that stops answering but keeps its
 * connections, like a long GC pause or a stalled VM).
 */
import type { TestNode } from '../../cluster/harness.js';
import { type ActiveFault, describeNodes, type Nemesis, type NemesisContext, pickTarget } from './nemesis.js';

/** How often a kill takes out a majority at once (then every state comes back from disk). */
const majorityKillChance = 0.15;

function majority(context: NemesisContext): TestNode[] | undefined {
  const free = context.cluster.members.filter((node) => node.running && !context.busy.has(node));
  const count = Math.floor(context.cluster.members.length / 2) + 1;
  if (free.length < count) return undefined;
  return context.random.shuffle([...free]).slice(0, count);
}

export const killNemesis: Nemesis = {
  kind: 'kill',
  async begin(context) {
    const group = context.random.chance(majorityKillChance) ? majority(context) : undefined;
    const single = pickTarget(context);
    const targets = group ?? (single === undefined ? [] : [single]);
    if (targets.length === 0) return undefined;
    for (const node of targets) context.busy.add(node);
    await Promise.all(targets.map((node) => context.cluster.kill(node)));
    const leaderAffected = context.leader !== undefined && targets.includes(context.leader);
    const fault: ActiveFault = {
      kind: 'kill',
      description: `kill -9 ${group === undefined ? '' : 'majority '}${describeNodes(context.cluster, targets)}${leaderAffected ? ' (leader)' : ''}`,
      targets: targets.map((node) => context.cluster.name(node)),
      leaderAffected,
      async heal() {
        for (const node of targets) {
          if (context.cluster.members.includes(node) && !node.running) context.cluster.startNode(node);
          context.busy.delete(node);
        }
      },
    };
    return fault;
  },
};

export const pauseNemesis: Nemesis = {
  kind: 'pause',
  async begin(context) {
    const target = pickTarget(context);
    if (target === undefined) return undefined;
    context.busy.add(target);
    context.cluster.pause(target);
    const leaderAffected = target === context.leader;
    return {
      kind: 'pause',
      description: `SIGSTOP ${context.cluster.name(target)}${leaderAffected ? ' (leader)' : ''}`,
      targets: [context.cluster.name(target)],
      leaderAffected,
      async heal() {
        context.cluster.resume(target);
        context.busy.delete(target);
      },
    };
  },
};
