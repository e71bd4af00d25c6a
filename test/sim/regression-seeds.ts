/**
 * Seeds that once exposed a bug (see FINDINGS.md). Each replays exactly; the test
 * requires every one to pass now. Add a seed here when its finding is fixed.
 */
export interface RegressionSeed {
  readonly seed: number;
  readonly chaosTicks?: number;
  readonly note: string;
}

export const regressionSeeds: readonly RegressionSeed[] = [];
