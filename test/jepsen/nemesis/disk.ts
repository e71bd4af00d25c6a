/**
 * Disk full: each node's data directory is its own small tmpfs (JepsenCluster), and the
 * fault fills one with a file the size of its free space. The node must halt its writes
 * (never skip an entry, never corrupt what is stored) and resume by itself once the file
 * is gone.
 */
import { spawnSync } from 'node:child_process';
import { rmSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { type ActiveFault, type Nemesis, pickTarget } from './nemesis.js';

/** Not a name the node uses in its data directory. */
export const fillerFileName = 'jepsen-disk-filler';

export const diskNemesis: Nemesis = {
  kind: 'disk',
  async begin(context) {
    const target = pickTarget(context);
    if (target === undefined) return undefined;
    const filler = join(target.dataDirectory, fillerFileName);
    const stats = statfsSync(target.dataDirectory);
    const freeBytes = Number(stats.bavail) * Number(stats.bsize);
    const filled = spawnSync('fallocate', ['-l', String(freeBytes), filler], { encoding: 'utf8', timeout: 10_000 });
    if (filled.status !== 0) {
      rmSync(filler, { force: true });
      context.log(`disk nemesis: cannot fill ${context.cluster.name(target)}: ${filled.stderr.trim()}`);
      return undefined;
    }
    context.busy.add(target);
    const fault: ActiveFault = {
      kind: 'disk',
      description: `disk full ${context.cluster.name(target)}${target === context.leader ? ' (leader)' : ''} (${Math.round(freeBytes / 1024 / 1024)} MiB filled)`,
      targets: [context.cluster.name(target)],
      leaderAffected: false,
      async heal() {
        rmSync(filler, { force: true });
        context.busy.delete(target);
      },
    };
    return fault;
  },
};
