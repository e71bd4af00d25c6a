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
const marginBytes = 256 * 1024;

export const diskNemesis: Nemesis = {
  kind: 'disk',
  async begin(context) {
    const target = pickTarget(context);
    if (target === undefined) return undefined;
    const filler = join(target.dataDirectory, fillerFileName);
    const stats = statfsSync(target.dataDirectory);
    const freeBytes = Number(stats.bavail) * Number(stats.bsize);
    // The whole free space first; the node may write between statfs and fallocate, so then
    // leave a little (the node's own writes fill that within moments).
    let filled = false;
    for (const size of [freeBytes, freeBytes - marginBytes]) {
      if (size <= 0) continue;
      filled = spawnSync('fallocate', ['-l', String(size), filler], { timeout: 10_000 }).status === 0;
      if (filled) break;
      rmSync(filler, { force: true });
    }
    if (!filled) {
      context.log(`disk nemesis: cannot fill ${context.cluster.name(target)} (${freeBytes} bytes free)`);
      return undefined;
    }
    context.busy.add(target);
    const role = target === context.leader ? ' (leader)' : '';
    const fault: ActiveFault = {
      kind: 'disk',
      description: `disk full ${context.cluster.name(target)}${role} (${Math.round(freeBytes / 1024 / 1024)} MiB filled)`,
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
