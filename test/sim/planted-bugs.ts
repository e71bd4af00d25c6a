/**
 * Bugs planted on purpose, outside src/, to show that each checker can fail: a disk that
 * forgets the vote on restart, a disk that acknowledges an append and then loses it in a
 * crash, a store that discards snapshots beyond its lazily saved commit index at open (a
 * real bug the store had: fixed in bb86da3), a network that replays old vote grants
 * relabelled with the candidate's newer term, a read path that answers from local state
 * without the read barrier, state machines that diverge, and transaction commits applied
 * without validating their reads, applied again when retried, or retried and answered
 * as committed after a conflict (with the transaction workload). Each names the checker
 * that must catch it. The scenario overrides make the planted fault's trigger common
 * (frequent short crashes, no pre-vote, small snapshot thresholds).
 */
import type { InvariantName } from './invariants.js';
import type { SimulationOptions } from './simulation.js';

export interface PlantedBug {
  readonly name: string;
  readonly description: string;
  readonly options: Pick<
    SimulationOptions,
    'plantedDiskFaults' | 'plantedNetworkFault' | 'plantedReadFault' | 'plantedStateMachineFault' | 'plantedTransactionFault' | 'workload' | 'scenarioOverrides'
  >;
  /** The checker that must catch it. */
  readonly caughtBy: InvariantName;
  /** Other checkers that may legitimately fire first on some seeds (the same damage, seen elsewhere). */
  readonly alsoCaughtBy: readonly InvariantName[];
}

export const plantedBugs: readonly PlantedBug[] = [
  {
    name: 'forget-vote',
    description: 'the durable twin loses the vote on restart: a follower grants two votes in one term',
    options: { plantedDiskFaults: { forgetVoteOnRestart: true }, scenarioOverrides: { crashProbabilityPerTick: 0.2, downTicksMax: 2, preVote: false } },
    caughtBy: 'single-vote-per-term',
    alsoCaughtBy: ['election-safety'],
  },
  {
    name: 'lose-last-append',
    description: 'the durable twin acknowledges an append, then loses it in a crash',
    // Never below what the node's database applied (that only makes the core refuse to start).
    options: {
      plantedDiskFaults: { loseLastAppendOnRestart: true },
      scenarioOverrides: { crashProbabilityPerTick: 0.2, downTicksMax: 3, gracefulStopProbability: 0, diskLatencyMsMax: 12 },
    },
    caughtBy: 'leader-completeness',
    alsoCaughtBy: ['state-machine-safety', 'log-matching', 'linearizability', 'liveness', 'durable-state-monotonic', 'applied-beyond-commit'],
  },
  {
    name: 'discard-snapshots-beyond-commit',
    description: 'at open, the store discards snapshots newer than its lazily saved commit index, though the log reaches them (the bug fixed in bb86da3)',
    // Snapshots often and trailing entries kept (with none kept, the compaction point covers
    // the snapshot and the old rule kept it too); crashes often.
    options: {
      plantedDiskFaults: { discardSnapshotsBeyondCommit: true },
      scenarioOverrides: {
        crashProbabilityPerTick: 0.05,
        gracefulStopProbability: 0,
        snapshotThresholdEntries: 5,
        snapshotTrailingEntries: 3,
        snapshotIntervalMs: 10,
      },
    },
    caughtBy: 'snapshot-coverage',
    alsoCaughtBy: ['liveness'],
  },
  {
    name: 'replay-vote-grant',
    description: "the network replays old vote grants with the term rewritten to the candidate's new term",
    // Without check-quorum a node that heard from a leader recently still answers vote requests.
    options: { plantedNetworkFault: 'replay-vote-grant-with-new-term', scenarioOverrides: { preVote: false, checkQuorum: false, readOnly: 'safe' } },
    caughtBy: 'election-safety',
    alsoCaughtBy: ['leader-completeness', 'state-machine-safety', 'log-matching', 'linearizability'],
  },
  {
    name: 'read-without-read-index',
    description: 'reads are answered from the local state machine of any node, without ReadIndex',
    options: { plantedReadFault: 'read-without-read-index' },
    caughtBy: 'linearizability',
    alsoCaughtBy: [],
  },
  {
    name: 'follower-read-without-apply-wait',
    description: 'a follower reads as soon as the leader answered its read index, without waiting until it applied that index',
    options: { plantedReadFault: 'follower-read-without-apply-wait', scenarioOverrides: { followerReadProbability: 0.8 } },
    caughtBy: 'linearizability',
    alsoCaughtBy: [],
  },
  {
    name: 'double-appends-on-n1',
    description: "node n1's state machine applies every append twice: replicas diverge",
    options: { plantedStateMachineFault: 'double-appends' },
    caughtBy: 'state-machine-safety',
    // When n1 is down or behind at the end, its doubled reads are what gives it away.
    alsoCaughtBy: ['linearizability'],
  },
  {
    name: 'ignore-membership-on-n1',
    description: "node n1's state machine ignores membership changes, so its snapshots carry a stale membership",
    options: { plantedStateMachineFault: 'ignore-membership-changes', scenarioOverrides: { membershipChangeProbabilityPerTick: 0.03 } },
    caughtBy: 'membership-agreement',
    alsoCaughtBy: ['state-machine-safety'],
  },
  {
    name: 'commit-without-read-validation',
    description: 'every node applies a transaction commit without checking that what it read still holds (lost updates)',
    // Every node alike: the replicas agree with each other, only the transaction history can tell.
    options: { workload: 'transactions', plantedTransactionFault: 'skip-read-validation' },
    caughtBy: 'serializability',
    alsoCaughtBy: [],
  },
  {
    name: 'reapply-retried-commits',
    description: 'every node applies a retried transaction commit again instead of answering the outcome recorded under its idempotency key',
    options: { workload: 'transactions', plantedTransactionFault: 'reapply-retried-commits' },
    caughtBy: 'serializability',
    alsoCaughtBy: [],
  },
  {
    name: 'answer-retries-as-committed',
    description: 'every node answers a retried transaction commit as committed, even when the recorded outcome is a conflict',
    // The replicas apply and report every entry correctly: only the clients' answers give it away.
    options: { workload: 'transactions', plantedTransactionFault: 'answer-retries-as-committed' },
    caughtBy: 'serializability',
    alsoCaughtBy: [],
  },
];

export function plantedBugNamed(name: string): PlantedBug | undefined {
  return plantedBugs.find((bug) => bug.name === name);
}
