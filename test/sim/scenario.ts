/**
 * What one seed's run looks like: the runtime's timing and snapshot configuration, the
 * core settings passed through the runtime's `createCore` seam, and the intensity of
 * every fault, all drawn from the seed, so seeds cover calm runs and hostile ones alike.
 * A simulator tick (`simulatorTickMs`) is the period of fault injection and clients.
 */
import { planTicks } from '../../src/node/timing.js';
import type { NetworkConfig } from './network.js';
import type { Prng } from './prng.js';

/** Virtual milliseconds between two rounds of fault injection and client operations. */
export const simulatorTickMs = 10;

export interface Scenario {
  /** The runtime's configuration (NodeConfig): ticks follow from these (src/node timing.ts). */
  readonly heartbeatMs: number;
  readonly electionTimeoutMs: number;
  /** A node snapshots once this many entries applied since its last snapshot (checked every snapshotIntervalMs). */
  readonly snapshotThresholdEntries: number;
  readonly snapshotIntervalMs: number;
  /** Entries kept in the log behind a snapshot when compacting. */
  readonly snapshotTrailingEntries: number;
  // Core settings beyond the runtime's (passed through createCore). The runtime's own are
  // preVote, checkQuorum and safe reads; seeds also try the others.
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnly: 'safe' | 'lease';
  readonly leaseDriftTicks: number;
  /**
   * Clocks drift: a drifting node's clock runs 1/period fast or slow (0: no drift). Kept
   * within the lease's allowance: between a slow and a fast clock the gap over an election
   * timeout is at most leaseDriftTicks / 2 ticks.
   */
  readonly clockDriftPeriodTicks: number;
  readonly messageBytesMax: number;
  readonly inflightMessageCountMax: number;
  readonly inflightBytesMax: number;
  readonly uncommittedEntriesBytesMax: number;
  readonly pendingReadCountMax: number;
  readonly network: NetworkConfig;
  readonly crashProbabilityPerTick: number;
  /** Of the stops, the share that are graceful (runtime.stop: a leader hands over first) rather than crashes. */
  readonly gracefulStopProbability: number;
  readonly downTicksMax: number;
  /** At a crash, the chance that a write on the disk at that moment (fsync in progress) lands. */
  readonly inFlightWriteLandsProbability: number;
  readonly partitionProbabilityPerTick: number;
  readonly partitionTicksMax: number;
  readonly membershipChangeProbabilityPerTick: number;
  readonly transferProbabilityPerTick: number;
  readonly reportUnreachableProbability: number;
  /** One fsync (or snapshot copy) takes up to this long (0: done in the next turn); the core runs on meanwhile. */
  readonly diskLatencyMsMax: number;
  /** The chance each disk write fails as a full disk does (the runtime halts and retries). */
  readonly diskFullProbability: number;
  /** The chance each applied batch halts the state machine (as SQLITE_FULL does). */
  readonly applyHaltProbability: number;
  readonly clientOperationProbabilityPerTick: number;
  readonly clientOperationTimeoutTicks: number;
  /**
   * The chance that a node crashes a few ms after a critical moment of its runtime (a
   * snapshot stored or installed, a compaction landed), while the next steps are in flight:
   * restarts then find a received snapshot not yet restored, a compaction without its
   * follow-up, and so on.
   */
  readonly crashAtCriticalPointProbability: number;
  /**
   * The chance that a read sent to a follower is served there (a follower read: ReadIndex
   * asked of the leader) rather than sent on to the leader. Fixed, not drawn: drawing it
   * would shift every later draw of the seed.
   */
  readonly followerReadProbability: number;
}

export function drawScenario(prng: Prng): Scenario {
  const heartbeatMs = prng.pick([10, 15, 20, 30]);
  const electionTimeoutMs = prng.nextIntBetween(8, 16) * 10;
  const { electionTicks } = planTicks(heartbeatMs, electionTimeoutMs);
  const checkQuorum = prng.chance(0.8);
  const messageBytesMax = prng.pick([64, 256, 1024, 8192]);
  const leaseDriftTicks = prng.nextIntBetween(0, 2);
  const drifts = leaseDriftTicks > 0 && prng.chance(0.5);
  return {
    heartbeatMs,
    electionTimeoutMs,
    snapshotThresholdEntries: prng.nextIntBetween(3, 40),
    snapshotIntervalMs: prng.pick([10, 30, 100]),
    snapshotTrailingEntries: prng.nextIntBetween(0, 5),
    leaseDriftTicks,
    // A slow and a fast clock drift apart 2 ticks per period: 2 * electionTicks / period <= leaseDriftTicks / 2.
    clockDriftPeriodTicks: drifts ? Math.ceil((4 * electionTicks) / leaseDriftTicks) : 0,
    preVote: prng.chance(0.8),
    checkQuorum,
    readOnly: checkQuorum && prng.chance(0.25) ? 'lease' : 'safe',
    messageBytesMax,
    inflightMessageCountMax: prng.nextIntBetween(1, 16),
    inflightBytesMax: messageBytesMax * prng.nextIntBetween(1, 32),
    uncommittedEntriesBytesMax: prng.pick([512, 4096, 1 << 20]),
    pendingReadCountMax: prng.nextIntBetween(1, 64),
    network: {
      dropProbability: prng.pick([0, 0.01, 0.05, 0.15]),
      duplicateProbability: prng.pick([0, 0.01, 0.05]),
      delayMsMin: 1,
      delayMsMax: prng.nextIntBetween(1, 8),
      longDelayProbability: prng.pick([0, 0.01, 0.05]),
      longDelayMsMax: prng.nextIntBetween(10, 200),
      inFlightMessagesMax: 20_000,
    },
    crashProbabilityPerTick: prng.pick([0, 0.005, 0.02, 0.05]),
    gracefulStopProbability: prng.pick([0, 0.3]),
    downTicksMax: prng.nextIntBetween(10, 120),
    inFlightWriteLandsProbability: prng.pick([0, 0.5, 1]),
    partitionProbabilityPerTick: prng.pick([0, 0.01, 0.03]),
    partitionTicksMax: prng.nextIntBetween(20, 150),
    membershipChangeProbabilityPerTick: prng.pick([0, 0.01, 0.03]),
    transferProbabilityPerTick: prng.pick([0, 0.005, 0.02]),
    reportUnreachableProbability: prng.pick([0, 0.5]),
    diskLatencyMsMax: prng.pick([0, 0, 3, 12]),
    diskFullProbability: prng.pick([0, 0, 0, 0.02]),
    applyHaltProbability: prng.pick([0, 0, 0, 0.02]),
    clientOperationProbabilityPerTick: prng.pick([0.1, 0.3, 0.6]),
    clientOperationTimeoutTicks: prng.nextIntBetween(30, 150),
    crashAtCriticalPointProbability: prng.pick([0, 0, 0.1, 0.3]),
    followerReadProbability: 0.5,
  };
}
