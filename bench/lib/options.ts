/**
 * Command line of `npm run bench:compare [-- --quick] [--only a,b] [--out DIR]`, and the
 * bounds of each mode (every workload is bounded in count and in time).
 */
import { systemNames, type SystemName } from './report.js';
import { fullRunIdleMs } from './measure.js';
import type { WorkloadSettings } from './workloads.js';

export interface CompareOptions {
  readonly quick: boolean;
  readonly only: readonly SystemName[];
  readonly outputDirectory: string | undefined;
  /** When set, quorumlite nodes run with `--cpu-prof` into this directory. */
  readonly profileDirectory: string | undefined;
  readonly help: boolean;
}

export class CompareUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CompareUsageError';
  }
}

export const compareUsage = `Usage: npm run bench:compare [-- --quick] [--only quorumlite,etcd,dqlite,sqlite,http-floor,quorumlite-etcd] [--out DIR]

  --quick        small counts (a few minutes for every system), 2 kill and 3 hung-leader trials
  --only LIST    comma-separated systems to run (default: all six)
  --out DIR      where the .md, .json and .svg results go (default bench/results)
  --profile DIR  run the quorumlite nodes under node --cpu-prof, profiles into DIR
`;

function parseOnly(text: string): SystemName[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  if (names.length === 0) throw new CompareUsageError('--only needs at least one system');
  const chosen: SystemName[] = [];
  for (const name of names) {
    const known = systemNames.find((candidate) => candidate === name);
    if (known === undefined) throw new CompareUsageError(`--only: unknown system ${JSON.stringify(name)}; known: ${systemNames.join(', ')}`);
    if (!chosen.includes(known)) chosen.push(known);
  }
  return systemNames.filter((name) => chosen.includes(name));
}

export function parseCompareArguments(argv: readonly string[]): CompareOptions {
  let quick = false;
  let help = false;
  let only: SystemName[] = [...systemNames];
  let outputDirectory: string | undefined;
  let profileDirectory: string | undefined;
  for (let position = 0; position < argv.length; position += 1) {
    const argument = argv[position] ?? '';
    const equals = argument.indexOf('=');
    const name = equals === -1 ? argument : argument.slice(0, equals);
    const takeValue = (): string => {
      if (equals === -1) position += 1;
      const value = equals === -1 ? argv[position] : argument.slice(equals + 1);
      if (value === undefined || value === '' || value.startsWith('--')) throw new CompareUsageError(`${name} needs a value`);
      return value;
    };
    if (name === '--quick' && equals === -1) quick = true;
    else if (name === '--help' && equals === -1) help = true;
    else if (name === '--only') only = parseOnly(takeValue());
    else if (name === '--out') outputDirectory = takeValue();
    else if (name === '--profile') profileDirectory = takeValue();
    else throw new CompareUsageError(`unknown argument ${JSON.stringify(argument)}`);
  }
  return { quick, only, outputDirectory, profileDirectory, help };
}

const rowsPerBatch = 100;

export function workloadSettings(quick: boolean): WorkloadSettings {
  return {
    roundCount: quick ? 2 : 3,
    warmUp: quick ? { operationCountMax: 2_000, durationMsMax: 1_000 } : { operationCountMax: 50_000, durationMsMax: 6_000 },
    leadIn: quick ? { operationCountMax: 500, durationMsMax: 300 } : { operationCountMax: 20_000, durationMsMax: 3_000 },
    afterIdle: quick
      ? { idleMs: 1_000, bounds: { operationCountMax: 100, durationMsMax: 500 } }
      : { idleMs: fullRunIdleMs, bounds: { operationCountMax: 2_000, durationMsMax: 2_000 } },
    sequentialWrites: quick ? { operationCountMax: 150, durationMsMax: 4_000 } : { operationCountMax: 3_000, durationMsMax: 15_000 },
    concurrentWrites: quick ? { operationCountMax: 1_000, durationMsMax: 5_000 } : { operationCountMax: 20_000, durationMsMax: 20_000 },
    concurrentClientCount: 64,
    batches: quick ? { operationCountMax: 16, durationMsMax: 4_000 } : { operationCountMax: 300, durationMsMax: 15_000 },
    rowsPerBatch,
    reads: quick ? { operationCountMax: 300, durationMsMax: 3_000 } : { operationCountMax: 5_000, durationMsMax: 8_000 },
    sqliteReads: quick ? { operationCountMax: 5_000, durationMsMax: 1_000 } : { operationCountMax: 100_000, durationMsMax: 5_000 },
    sqliteBatches: quick ? { operationCountMax: 50, durationMsMax: 2_000 } : { operationCountMax: 2_000, durationMsMax: 8_000 },
    fsyncs: quick ? { operationCountMax: 500, durationMsMax: 2_000 } : { operationCountMax: 20_000, durationMsMax: 8_000 },
    spreadReads: quick ? { operationCountMax: 3_000, durationMsMax: 3_000 } : { operationCountMax: 40_000, durationMsMax: 10_000 },
    mixed: quick ? { operationCountMax: 2_000, durationMsMax: 3_000 } : { operationCountMax: 20_000, durationMsMax: 10_000 },
    mixedWriteEvery: 10,
    failoverTrialCount: quick ? 2 : 10,
    hungFailoverTrialCount: quick ? 3 : 10,
    failoverTimeoutMs: 30_000,
    failoverTryTimeoutMs: 300,
    failoverSteadyLoadMs: quick ? 300 : 500,
    memorySampleIntervalMs: 100,
  };
}
