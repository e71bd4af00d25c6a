/**
 * `/status?leader_not=ID` (ours): a client whose leader stopped answering asks the other
 * nodes who leads. Instead of asking again every `leaderCheckIntervalMs`, it may ask once
 * and be answered the moment the node knows a leader other than the one it suspects
 * (src/client/leader-check.ts): the new leader is named when it is elected, not at the
 * client's next poll.
 */
import type { NodeId } from '../raft/types.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { Scheduler } from './scheduler.js';

/**
 * Resolves once `log` knows a leader other than `id`, or after `waitMs`, or when `signal`
 * aborts (the caller went away), whichever comes first. Never rejects: the answer is
 * whatever the node knows then.
 */
export function leaderOtherThan(
  log: Pick<ReplicatedLog, 'leaderId' | 'subscribeLeaderChanges'>,
  scheduler: Scheduler,
  id: NodeId,
  waitMs: number,
  signal: AbortSignal,
): Promise<void> {
  const named = (): boolean => log.leaderId !== '' && log.leaderId !== id;
  if (named() || signal.aborted || waitMs <= 0) return Promise.resolve();
  return new Promise<void>((resolve) => {
    const done = (): void => {
      timer.cancel();
      unsubscribe();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = scheduler.setTimeout(done, waitMs);
    const unsubscribe = log.subscribeLeaderChanges(() => {
      if (named()) done();
    });
    signal.addEventListener('abort', done, { once: true });
  });
}
