/**
 * Seeds that once exposed a bug (see FINDINGS.md). Each replays exactly; the test
 * requires every one to pass now. Add a seed here when its finding is fixed.
 *
 * Open findings are seeds that still fail, with the invariant they fail: the batch test
 * accepts exactly that failure on exactly that seed, and another test requires it to
 * still reproduce (so a fix shows: then move the seed to `regressionSeeds`).
 */
import type { InvariantName } from './invariants.js';
import type { Scenario } from './scenario.js';

export interface RegressionSeed {
  readonly seed: number;
  readonly chaosTicks?: number;
  readonly scenarioOverrides?: Partial<Scenario>;
  readonly note: string;
}

export const regressionSeeds: readonly RegressionSeed[] = [
  {
    seed: 281,
    scenarioOverrides: { checkQuorum: true, readOnly: 'lease', leaseDriftTicks: 0 },
    note: 'F1: confStateAt answered a stale membership after a snapshot restore with a Ready outstanding (fixed in ce75118)',
  },
  {
    seed: 80097,
    scenarioOverrides: { checkQuorum: true, readOnly: 'lease', leaseDriftTicks: 0, clockDriftPeriodTicks: 2, partitionProbabilityPerTick: 0.05 },
    note: 'N1: election livelock under extreme clock-rate differences without pre-vote (fixed in 9711c53)',
  },
  {
    seed: 502599,
    note:
      "a false alarm of the simulator's own leader-completeness check: a leader of an older term, " +
      'elected late on a delayed vote, need not hold entries committed in a newer term',
  },
  {
    seed: 4859,
    note:
      'R2: snapshot retention evicted the snapshot covering the compacted log for received ones; ' +
      'after a crash the store had none (fixed: retention keeps the newest snapshot the log vouches for)',
  },
  { seed: 5884, note: 'R2 again (fixed with 4859)' },
  { seed: 9266, note: 'R2 again (fixed with 4859)' },
  { seed: 12263, note: "R2 again: its planted fault's seeds after asynchronous storage writes changed the schedules (fixed with 4859)" },
  { seed: 37093, note: "R2 again: its planted fault's seeds after asynchronous storage writes changed the schedules (fixed with 4859)" },
  {
    seed: 4891,
    note:
      'R1: a member that missed the conf change adding the current leader had no address for it and never caught up ' +
      '(fixed: the transport hands up the address a sender announced in its handshake; the member directory adopts it to fill the gap)',
  },
  { seed: 5707, note: 'R1 again (fixed with 4891)' },
  { seed: 5784, note: 'R1 again (fixed with 4891)' },
  { seed: 8117, note: 'R1 again (fixed with 4891)' },
  ...[1148, 1377, 4077, 5233].map((seed) => ({
    seed,
    note: "R1 again: its planted fault's seeds after asynchronous storage writes changed the schedules (fixed with 4891)",
  })),
];

/**
 * R1's seeds: with the announced addresses hidden (the transport before the fix), each fails
 * liveness again. Searched again when asynchronous storage writes changed the schedules (the
 * first four, 4891, 5707, 5784 and 8117, no longer meet the conditions with the fault).
 */
export const r1Seeds: readonly number[] = [1148, 1377, 4077, 5233];

export interface OpenFinding {
  readonly seed: number;
  readonly invariant: InvariantName;
  /** The entry in FINDINGS.md. */
  readonly finding: string;
  readonly note: string;
}

/** None open now (R1's seeds moved to `regressionSeeds` with its fix). */
export const openFindings: readonly OpenFinding[] = [];

/** The open finding a failure is, if it is one (same seed, same invariant). */
export function openFindingFor(seed: number, invariant: string | undefined): OpenFinding | undefined {
  return openFindings.find((finding) => finding.seed === seed && finding.invariant === invariant);
}
