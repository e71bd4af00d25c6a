/**
 * Milliseconds to ticks. The core counts abstract ticks; the runtime ticks every
 * `tickMs`. One tick is a tenth of the election timeout or the heartbeat interval,
 * whichever is shorter, so heartbeats land on ticks and elections have resolution.
 */
import { ServiceError } from '../service/service.js';

export interface TickPlan {
  readonly tickMs: number;
  readonly heartbeatTicks: number;
  readonly electionTicks: number;
}

const tickMsMin = 5;

export function planTicks(heartbeatMs: number, electionTimeoutMs: number): TickPlan {
  if (!(heartbeatMs >= tickMsMin)) throw new ServiceError('BAD_REQUEST', `heartbeatMs must be >= ${tickMsMin}, got ${heartbeatMs}`);
  if (!(electionTimeoutMs >= 2 * heartbeatMs)) {
    throw new ServiceError('BAD_REQUEST', `electionTimeoutMs (${electionTimeoutMs}) must be >= 2 * heartbeatMs (${heartbeatMs})`);
  }
  const tickMs = Math.max(tickMsMin, Math.min(heartbeatMs, Math.floor(electionTimeoutMs / 10)));
  const heartbeatTicks = Math.max(1, Math.round(heartbeatMs / tickMs));
  const electionTicks = Math.max(heartbeatTicks + 1, Math.round(electionTimeoutMs / tickMs));
  return { tickMs, heartbeatTicks, electionTicks };
}

/** A candidate's timeout in the plan's ticks: 0 means the follower's (electionTicks); never below it. */
export function planCandidateElectionTicks(plan: TickPlan, candidateElectionTimeoutMs: number): number {
  if (candidateElectionTimeoutMs === 0) return plan.electionTicks;
  return Math.max(plan.electionTicks, Math.round(candidateElectionTimeoutMs / plan.tickMs));
}
