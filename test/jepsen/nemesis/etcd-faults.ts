/**
 * Faults of the etcd cluster under `--consensus etcd`: kill -9 (restarted on its data at
 * heal) or SIGSTOP (SIGCONT at heal) of one etcd member — or, now and then, of a majority,
 * which leaves the log without a quorum: no write commits and no linearizable read
 * answers until it heals, and nothing acknowledged may be lost.
 */
import type { EtcdCluster } from '../../etcd/etcd-cluster.js';
import type { ActiveFault, Nemesis } from './nemesis.js';

/** How often the fault takes out a majority of etcd's members at once. */
const majorityChance = 0.15;

export function etcdNemesis(etcd: EtcdCluster): Nemesis {
  const busy = new Set<number>();
  return {
    kind: 'etcd',
    async begin(context) {
      const free = etcd.members.map((_, index) => index).filter((index) => !busy.has(index) && etcd.running(index));
      const majority = Math.floor(etcd.members.length / 2) + 1;
      const count = context.random.chance(majorityChance) && free.length >= majority ? majority : 1;
      if (free.length < count) return undefined;
      const targets = context.random.shuffle([...free]).slice(0, count);
      const pause = context.random.chance(0.5);
      for (const index of targets) {
        busy.add(index);
        if (pause) etcd.pause(index);
        else await etcd.kill(index);
      }
      const names = targets.map((index) => etcd.members[index]?.name ?? `etcd${index + 1}`).join(',');
      const fault: ActiveFault = {
        kind: 'etcd',
        description: `${pause ? 'SIGSTOP' : 'kill -9'} etcd ${count >= majority ? 'majority ' : ''}${names}`,
        targets: targets.map((index) => etcd.members[index]?.name ?? `etcd${index + 1}`),
        leaderAffected: false,
        async heal() {
          for (const index of targets) {
            if (pause) etcd.resume(index);
            else await etcd.restart(index);
            busy.delete(index);
          }
        },
      };
      return fault;
    },
  };
}
