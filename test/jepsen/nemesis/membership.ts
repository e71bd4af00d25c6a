/**
 * Membership changes under load: add a brand-new node (it joins through --join and is
 * promoted once caught up), remove one (sometimes the leader) and kill it, or replace one
 * (remove, then add a new one). The size stays within one of the starting size (a removal
 * checks the voters the leader lists). A change
 * that no leader accepts within the bound (say, during a partition) is recorded as
 * attempted; the end of the run reconciles the member list with the configuration.
 */
import type { TestNode } from '../../cluster/harness.js';
import type { JepsenCluster } from '../cluster.js';
import { type ActiveFault, type Nemesis, type NemesisContext, pickTarget } from './nemesis.js';

export const membershipChangeTimeoutMs = 15_000;

type Change = 'add' | 'remove' | 'replace';

function chooseChange(context: NemesisContext, baseSize: number): Change {
  const size = context.cluster.members.length;
  if (size < baseSize) return 'add';
  if (size > baseSize) return 'remove';
  return context.random.pick(['add', 'remove', 'replace'] as const);
}

/**
 * Why a removal now would take the configuration below one less than the starting size,
 * judged by the voters the leader lists, not by the nemesis's member list: a node it added
 * may never have joined (its process exited at start on a full disk, run bank seed
 * 618050859), and a removal then left one voter, which a restart with --join cannot bring
 * back (rqlited refuses to join from a single-node cluster). Undefined: the removal may go.
 */
async function removalRefusal(cluster: JepsenCluster, baseSize: number): Promise<string | undefined> {
  const leader = await cluster.leader();
  const view = leader === undefined ? undefined : await cluster.view(leader);
  if (view === undefined) return 'remove skipped: no leader listed the voters';
  const votersMin = baseSize - 1;
  if (view.voters.length <= votersMin) return `remove skipped: the configuration lists ${view.voters.length} voters (the run keeps at least ${votersMin})`;
  return undefined;
}

async function remove(context: NemesisContext, cluster: JepsenCluster, baseSize: number): Promise<{ text: string; node?: TestNode }> {
  const refusal = await removalRefusal(cluster, baseSize);
  if (refusal !== undefined) return { text: refusal };
  const target = pickTarget(context);
  if (target === undefined) return { text: 'no free member to remove' };
  context.busy.add(target);
  try {
    await cluster.removeMember(target, membershipChangeTimeoutMs);
    return { text: `removed ${cluster.name(target)}${target === context.leader ? ' (leader)' : ''}`, node: target };
  } catch (error) {
    return { text: `remove ${cluster.name(target)} not accepted: ${String(error).slice(0, 120)}` };
  } finally {
    context.busy.delete(target);
  }
}

/**
 * Adds a node and waits, within the bound, until the configuration lists it: one that
 * exited first (started on a full disk, J14) is no member, and the nemesis must not count it.
 */
async function add(cluster: JepsenCluster): Promise<{ text: string; node?: TestNode }> {
  const node = await cluster.addMember();
  if (node === undefined) return { text: 'add skipped: the run added its most nodes' };
  const name = cluster.name(node);
  const joined = await cluster.waitForJoin(node, membershipChangeTimeoutMs);
  if (joined === 'exited') return { text: `add of ${name} failed: its process exited before it joined` };
  return { text: joined === 'joined' ? `added ${name}` : `added ${name}, not yet listed in the configuration`, node };
}

export function membershipNemesis(baseSize: number): Nemesis {
  return {
    kind: 'membership',
    async begin(context) {
      const cluster = context.cluster;
      const change = chooseChange(context, baseSize);
      const parts: string[] = [];
      const targets: string[] = [];
      let leaderAffected = false;
      if (change === 'remove' || change === 'replace') {
        const removed = await remove(context, cluster, baseSize);
        parts.push(removed.text);
        if (removed.node !== undefined) {
          targets.push(cluster.name(removed.node));
          leaderAffected = removed.node === context.leader;
        }
      }
      if (change === 'add' || change === 'replace') {
        const added = await add(cluster);
        parts.push(added.text);
        if (added.node !== undefined) targets.push(cluster.name(added.node));
      }
      const fault: ActiveFault = {
        kind: 'membership',
        description: `${change}: ${parts.join('; ')}`,
        targets,
        leaderAffected,
        // A membership change is not undone: the cluster lives on with its new members.
        heal: async () => undefined,
      };
      return fault;
    },
  };
}
