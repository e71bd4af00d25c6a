/**
 * How the property-based tests (fast-check) run. Inside `npm test` each property runs
 * its own default count (a few hundred) from one fixed seed, so every run of the suite
 * tries the same inputs and a failure replays. A longer search:
 *
 *   QUORUMLITE_FUZZ_RUNS=20000 npm test -- fuzz
 *
 * runs every property that many times from a fresh seed; QUORUMLITE_FUZZ_SEED=N picks
 * the seed. A failing property throws fast-check's report: the seed, the path of the
 * shrunk counterexample and the counterexample itself. Replay it with
 * QUORUMLITE_FUZZ_SEED=<seed>, then keep the input as a plain example test.
 */
import type { Parameters } from 'fast-check';

/** The seed of `npm test` runs: fixed, so the suite is repeatable. */
const defaultSeed = 20_260_101;

function positiveIntegerFromEnvironment(name: string): number | undefined {
  const text = process.env[name];
  if (text === undefined || text === '') return undefined;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return value;
}

const runCountOverride = positiveIntegerFromEnvironment('QUORUMLITE_FUZZ_RUNS');
const seed = positiveIntegerFromEnvironment('QUORUMLITE_FUZZ_SEED') ?? (runCountOverride === undefined ? defaultSeed : Date.now() % 2 ** 31);

if (runCountOverride !== undefined) console.log(`fuzzing: ${runCountOverride} runs per property, seed ${seed}`);

/** fast-check parameters for a property that runs `defaultRunCount` times inside `npm test`. */
export function fuzzParameters<T>(defaultRunCount: number): Parameters<T> {
  return { seed, numRuns: runCountOverride ?? defaultRunCount };
}

/**
 * Throws when `action` took longer than `bound` ms: hostile input must cost time in
 * proportion to its (small, bounded) size. The bound is generous, far above a normal
 * run on a loaded machine; it catches blow-ups (exponential walks, loops), not speed.
 */
export function withinTime<T>(boundMs: number, action: () => T): T {
  const startedAtMs = performance.now();
  const result = action();
  const elapsedMs = performance.now() - startedAtMs;
  if (elapsedMs > boundMs) throw new Error(`took ${Math.round(elapsedMs)} ms, more than ${boundMs} ms`);
  return result;
}
