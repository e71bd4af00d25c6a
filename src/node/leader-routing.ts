/**
 * Where a leader-bound request goes: served here when this node leads, refused with where
 * to go when the caller asked not to be forwarded, else forwarded one hop to the leader.
 * Every leader-bound service (data requests, control calls, interactive transactions)
 * routes through this, so they answer "no leader", a halted node, a lost leader and a
 * leader that moved alike.
 */
import type { NodeId } from '../raft/types.js';
import { ServiceError, type CallContext } from '../service/service.js';
import type { NodeConfig } from './config.js';
import { withCaller } from './peer-access.js';
import { callPeer, isUnreachableFailure, type PeerTransport } from './peer-calls.js';
import { haltedError, type ReplicatedLog } from './replicated-log.js';
import type { Scheduler } from './scheduler.js';

interface RoutingDependencies {
  readonly config: NodeConfig;
  readonly log: ReplicatedLog;
  readonly peers: PeerTransport;
  readonly scheduler: Scheduler;
}

export class LeaderRouting {
  readonly #dependencies: RoutingDependencies;

  constructor(dependencies: RoutingDependencies) {
    this.#dependencies = dependencies;
  }

  /** Undefined on the leader; else the leader to forward to, or NOT_LEADER (with its address) when `forward` is off, or no leader known. */
  leaderOrRefuse(forward: boolean): NodeId | undefined {
    const { log, config } = this.#dependencies;
    if (log.isLeader) return undefined;
    const leaderId = log.leaderId;
    const leader = leaderId === '' ? undefined : log.members.get(leaderId);
    if (leader === undefined) throw this.noLeaderError();
    if (!forward) throw new ServiceError('NOT_LEADER', 'not the leader', { leaderApiAddress: `${config.apiScheme}://${leader.apiAddress}` });
    return leaderId;
  }

  /** No leader known: NO_LEADER, or why this node halted. */
  noLeaderError(): ServiceError {
    const halt = this.#dependencies.log.haltError;
    return halt === undefined ? new ServiceError('NO_LEADER', 'leader not found') : haltedError(halt);
  }

  /** Sends a request to the leader, marked not to be forwarded again (one hop at most). */
  forwardControl(leaderId: NodeId, method: string, request: { timeoutMs: number }, context: CallContext, signal = context.signal): Promise<unknown> {
    return callPeer(this.#dependencies.peers, { id: leaderId }, method, withCaller({ ...request, forward: false }, context), {
      timeoutMs: request.timeoutMs,
      signal,
    });
  }

  /**
   * Forwards a client's request. If this node stops seeing that leader meanwhile (an
   * election started, or another node won), the call is abandoned with UNAVAILABLE at
   * once: the client retries rather than wait out its timeout on a leader that crashed or
   * hung. As with a timeout, the outcome of a write is then unknown to the client.
   * (Control calls — step-down, remove — change the leader on purpose: not abandoned.)
   *
   * `retryCountMax` (rqlite's `retries`): a call that could not reach the leader (connect
   * failed, connection lost) is made again, up to that many more times, each after the
   * transport's reconnect backoff, all within the request's `timeout`. As in rqlite, a write
   * whose connection was lost after it was sent may then apply twice; an Idempotency-Key
   * makes the retry safe.
   */
  async forward<Answer>(leaderId: NodeId, method: string, request: { timeoutMs: number }, context: CallContext, retryCountMax = 0): Promise<Answer> {
    const { log } = this.#dependencies;
    const leaderLost = new AbortController();
    const unsubscribe = log.subscribeLeaderChanges(() => {
      if (log.leaderId !== leaderId) leaderLost.abort();
    });
    try {
      return (await this.#callLeader(leaderId, method, request, context, AbortSignal.any([context.signal, leaderLost.signal]), retryCountMax)) as Answer;
    } catch (error) {
      if (leaderLost.signal.aborted && !context.signal.aborted) {
        throw new ServiceError('UNAVAILABLE', `leader ${leaderId} was lost while forwarding; retry`, { cause: error });
      }
      // One hop only: a leader that lost leadership meanwhile answers NOT_LEADER; the client retries.
      if (error instanceof ServiceError && error.code === 'NOT_LEADER') {
        throw new ServiceError('UNAVAILABLE', 'leadership changed while forwarding; retry', { cause: error });
      }
      throw error;
    } finally {
      unsubscribe();
    }
  }

  /** Calls the leader, and again (at most `retryCountMax` more times, all within the request's timeout) while it cannot be reached. */
  async #callLeader(
    leaderId: NodeId,
    method: string,
    request: { timeoutMs: number },
    context: CallContext,
    signal: AbortSignal,
    retryCountMax: number,
  ): Promise<unknown> {
    const { scheduler } = this.#dependencies;
    const deadlineMs = scheduler.monotonicMs() + request.timeoutMs;
    for (let retryCount = 0; ; retryCount++) {
      const attempt = retryCount === 0 ? request : { ...request, timeoutMs: deadlineMs - scheduler.monotonicMs() };
      try {
        return await this.forwardControl(leaderId, method, attempt, context, signal);
      } catch (error) {
        const retry = retryCount < retryCountMax && isUnreachableFailure(error) && !signal.aborted;
        if (!retry || deadlineMs <= scheduler.monotonicMs()) throw error;
      }
    }
  }
}
