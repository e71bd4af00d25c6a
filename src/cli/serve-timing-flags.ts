/**
 * Raft timing flags, rqlited's and ours, mapped onto the node's settings.
 *
 * rqlite (hashicorp/raft) and quorumlite (etcd-style) name the timeouts differently:
 * - rqlited's -raft-heartbeat-timeout H (older name -raft-timeout) is how long a follower
 *   waits without hearing from the leader before it campaigns, randomised over [H, 2H);
 *   its leader heartbeats every H/10. That is our election timeout (--election-timeout-ms,
 *   the same [T, 2T) rule) with --heartbeat-ms at a tenth of it.
 * - rqlited's -raft-election-timeout E is how long a candidate waits for a result before
 *   it campaigns again, over [E, 2E); hashicorp/raft requires E >= H. That is our
 *   candidate election timeout; without the flag a candidate waits as a follower does.
 * Our defaults (50 ms heartbeat, 300 ms election timeout, measured on a loaded 2-core box)
 * stay when no timing flag is given; rqlited's are 1 s and 1 s.
 */
import { nodeConfigDefaults } from '../node/config.js';
import type { GivenFlag } from './go-flags.js';
import { parseDurationFlag, parseWholeNumber } from './flag-values.js';
import { UsageError } from './usage-error.js';

const heartbeatMsMin = 10;
const electionTimeoutMsMax = 60_000;
/** hashicorp/raft's leader heartbeats at a tenth of the follower timeout. */
const heartbeatsPerTimeout = 10;
const timeoutRangeMs = { durationMsMin: 2 * heartbeatMsMin, durationMsMax: electionTimeoutMsMax };

interface TimingOptions {
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  readonly candidateElectionTimeoutMs: number;
}

/** -raft-heartbeat-timeout, or its pre-v10 name -raft-timeout (not both). */
function followerTimeoutFlag(flags: ReadonlyMap<string, GivenFlag>): GivenFlag | undefined {
  const current = flags.get('raft-heartbeat-timeout');
  const old = flags.get('raft-timeout');
  if (current !== undefined && old !== undefined) throw new UsageError(`${current.spelling} and ${old.spelling} set the same timeout: give one`);
  return current ?? old;
}

export function parseTimingFlags(flags: ReadonlyMap<string, GivenFlag>): TimingOptions {
  const followerTimeout = followerTimeoutFlag(flags);
  const electionFlag = flags.get('election-timeout-ms');
  const heartbeatFlag = flags.get('heartbeat-ms');
  if (followerTimeout !== undefined && electionFlag !== undefined) {
    throw new UsageError(`${electionFlag.spelling} and ${followerTimeout.spelling} set the same timeout: give one`);
  }
  let electionTimeoutMs: number = nodeConfigDefaults.electionTimeoutMs;
  if (electionFlag !== undefined) electionTimeoutMs = parseWholeNumber(electionFlag.value, electionFlag.spelling, heartbeatMsMin, electionTimeoutMsMax);
  if (followerTimeout !== undefined) electionTimeoutMs = parseDurationFlag(followerTimeout.value, followerTimeout.spelling, timeoutRangeMs);
  let heartbeatMs: number = nodeConfigDefaults.heartbeatMs;
  if (followerTimeout !== undefined) heartbeatMs = Math.max(heartbeatMsMin, Math.round(electionTimeoutMs / heartbeatsPerTimeout));
  if (heartbeatFlag !== undefined) heartbeatMs = parseWholeNumber(heartbeatFlag.value, heartbeatFlag.spelling, heartbeatMsMin, electionTimeoutMsMax);
  if (electionTimeoutMs < 2 * heartbeatMs) {
    const timeoutName = followerTimeout?.spelling ?? electionFlag?.spelling ?? '--election-timeout-ms';
    throw new UsageError(`${timeoutName} (${electionTimeoutMs}) must be at least twice ${heartbeatFlag?.spelling ?? '--heartbeat-ms'} (${heartbeatMs})`);
  }
  const candidateFlag = flags.get('raft-election-timeout');
  let candidateElectionTimeoutMs = 0;
  if (candidateFlag !== undefined) {
    candidateElectionTimeoutMs = parseDurationFlag(candidateFlag.value, candidateFlag.spelling, timeoutRangeMs);
    if (candidateElectionTimeoutMs < electionTimeoutMs) {
      const followerName = followerTimeout?.spelling ?? electionFlag?.spelling ?? 'the follower timeout';
      const comparison = `must be equal or greater than ${followerName} (${electionTimeoutMs}ms), as in hashicorp/raft`;
      throw new UsageError(`${candidateFlag.spelling} (${candidateElectionTimeoutMs}ms) ${comparison}`);
    }
  }
  return { heartbeatMs, electionTimeoutMs, candidateElectionTimeoutMs };
}
