/**
 * The simulator's command line: `npm run sim -- --seeds N [--start-seed S]` runs N seeds
 * (cluster sizes rotate 3/5/7); `npm run sim -- --seed S [--verbose]` replays one seed,
 * printing its whole trace with --verbose (the same trace every time); `--workload
 * transactions` runs the transaction workload (checked for serializability) instead of
 * the key-value one (checked for linearizability). Exit code 0 when
 * every seed passes, 1 on a failure (seed, invariant and trace are printed), 2 on bad
 * arguments.
 */
import { performance } from 'node:perf_hooks';
import { clusterSizeForSeed, formatFailure, runSeeds } from './run-seeds.js';
import { plantedBugNamed, plantedBugs, type PlantedBug } from './planted-bugs.js';
import { runSimulation, type SimulationOptions, type Workload } from './simulation.js';
import { drawScenario, type Scenario } from './scenario.js';
import { Prng } from './prng.js';
import { openFindingFor } from './regression-seeds.js';

export interface CliArguments {
  readonly seedCount: number;
  readonly startSeed: number;
  readonly singleSeed: number | undefined;
  readonly verbose: boolean;
  readonly chaosTicks: number | undefined;
  /** A planted bug to run with (to see a failure report). */
  readonly plantedBug: PlantedBug | undefined;
  /** Overrides of the seeds' drawn scenario, as JSON (e.g. '{"readOnly":"lease"}'). */
  readonly scenarioOverrides: Partial<Scenario> | undefined;
  /** The clients' workload (undefined: the planted bug's, else key-value). */
  readonly workload: Workload | undefined;
}

const workloads: readonly Workload[] = ['key-value', 'transactions'];

/** Seeds per run, at most: a bound on one invocation's work. */
export const seedCountMax = 10_000_000;

export class CliUsageError extends Error {}

const usage = [
  'usage: npm run sim -- [--seeds N] [--start-seed S] [--chaos-ticks T] [--workload W] [--plant BUG] [--scenario JSON]',
  '     | npm run sim -- --seed S [--verbose] [--workload W] [--plant BUG] [--scenario JSON]',
  `  W: ${workloads.join(' | ')}`,
  `  BUG: ${plantedBugs.map((bug) => bug.name).join(' | ')}`,
].join('\n');

export function parseArguments(argv: readonly string[]): CliArguments {
  let seedCount = 100;
  let startSeed = 1;
  let singleSeed: number | undefined;
  let verbose = false;
  let chaosTicks: number | undefined;
  let plantedBug: PlantedBug | undefined;
  let scenarioOverrides: Partial<Scenario> | undefined;
  let workload: Workload | undefined;
  for (let position = 0; position < argv.length; position++) {
    const flag = argv[position] as string;
    const value = (): number => parseCount(flag, argv[++position]);
    if (flag === '--seeds') seedCount = value();
    else if (flag === '--start-seed') startSeed = value();
    else if (flag === '--seed') singleSeed = value();
    else if (flag === '--chaos-ticks') chaosTicks = value();
    else if (flag === '--verbose') verbose = true;
    else if (flag === '--plant') plantedBug = parsePlantedBug(argv[++position]);
    else if (flag === '--scenario') scenarioOverrides = parseScenario(argv[++position]);
    else if (flag === '--workload') workload = parseWorkload(argv[++position]);
    else throw new CliUsageError(`unknown argument ${JSON.stringify(flag)}\n${usage}`);
  }
  if (seedCount < 1 || seedCount > seedCountMax) throw new CliUsageError(`--seeds must be in [1, ${seedCountMax}], got ${seedCount}`);
  if (verbose && singleSeed === undefined) throw new CliUsageError(`--verbose needs --seed S\n${usage}`);
  if (chaosTicks !== undefined && chaosTicks < 1) throw new CliUsageError(`--chaos-ticks must be at least 1`);
  return { seedCount, startSeed, singleSeed, verbose, chaosTicks, plantedBug, scenarioOverrides, workload };
}

function parseWorkload(name: string | undefined): Workload {
  const workload = workloads.find((known) => known === name);
  if (workload === undefined) throw new CliUsageError(`--workload needs one of ${workloads.join(', ')}, got ${JSON.stringify(name ?? '')}`);
  return workload;
}

function parsePlantedBug(name: string | undefined): PlantedBug {
  const bug = plantedBugNamed(name ?? '');
  if (bug === undefined)
    throw new CliUsageError(`--plant needs one of ${plantedBugs.map((known) => known.name).join(', ')}, got ${JSON.stringify(name ?? '')}`);
  return bug;
}

function parseScenario(text: string | undefined): Partial<Scenario> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text ?? '');
  } catch {
    throw new CliUsageError(`--scenario needs a JSON object, got ${JSON.stringify(text ?? '')}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new CliUsageError(`--scenario needs a JSON object, got ${JSON.stringify(text ?? '')}`);
  const known = new Set(Object.keys(drawScenario(new Prng(1))));
  const unknown = Object.keys(parsed).filter((key) => !known.has(key));
  if (unknown.length > 0) throw new CliUsageError(`--scenario: unknown setting ${unknown.join(', ')}`);
  return parsed as Partial<Scenario>;
}

function simulationOptions(parsed: CliArguments): Omit<SimulationOptions, 'seed' | 'clusterSize'> {
  const planted = parsed.plantedBug?.options;
  const scenarioOverrides = { ...planted?.scenarioOverrides, ...parsed.scenarioOverrides };
  const workload = parsed.workload ?? planted?.workload;
  return {
    ...(parsed.chaosTicks === undefined ? {} : { chaosTicks: parsed.chaosTicks }),
    ...planted,
    scenarioOverrides,
    ...(workload === undefined ? {} : { workload }),
  };
}

function replayFlags(parsed: CliArguments): string {
  const chaos = parsed.chaosTicks === undefined ? '' : ` --chaos-ticks ${parsed.chaosTicks}`;
  const scenario = parsed.scenarioOverrides === undefined ? '' : ` --scenario '${JSON.stringify(parsed.scenarioOverrides)}'`;
  const workload = parsed.workload === undefined ? '' : ` --workload ${parsed.workload}`;
  return `${chaos}${workload}${parsed.plantedBug === undefined ? '' : ` --plant ${parsed.plantedBug.name}`}${scenario}`;
}

function parseCount(flag: string, text: string | undefined): number {
  if (text === undefined || !/^\d+$/.test(text)) throw new CliUsageError(`${flag} needs a non-negative integer, got ${JSON.stringify(text ?? '')}`);
  const value = Number(text);
  if (!Number.isSafeInteger(value)) throw new CliUsageError(`${flag} ${text} is too large`);
  return value;
}

async function replayOne(seed: number, parsed: CliArguments): Promise<number> {
  const result = await runSimulation({
    ...simulationOptions(parsed),
    seed,
    clusterSize: clusterSizeForSeed(seed),
    ...(parsed.verbose ? { traceSink: (line: string) => process.stdout.write(`${line}\n`) } : {}),
  });
  if (!result.passed) {
    process.stdout.write(`${formatFailure(result, replayFlags(parsed))}\n`);
    return 1;
  }
  process.stdout.write(`seed ${seed} (cluster of ${result.clusterSize}) passed; trace ${result.traceHash}\n${JSON.stringify(result.stats)}\n`);
  return 0;
}

async function runMany(parsed: CliArguments): Promise<number> {
  const { seedCount, startSeed } = parsed;
  const started = performance.now();
  let done = 0;
  const summary = await runSeeds(startSeed, seedCount, simulationOptions(parsed), (result) => {
    done++;
    if (!result.passed) process.stdout.write(`${formatFailure(result, replayFlags(parsed))}\n`);
    if (done % 1000 === 0) process.stderr.write(`${done}/${seedCount} seeds\n`);
  });
  const seconds = (performance.now() - started) / 1000;
  const rate = (seedCount / seconds).toFixed(1);
  if (summary.failures.length > 0) {
    const seeds = summary.failures
      .map((failure) => {
        const known = openFindingFor(failure.seed, failure.violation?.invariant);
        return `${failure.seed}:${failure.violation?.invariant ?? '?'}${known === undefined ? '' : ` (open finding ${known.finding})`}`;
      })
      .join(' ');
    process.stdout.write(`${summary.failures.length} of ${seedCount} seeds FAILED (${rate} seeds/s): ${seeds}\n`);
    return 1;
  }
  // The transaction workload's serializability check always decides; the key-value one's search has a bound.
  const undecided = simulationOptions(parsed).workload === 'transactions' ? '' : `; linearizability unknown in ${summary.linearizabilityUnknown}`;
  process.stdout.write(`${seedCount} seeds passed (${rate} seeds/s, ${seconds.toFixed(1)} s${undecided})\n`);
  return 0;
}

export async function main(argv: readonly string[]): Promise<number> {
  let parsed: CliArguments;
  try {
    parsed = parseArguments(argv);
  } catch (error) {
    if (!(error instanceof CliUsageError)) throw error;
    process.stderr.write(`${error.message}\n`);
    return 2;
  }
  if (parsed.singleSeed !== undefined) return replayOne(parsed.singleSeed, parsed);
  return runMany(parsed);
}

if (import.meta.url === `file://${process.argv[1]}`) process.exitCode = await main(process.argv.slice(2));
