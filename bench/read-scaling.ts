/**
 * Read scaling (issue 18): 64 concurrent clients reading point rows through every node of
 * a 1-, 3- and 5-node quorumlite cluster (real processes on 127.0.0.1/.2/…), at level
 * linearizable and at level none. Prints a markdown table (reads/s, the ratio to the
 * first node count, latency, the node processes' CPU and reads per CPU-second, and which
 * node served each read) and writes read-scaling-<timestamp>.{md,json}. Build first.
 *
 *   npm run bench:read-scaling [-- --nodes 1,3,5] [--seconds 5] [--rounds 3] [--out DIR]
 *
 * Bounded: each row by --seconds and readCountPerRowMax; every cluster is stopped by PID
 * and its directory removed on the way out, on failure and on SIGINT/SIGTERM too.
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { measureReadScaling, type ReadScalingSettings } from './lib/read-scaling.js';
import { readScalingJson, renderReadScaling } from './lib/read-scaling-report.js';
import { nodeCountMax, repositoryRoot, type QuorumliteSystem } from './peers/quorumlite.js';

const clientCount = 64;
const readCountPerRowMax = 500_000;
const secondsPerRowMax = 600;
const roundCountMax = 100;
const tableRowCount = 1_000;

const usage = `Usage: npm run bench:read-scaling [-- --nodes 1,3,5] [--seconds 5] [--rounds 3] [--out DIR]

  --nodes LIST    cluster sizes, in order; ratios are to the first (default 1,3,5)
  --seconds S     time per row (node count and level), over all rounds (default 5, at most ${secondsPerRowMax})
  --rounds N      interleaved rounds each row is split into (default 3)
  --out DIR       where the .md and .json go (default bench/results)
`;

class UsageError extends Error {}

interface Options {
  readonly settings: ReadScalingSettings;
  readonly outputDirectory: string;
  readonly help: boolean;
}

function parseWhole(name: string, text: string, min: number, max: number): number {
  const value = Number(text);
  if (!(Number.isInteger(value) && value >= min && value <= max))
    throw new UsageError(`${name}: ${JSON.stringify(text)} is not a whole number from ${min} to ${max}`);
  return value;
}

function parseArguments(argv: readonly string[]): Options {
  let nodeCounts = [1, 3, 5];
  let seconds = 5;
  let roundCount = 3;
  let outputDirectory = join(repositoryRoot, 'bench', 'results');
  let help = false;
  for (let position = 0; position < argv.length; position += 1) {
    const argument = argv[position] ?? '';
    const takeValue = (): string => {
      position += 1;
      const value = argv[position];
      if (value === undefined || value.startsWith('--')) throw new UsageError(`${argument} needs a value`);
      return value;
    };
    if (argument === '--help') help = true;
    else if (argument === '--nodes')
      nodeCounts = takeValue()
        .split(',')
        .map((text) => parseWhole('--nodes', text, 1, nodeCountMax));
    else if (argument === '--seconds') seconds = parseWhole('--seconds', takeValue(), 1, secondsPerRowMax);
    else if (argument === '--rounds') roundCount = parseWhole('--rounds', takeValue(), 1, roundCountMax);
    else if (argument === '--out') outputDirectory = takeValue();
    else throw new UsageError(`unknown argument ${JSON.stringify(argument)}`);
  }
  if (new Set(nodeCounts).size !== nodeCounts.length) throw new UsageError(`--nodes: ${nodeCounts.join(',')} repeats a size`);
  const row = { operationCountMax: readCountPerRowMax, durationMsMax: seconds * 1000 };
  return { settings: { nodeCounts, clientCount, row, roundCount, tableRowCount }, outputDirectory, help };
}

/** The clusters while they run, so a signal or an early exit still stops their processes by PID and removes their directories. */
const running = new Set<QuorumliteSystem>();

function killRunning(): void {
  for (const system of running) {
    for (const pid of system.pids()) {
      if (pid === undefined) continue;
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    rmSync(system.rootDirectory, { recursive: true, force: true });
  }
}

function progress(message: string): void {
  process.stderr.write(`[read-scaling] ${message}\n`);
}

async function main(argv: readonly string[]): Promise<number> {
  let options: Options;
  try {
    options = parseArguments(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench:read-scaling: ${error.message}\n${usage}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(usage);
    return 0;
  }
  const report = await measureReadScaling(options.settings, running, progress);
  const markdown = renderReadScaling(report);
  mkdirSync(options.outputDirectory, { recursive: true });
  const base = join(options.outputDirectory, `read-scaling-${report.startedAt.replaceAll(':', '').replace(/\.\d+Z$/, 'Z')}`);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, readScalingJson(report));
  process.stdout.write(markdown);
  progress(`wrote ${base}.md, ${base}.json`);
  return 0;
}

process.once('exit', killRunning);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killRunning();
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench:read-scaling: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
