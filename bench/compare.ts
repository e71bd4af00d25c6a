/**
 * Side-by-side benchmark: quorumlite against etcd 3.4, dqlite (dqlite-demo) and raw
 * durable SQLite, each cluster 3 nodes on loopback with fsync on every commit, the same
 * workloads and load generator, measured in one run: every cluster is started first, then
 * each workload runs in rounds that visit every system in turn (failover trials too), so
 * load from elsewhere on a shared machine falls on all of them alike. Prints a markdown table with
 * quorumlite's ratio to each peer and writes compare-<timestamp>.{md,json,svg}.
 *
 *   npm run bench:compare [-- --quick] [--only quorumlite,etcd,dqlite,sqlite,http-floor,quorumlite-etcd] [--out DIR]
 *
 * Floors: raw SQLite (batched writes, 100 rows per transaction) and a bare node:http
 * server answering a point read's JSON (reads); the markdown ends with quorumlite's
 * ratio to each floor against its goal.
 *
 * Installs nothing: a peer not on PATH is reported as missing, with how to get it.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, platform, release } from 'node:os';
import { join } from 'node:path';
import { renderSvg } from './lib/chart.js';
import { CompareUsageError, compareUsage, parseCompareArguments, workloadSettings, type CompareOptions } from './lib/options.js';
import { findOnPath } from './lib/processes.js';
import { renderMarkdown, type RunReport, type SystemName, type SystemReport } from './lib/report.js';
import { progress, runInterleaved, type Contender, type InterleavedOutcome } from './lib/workloads.js';
import { DqliteSystem } from './peers/dqlite.js';
import { EtcdSystem } from './peers/etcd.js';
import { HttpFloor } from './peers/http-floor.js';
import { QuorumliteSystem, quorumliteCliPath, repositoryRoot } from './peers/quorumlite.js';
import { QuorumliteOnEtcd } from './peers/quorumlite-etcd.js';
import { SqliteBench } from './peers/sqlite.js';
import type { ReplicatedSystem } from './peers/system.js';

const durabilityByName: Readonly<Record<SystemName, string>> = {
  quorumlite: 'fsync per commit on a quorum (group commit)',
  'quorumlite-etcd': 'the log in etcd: fsync per commit on an etcd quorum',
  etcd: 'fsync per commit on a quorum (etcd default)',
  dqlite: 'libraft log fsynced per append on a quorum',
  sqlite: 'one process, WAL, synchronous=FULL (fsync per commit)',
  'http-floor': 'none: a floor for reads (no database)',
};

const installHints: Readonly<Record<SystemName, string>> = {
  quorumlite: 'run `npm run build` (needs dist/cli/main.js)',
  'quorumlite-etcd': 'run `npm run build`, and put `etcd` on PATH (Debian: apt-get install etcd-server)',
  etcd: '`etcd` not on PATH: on Debian `apt-get install etcd-server etcd-client`',
  dqlite: '`dqlite-demo` and `dqlite` not on PATH: on Debian `apt-get install go-dqlite`',
  sqlite: '',
  'http-floor': '',
};

/** The running clusters, so an interrupt or an early exit still stops their processes by PID. */
const runningSystems = new Set<ReplicatedSystem>();
const runningFloors = new Set<HttpFloor>();

function missing(name: SystemName, detail = installHints[name]): SystemReport {
  return { name, status: 'missing', detail, durability: durabilityByName[name], replicated: null, sqlite: null, floor: null };
}

function failed(name: SystemName, error: unknown): SystemReport {
  return {
    name,
    status: 'failed',
    detail: error instanceof Error ? error.message : String(error),
    durability: durabilityByName[name],
    replicated: null,
    sqlite: null,
    floor: null,
  };
}

/** Builds the system if its programs are there; otherwise the reason it is missing. */
function locate(name: Exclude<SystemName, 'sqlite' | 'http-floor'>, options: CompareOptions): ReplicatedSystem | SystemReport {
  if (name === 'quorumlite') return existsSync(quorumliteCliPath) ? new QuorumliteSystem({ profileDirectory: options.profileDirectory }) : missing(name);
  if (name === 'quorumlite-etcd') {
    const etcd = findOnPath('etcd');
    if (etcd === undefined || !existsSync(quorumliteCliPath)) return missing(name);
    return new QuorumliteOnEtcd(new EtcdSystem(etcd), options.profileDirectory);
  }
  if (name === 'etcd') {
    const etcd = findOnPath('etcd');
    return etcd === undefined ? missing(name) : new EtcdSystem(etcd);
  }
  const demo = findOnPath('dqlite-demo');
  const shell = findOnPath('dqlite');
  if (demo === undefined || shell === undefined) return missing(name);
  return new DqliteSystem(demo, shell);
}

/** Starts every available cluster; a missing or failed one gets its report at once. */
async function startContenders(options: CompareOptions, early: Map<SystemName, SystemReport>): Promise<Contender[]> {
  const contenders: Contender[] = [];
  for (const name of options.only) {
    if (name === 'sqlite') {
      contenders.push({ kind: 'sqlite', name, bench: new SqliteBench() });
      continue;
    }
    if (name === 'http-floor') {
      const floor = new HttpFloor();
      runningFloors.add(floor);
      progress('http-floor: starting 3 bare node:http servers');
      await floor.start();
      contenders.push({ kind: 'floor', name, floor });
      continue;
    }
    const located = locate(name, options);
    if (!('start' in located)) {
      progress(`${name}: missing (${located.detail})`);
      early.set(name, located);
      continue;
    }
    runningSystems.add(located);
    try {
      progress(`${name}: starting a 3-node cluster`);
      await located.start();
      await located.prepare();
      contenders.push({ kind: 'replicated', name, system: located });
    } catch (error) {
      progress(`${name}: failed to start: ${String(error)}\n${located.logs()}`);
      early.set(name, failed(name, error));
      await located.stop();
      runningSystems.delete(located);
    }
  }
  return contenders;
}

async function stopContenders(contenders: readonly Contender[]): Promise<void> {
  for (const contender of contenders) {
    if (contender.kind === 'sqlite') contender.bench.close();
    else if (contender.kind === 'floor') {
      await contender.floor.stop();
      runningFloors.delete(contender.floor);
    } else {
      await contender.system.stop();
      runningSystems.delete(contender.system);
    }
  }
}

function toReport(outcome: InterleavedOutcome): SystemReport {
  if (outcome.failure !== undefined) return failed(outcome.name, outcome.failure);
  return {
    name: outcome.name,
    status: 'ok',
    detail: '',
    durability: durabilityByName[outcome.name],
    replicated: outcome.replicated,
    sqlite: outcome.sqlite,
    floor: outcome.floor,
  };
}

async function measureAll(options: CompareOptions): Promise<SystemReport[]> {
  const early = new Map<SystemName, SystemReport>();
  let contenders: Contender[] = [];
  try {
    contenders = await startContenders(options, early);
    const outcomes = await runInterleaved(contenders, workloadSettings(options.quick));
    for (const outcome of outcomes) {
      if (outcome.failure !== undefined) {
        const contender = contenders.find((candidate) => candidate.name === outcome.name);
        if (contender?.kind === 'replicated') progress(`${outcome.name} logs:\n${contender.system.logs()}`);
      }
      early.set(outcome.name, toReport(outcome));
    }
  } finally {
    await stopContenders(contenders);
  }
  return options.only.map((name) => early.get(name) ?? failed(name, new Error('not measured')));
}

function writeOutputs(report: RunReport, outputDirectory: string): string[] {
  mkdirSync(outputDirectory, { recursive: true });
  const stamp = report.startedAt.replaceAll(':', '').replace(/\.\d+Z$/, 'Z');
  const base = join(outputDirectory, `compare-${stamp}`);
  const markdown = renderMarkdown(report);
  writeFileSync(`${base}.md`, markdown);
  writeFileSync(`${base}.json`, `${JSON.stringify(report, (_, value: unknown) => (typeof value === 'number' && !Number.isFinite(value) ? null : value), 2)}\n`);
  writeFileSync(`${base}.svg`, renderSvg(report));
  process.stdout.write(markdown);
  return [`${base}.md`, `${base}.json`, `${base}.svg`];
}

async function main(argv: readonly string[]): Promise<number> {
  let options: CompareOptions;
  try {
    options = parseCompareArguments(argv);
  } catch (error) {
    if (!(error instanceof CompareUsageError)) throw error;
    process.stderr.write(`bench:compare: ${error.message}\n${compareUsage}`);
    return 2;
  }
  if (options.help) {
    process.stdout.write(compareUsage);
    return 0;
  }
  const startedAt = new Date().toISOString();
  const systems = await measureAll(options);
  const report: RunReport = {
    startedAt,
    mode: options.quick ? 'quick' : 'full',
    machine: { cpuCount: cpus().length, nodeVersion: process.version, platform: `${platform()} ${release()}` },
    systems,
  };
  const files = writeOutputs(report, options.outputDirectory ?? join(repositoryRoot, 'bench', 'results'));
  progress(`wrote ${files.join(', ')}`);
  if (options.only.includes('dqlite') && findOnPath('dqlite-benchmark') === undefined)
    progress('note: dqlite-benchmark is not on PATH (apt-get install go-dqlite); it is not needed for this table');
  return systems.some((system) => system.status === 'failed') ? 1 : 0;
}

function stopRunningSystem(): void {
  for (const pid of [...runningSystems, ...runningFloors].flatMap((system) => system.pids())) {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
}

process.once('exit', stopRunningSystem);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    stopRunningSystem();
    process.exit(130);
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    process.stderr.write(`bench:compare: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  },
);
