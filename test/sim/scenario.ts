/**
 * What one seed's run looks like: the cluster's Raft settings and the intensity of every
 * fault, all drawn from the seed, so seeds cover calm runs and hostile ones alike.
 */
import type { NetworkConfig } from './network.js';
import type { Prng } from './prng.js';

export interface Scenario {
  readonly electionTicks: number;
  readonly heartbeatTicks: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly readOnly: 'safe' | 'lease';
  readonly leaseDriftTicks: number;
  /**
   * Clocks drift: a drifting node loses or gains one tick in this many (0: no drift).
   * Kept within the lease's allowance: between a slow and a fast clock the gap over an
   * election timeout is at most leaseDriftTicks / 2.
   */
  readonly clockDriftPeriodTicks: number;
  readonly messageBytesMax: number;
  readonly inflightMessageCountMax: number;
  readonly inflightBytesMax: number;
  readonly uncommittedEntriesBytesMax: number;
  readonly pendingReadCountMax: number;
  readonly network: NetworkConfig;
  /** A leader sends MsgApp before persisting its own entries, as Ready allows. */
  readonly leaderSendsAppendsBeforePersist: boolean;
  readonly crashProbabilityPerTick: number;
  /** When a leader sent appends early, the chance it dies before its own write lands. */
  readonly crashDuringPersistProbability: number;
  readonly downTicksMax: number;
  readonly partitionProbabilityPerTick: number;
  readonly partitionTicksMax: number;
  readonly membershipChangeProbabilityPerTick: number;
  readonly transferProbabilityPerTick: number;
  readonly reportUnreachableProbability: number;
  /** A node snapshots its state machine every this many applied entries. */
  readonly snapshotEntriesInterval: number;
  /** Entries kept in the log behind a snapshot when compacting. */
  readonly compactionKeepEntries: number;
  /** The chance each core read of the snapshot answers SNAPSHOT_TEMPORARILY_UNAVAILABLE. */
  readonly snapshotUnavailableProbability: number;
  /** The state machine survives crashes (as SQLite does), so restarts begin with applied > snapshot. */
  readonly durableStateMachine: boolean;
  /** A Ready's persist takes up to this many steps (0: synchronous); the core runs on meanwhile. */
  readonly persistDelayStepsMax: number;
  readonly clientOperationProbabilityPerTick: number;
  readonly clientOperationTimeoutTicks: number;
}

export function drawScenario(prng: Prng): Scenario {
  const electionTicks = prng.nextIntBetween(8, 16);
  const checkQuorum = prng.chance(0.8);
  const messageBytesMax = prng.pick([64, 256, 1024, 8192]);
  const leaseDriftTicks = prng.nextIntBetween(0, 2);
  const drifts = leaseDriftTicks > 0 && prng.chance(0.5);
  return {
    leaseDriftTicks,
    // A slow and a fast clock drift apart 2 ticks per period: 2 * electionTicks / period <= leaseDriftTicks / 2.
    clockDriftPeriodTicks: drifts ? Math.ceil((4 * electionTicks) / leaseDriftTicks) : 0,
    electionTicks,
    heartbeatTicks: prng.nextIntBetween(1, 3),
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
      delayStepsMin: 1,
      delayStepsMax: prng.nextIntBetween(1, 8),
      longDelayProbability: prng.pick([0, 0.01, 0.05]),
      longDelayStepsMax: prng.nextIntBetween(10, 200),
      inFlightMessagesMax: 20_000,
    },
    leaderSendsAppendsBeforePersist: prng.chance(0.5),
    crashProbabilityPerTick: prng.pick([0, 0.005, 0.02, 0.05]),
    crashDuringPersistProbability: prng.pick([0, 0.02]),
    downTicksMax: prng.nextIntBetween(10, 120),
    partitionProbabilityPerTick: prng.pick([0, 0.01, 0.03]),
    partitionTicksMax: prng.nextIntBetween(20, 150),
    membershipChangeProbabilityPerTick: prng.pick([0, 0.01, 0.03]),
    transferProbabilityPerTick: prng.pick([0, 0.005, 0.02]),
    reportUnreachableProbability: prng.pick([0, 0.5]),
    snapshotEntriesInterval: prng.nextIntBetween(3, 40),
    compactionKeepEntries: prng.nextIntBetween(0, 5),
    snapshotUnavailableProbability: prng.pick([0, 0, 0.3]),
    durableStateMachine: prng.chance(0.5),
    persistDelayStepsMax: prng.pick([0, 0, 3, 12]),
    clientOperationProbabilityPerTick: prng.pick([0.1, 0.3, 0.6]),
    clientOperationTimeoutTicks: prng.nextIntBetween(30, 150),
  };
}
