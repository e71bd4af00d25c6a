/**
 * Whether this node heard from a leader recently enough for a read's `freshness` or for
 * readiness. A log whose contact is not kept current by the leader's own heartbeats (etcd
 * mode, ReplicatedLog.refreshLeaderContact) is asked once when the contact is older, so an
 * idle node need not poll at the rate of the tightest `freshness` anyone might ask.
 */
import type { ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

/** The longest a read's `freshness` or readiness waits for contact asked on demand. */
export const leaderContactWaitMsMax = 1_000;

/** True if contact is at most `maxAgeMs` old, after asking the log for it (waiting at most `maxAgeMs` and leaderContactWaitMsMax) when it was older. */
export async function leaderContactWithin(
  log: Pick<ReplicatedLog, 'leaderContactAgeMs' | 'refreshLeaderContact'>,
  scheduler: Scheduler,
  maxAgeMs: number,
): Promise<boolean> {
  if (log.leaderContactAgeMs() <= maxAgeMs) return true;
  if (log.refreshLeaderContact === undefined) return false;
  let timer: ScheduledTimer | undefined;
  await Promise.race([
    log.refreshLeaderContact(),
    new Promise<void>((resolve) => {
      timer = scheduler.setTimeout(resolve, Math.min(maxAgeMs, leaderContactWaitMsMax));
    }),
  ]);
  timer?.cancel();
  return log.leaderContactAgeMs() <= maxAgeMs;
}
