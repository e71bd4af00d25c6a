/**
 * Bugs planted on purpose, outside src/raft, to show that each checker can fail: a disk
 * that forgets the vote on restart, a disk that acknowledges an append and then loses
 * it in a crash, a network that replays old vote grants relabelled with the
 * candidate's newer term, and a read path that answers from local state without
 * ReadIndex. Each names the checker that must catch it. The scenario overrides make
 * the planted fault's trigger common (frequent short crashes, no pre-vote).
 */
import type { InvariantName } from './invariants.js';
import type { SimulationOptions } from './simulation.js';

export interface PlantedBug {
  readonly name: string;
  readonly description: string;
  readonly options: Pick<SimulationOptions, 'plantedDiskFaults' | 'plantedNetworkFault' | 'plantedReadFault' | 'plantedStateMachineFault' | 'scenarioOverrides'>;
  /** The checker that must catch it. */
  readonly caughtBy: InvariantName;
  /** Other checkers that may legitimately fire first on some seeds (the same damage, seen elsewhere). */
  readonly alsoCaughtBy: readonly (InvariantName)[];
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
    // The state machine is volatile here: a durable one would hold entries past the lost
    // log tail, which the core refuses at startup rather than letting a checker see.
    options: { plantedDiskFaults: { loseLastAppendOnRestart: true }, scenarioOverrides: { crashProbabilityPerTick: 0.1, downTicksMax: 5, durableStateMachine: false } },
    caughtBy: 'leader-completeness',
    alsoCaughtBy: ['state-machine-safety', 'log-matching', 'linearizability', 'liveness', 'durable-state-monotonic', 'applied-beyond-commit'],
  },
  {
    name: 'replay-vote-grant',
    description: 'the network replays old vote grants with the term rewritten to the candidate\'s new term',
    options: { plantedNetworkFault: 'replay-vote-grant-with-new-term', scenarioOverrides: { preVote: false } },
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
    name: 'double-appends-on-n1',
    description: 'node n1\'s state machine applies every append twice: replicas diverge',
    options: { plantedStateMachineFault: 'double-appends' },
    caughtBy: 'state-machine-safety',
    // When n1 is down or behind at the end, its doubled reads are what gives it away.
    alsoCaughtBy: ['linearizability'],
  },
  {
    name: 'ignore-membership-on-n1',
    description: 'node n1\'s state machine ignores membership changes, so its snapshots carry a stale membership',
    options: { plantedStateMachineFault: 'ignore-membership-changes', scenarioOverrides: { membershipChangeProbabilityPerTick: 0.03 } },
    caughtBy: 'membership-agreement',
    alsoCaughtBy: ['state-machine-safety'],
  },
];

export function plantedBugNamed(name: string): PlantedBug | undefined {
  return plantedBugs.find((bug) => bug.name === name);
}
