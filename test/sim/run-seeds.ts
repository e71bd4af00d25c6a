/**
 * Running many seeds: which cluster size a seed gets, and a summary of a batch. Shared
 * by the CLI and the batch test.
 */
import { runSimulation, type SimulationOptions, type SimulationResult } from './simulation.js';

export const clusterSizes = [3, 5, 7] as const;

/** Seeds rotate through 3-, 5- and 7-node clusters. */
export function clusterSizeForSeed(seed: number): number {
  return clusterSizes[seed % clusterSizes.length] as number;
}

export interface BatchSummary {
  readonly seedCount: number;
  readonly failures: SimulationResult[];
  /** How many seeds exercised each feature at least once: proof the batch is not trivially calm. */
  readonly seedsWith: Record<string, number>;
  /** How many seeds logged each runtime event at least once: which runtime paths the batch took. */
  readonly seedsWithRuntimeEvent: Record<string, number>;
  readonly linearizabilityUnknown: number;
  /** The most nodes any one seed added through membership changes. */
  readonly nodesAddedMax: number;
}

export async function runSeeds(
  startSeed: number,
  seedCount: number,
  options: Omit<SimulationOptions, 'seed' | 'clusterSize'> = {},
  onResult?: (result: SimulationResult) => void,
): Promise<BatchSummary> {
  const failures: SimulationResult[] = [];
  const seedsWith: Record<string, number> = {};
  const seedsWithRuntimeEvent: Record<string, number> = {};
  let linearizabilityUnknown = 0;
  let nodesAddedMax = 0;
  for (let seed = startSeed; seed < startSeed + seedCount; seed++) {
    const result = await runSimulation({ ...options, seed, clusterSize: clusterSizeForSeed(seed) });
    if (!result.passed) failures.push(result);
    if (result.stats.linearizability === 'unknown') linearizabilityUnknown++;
    nodesAddedMax = Math.max(nodesAddedMax, result.stats.nodesAdded);
    for (const [name, value] of Object.entries(result.stats)) {
      if (typeof value === 'number' && value > 0) seedsWith[name] = (seedsWith[name] ?? 0) + 1;
    }
    for (const event of Object.keys(result.stats.runtimeEvents)) seedsWithRuntimeEvent[event] = (seedsWithRuntimeEvent[event] ?? 0) + 1;
    onResult?.(result);
  }
  return { seedCount, failures, seedsWith, seedsWithRuntimeEvent, linearizabilityUnknown, nodesAddedMax };
}

/** `replayArguments`: extra CLI flags needed to replay (e.g. the planted bug). */
export function formatFailure(result: SimulationResult, replayArguments = ''): string {
  const violation = result.violation;
  return [
    `seed ${result.seed} (cluster of ${result.clusterSize}) FAILED at tick ${violation?.tick ?? '?'}: ${violation?.invariant ?? '?'}`,
    violation?.message ?? '',
    `replay: npm run sim -- --seed ${result.seed} --verbose${replayArguments}`,
    'last trace lines:',
    ...result.traceTail.slice(-40).map((line) => `  ${line}`),
  ].join('\n');
}
