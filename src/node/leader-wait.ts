/**
 * Waiting for the leader to become one a caller accepts: a leadership hand-over waiting
 * for its successor (`POST /leader?wait`, a graceful shutdown), and `/status?leader_not=ID`
 * (ours), where a client whose leader stopped answering is told who replaced it the moment
 * the node knows, not at its next poll (src/client/leader-check.ts). One mechanism for the
 * Raft runtime (leadership.ts) and the etcd-backed log (etcd-log.ts).
 */
import type { NodeId } from '../raft/types.js';
import { ServiceError } from '../service/service.js';
import type { Scheduler } from './scheduler.js';

/** Who leads now, and a call after every change of it. */
export interface LeaderSource {
  readonly leaderId: NodeId;
  subscribeLeaderChanges(listener: () => void): () => void;
}

/**
 * True once `accept(leaderId)` holds (at once if it already does); false after `waitMs`,
 * or as soon as `signal` aborts (the caller went away). Never rejects, and leaves no
 * timer or listener behind.
 */
export function waitForLeader(
  source: LeaderSource,
  scheduler: Scheduler,
  accept: (leaderId: NodeId) => boolean,
  waitMs: number,
  signal?: AbortSignal,
): Promise<boolean> {
  if (accept(source.leaderId)) return Promise.resolve(true);
  if (signal?.aborted === true || waitMs <= 0) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const done = (accepted: boolean): void => {
      timer.cancel();
      unsubscribe();
      signal?.removeEventListener('abort', abandon);
      resolve(accepted);
    };
    const abandon = (): void => done(false);
    const timer = scheduler.setTimeout(abandon, waitMs);
    const unsubscribe = source.subscribeLeaderChanges(() => {
      if (accept(source.leaderId)) done(true);
    });
    signal?.addEventListener('abort', abandon, { once: true });
  });
}

/** ReplicatedLog.waitForLeaderChange: resolves once `accept(leaderId)` holds; TIMEOUT after `timeoutMs`. */
export async function leaderChangeWithin(source: LeaderSource, scheduler: Scheduler, timeoutMs: number, accept: (leaderId: NodeId) => boolean): Promise<void> {
  if (!(await waitForLeader(source, scheduler, accept, timeoutMs))) throw new ServiceError('TIMEOUT', `leadership did not change within ${timeoutMs}ms`);
}

/** `/status?leader_not=ID`: a leader is known and it is not node `id`. */
export function leaderOtherThan(id: NodeId): (leaderId: NodeId) => boolean {
  return (leaderId) => leaderId !== '' && leaderId !== id;
}
