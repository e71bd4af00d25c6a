/**
 * Clock faults with libfaketime: every node runs under it, reading its offset from its own
 * file (JepsenCluster.clockFile), re-read at most once a second. libfaketime shifts the
 * wall clock and the monotonic clock alike, which is what a node times elections, leases
 * and heartbeats with, so a jump forward fires its timers early and a jump back holds
 * them until the clock catches up. Modes: bump forward, bump back, strobe (flip between
 * two offsets for the fault's length). Healing writes offset 0 (a jump back after a
 * forward bump: that node's timers wait out the difference).
 */
import { writeFileSync } from 'node:fs';
import { type ActiveFault, type Nemesis, pickTarget } from './nemesis.js';

/** Bounds on the offsets, in ms: a jump back holds a node's timers that long. */
export const forwardJumpMsMax = 4_000;
export const backwardJumpMsMax = 1_500;
const strobePeriodMs = 1_100;

function offsetText(ms: number): string {
  return `${ms >= 0 ? '+' : '-'}${(Math.abs(ms) / 1000).toFixed(3)}\n`;
}

export const clockNemesis: Nemesis = {
  kind: 'clock',
  async begin(context) {
    const target = pickTarget(context);
    if (target === undefined) return undefined;
    const file = context.cluster.clockFile(target);
    const mode = context.random.pick(['bump', 'bump-back', 'strobe'] as const);
    const name = context.cluster.name(target);
    const role = target === context.leader ? ' (leader)' : '';
    let strobe: NodeJS.Timeout | undefined;
    let description: string;
    if (mode === 'bump') {
      const ms = context.random.nextIntBetween(200, forwardJumpMsMax);
      writeFileSync(file, offsetText(ms));
      description = `clock ${name}${role} +${ms} ms`;
    } else if (mode === 'bump-back') {
      const ms = context.random.nextIntBetween(100, backwardJumpMsMax);
      writeFileSync(file, offsetText(-ms));
      description = `clock ${name}${role} -${ms} ms`;
    } else {
      const ms = context.random.nextIntBetween(100, forwardJumpMsMax);
      let high = false;
      strobe = setInterval(() => {
        high = !high;
        writeFileSync(file, offsetText(high ? ms : 0));
      }, strobePeriodMs);
      description = `clock ${name}${role} strobe 0 / +${ms} ms`;
    }
    const fault: ActiveFault = {
      kind: 'clock',
      description,
      targets: [name],
      leaderAffected: false,
      async heal() {
        if (strobe !== undefined) clearInterval(strobe);
        writeFileSync(file, offsetText(0));
      },
    };
    return fault;
  },
};
