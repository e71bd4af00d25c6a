/**
 * Where one request's CPU goes, on every process of each system, measured on the CPU
 * (issue 16): each system in turn runs one client's requests, first for a window timed
 * from /proc (no profiler: the exact CPU per request of each process and of this client),
 * then for a window under `perf record -e cpu-clock -g` on all its processes, whose
 * samples lib/on-cpu.ts sums by kind of work (fsync, socket writes, SQLite, JIT, …) and,
 * for quorumlite, by the module of ours that asked for it. Node processes run with
 * `--perf-basic-prof` so that perf can name JavaScript frames. Build first.
 *
 *   npm run bench:on-cpu -- [--workload write|linearizable|none] [--systems quorumlite,etcd,write-floor+sqlite]
 *                           [--seconds S] [--warm-up S] [--pause S]
 *
 * `--pause S` leaves every process idle S seconds before each window, to measure the first
 * seconds after a pause (a Node process spends more CPU per request then; bench/README.md).
 *
 * Systems: quorumlite, etcd, write-floor+sqlite (writes), http-floor (reads). Needs `perf`
 * (Debian: linux-perf). Bounded: each window by time and request count, the recording by
 * its seconds; every process is stopped by PID and its directory, perf data and perf maps
 * removed on the way out, on failure too.
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { moduleOf, otherWork, parsePerfScript, perOperation, workKindOf, workKinds, type PerfSample } from './lib/on-cpu.js';
import { benchKey, benchValue, collectLoad } from './lib/measure.js';
import { findOnPath, readCpuSeconds } from './lib/processes.js';
import { roundArgument } from './lib/rounds.js';
import { EtcdSystem } from './peers/etcd.js';
import { HttpFloor } from './peers/http-floor.js';
import { QuorumliteSystem } from './peers/quorumlite.js';
import { WriteFloor } from './peers/write-floor.js';

type Workload = 'write' | 'linearizable' | 'none';

interface Subject {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  operation(sequence: number): Promise<boolean>;
  pids(): ReadonlyArray<number | undefined>;
  leaderIndex(): Promise<number>;
}

const nodeFlags = ['--perf-basic-prof'];
const requestsPerWindowMax = 200_000;
/** Keys the reads spread over (written before the warm-up). */
const readKeyCount = 500;
const perfFrequencyHz = 2_000;
/** Bound on `perf script`'s output read back. */
const perfScriptBytesMax = 1024 * 1024 * 1024;
const perfStopWaitMs = 30_000;
/** Longest `--pause`. */
const pauseSecondsMax = 600;

function usage(): string {
  return 'usage: npm run bench:on-cpu -- [--workload write|linearizable|none] [--systems a,b] [--seconds S] [--warm-up S] [--pause S]\n';
}

const writers = ['quorumlite', 'etcd', 'write-floor+sqlite'];
const readers = ['quorumlite', 'etcd', 'http-floor'];

/** Refuses an unknown system, or one that does not run `workload`, before anything starts. */
function checkSystems(names: readonly string[], workload: Workload): void {
  const known = workload === 'write' ? writers : readers;
  for (const name of names) if (!known.includes(name)) throw new Error(`${name} does not run ${workload}: one of ${known.join(', ')}`);
  if (new Set(names).size !== names.length) throw new Error('a system is named twice');
}

function subjectFor(name: string, workload: Workload): Subject {
  if (name === 'write-floor+sqlite') {
    const floor = new WriteFloor({ sqlite: true, nodeFlags });
    return {
      name,
      start: () => floor.start(),
      stop: () => floor.stop(),
      operation: (sequence) => floor.write(benchKey(1_000_000 + sequence), benchValue(sequence)),
      pids: () => floor.pids(),
      leaderIndex: () => Promise.resolve(0),
    };
  }
  if (name === 'http-floor') {
    const floor = new HttpFloor({ nodeFlags });
    return {
      name,
      start: () => floor.start(),
      stop: () => floor.stop(),
      operation: (sequence) => floor.readAt(0, benchKey(1 + (sequence % readKeyCount)), workload === 'none' ? 'none' : 'linearizable'),
      pids: () => floor.pids(),
      leaderIndex: () => Promise.resolve(0),
    };
  }
  let system: QuorumliteSystem | EtcdSystem;
  if (name === 'quorumlite') system = new QuorumliteSystem({ nodeFlags });
  else if (name === 'etcd') {
    const etcd = findOnPath('etcd');
    if (etcd === undefined) throw new Error('`etcd` is not on PATH (Debian: apt-get install etcd-server)');
    system = new EtcdSystem(etcd);
  } else throw new Error(`unknown system ${name}`);
  const mode = system.readModes.find((candidate) => candidate.kind === (workload === 'none' ? 'fast' : 'linearizable'));
  return {
    name,
    start: async () => {
      await system.start();
      await system.prepare();
      if (workload !== 'write') for (let key = 1; key <= readKeyCount; key += 1) await system.write(benchKey(key), benchValue(key));
    },
    stop: () => system.stop(),
    operation:
      workload === 'write'
        ? (sequence) => system.write(benchKey(1_000_000 + sequence), benchValue(sequence))
        : (sequence) => (mode === undefined ? Promise.resolve(false) : mode.read(benchKey(1 + (sequence % readKeyCount)))),
    pids: () => system.pids(),
    leaderIndex: () => system.leaderIndex(),
  };
}

interface Window {
  readonly requests: number;
  readonly failed: number;
  readonly seconds: number;
}

async function run(subject: Subject, firstSequence: number, seconds: number): Promise<Window> {
  const samples = await collectLoad((sequence) => subject.operation(firstSequence + sequence), 1, {
    operationCountMax: requestsPerWindowMax,
    durationMsMax: seconds * 1000,
  });
  return { requests: samples.latenciesMs.length, failed: samples.failedCount, seconds: samples.elapsedMs / 1000 };
}

interface Measured {
  readonly name: string;
  readonly requestsPerSecond: number;
  /** Exact CPU per request from /proc, µs: each process in node order, then this client. */
  readonly cpuPerProcess: number[];
  readonly clientCpu: number;
  readonly leader: number;
  readonly samples: PerfSample[];
  readonly sampledRequests: number;
  readonly pids: number[];
}

async function record(pids: readonly number[], file: string, during: () => Promise<Window>): Promise<{ window: Window; samples: PerfSample[] }> {
  const recorder = spawn('perf', ['record', '-q', '-e', 'cpu-clock', '-F', String(perfFrequencyHz), '-g', '-o', file, '-p', pids.join(',')], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let errorText = '';
  recorder.stderr.on('data', (chunk: Buffer) => {
    if (errorText.length < 4096) errorText += chunk.toString('utf8');
  });
  const exited = new Promise<number | null>((resolve) => recorder.once('exit', (code) => resolve(code)));
  try {
    await new Promise((resolve) => setTimeout(resolve, 500));
    if (recorder.exitCode !== null) throw new Error(`perf record exited at once: ${errorText.trim()}`);
    const window = await during();
    recorder.kill('SIGINT');
    const stopped = await Promise.race([exited, new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), perfStopWaitMs))]);
    if (stopped === 'late') throw new Error('perf record did not stop');
    const text = execFileSync('perf', ['script', '-i', file, '-F', 'comm,pid,tid,time,period,event,ip,sym,dso'], {
      maxBuffer: perfScriptBytesMax,
      stdio: ['ignore', 'pipe', 'ignore'],
    }).toString('utf8');
    return { window, samples: parsePerfScript(text) };
  } finally {
    if (recorder.exitCode === null && recorder.signalCode === null) recorder.kill('SIGKILL');
  }
}

const sleep = (seconds: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

interface Timing {
  readonly seconds: number;
  readonly warmUpSeconds: number;
  /** Idle seconds before each window. */
  readonly pauseSeconds: number;
}

/** `--pause S`: a whole number of seconds from 0 to pauseSecondsMax; 0 when absent. */
function pauseArgument(argv: readonly string[]): number {
  const position = argv.indexOf('--pause');
  if (position < 0) return 0;
  const value = Number(argv[position + 1]);
  if (!(Number.isInteger(value) && value >= 0 && value <= pauseSecondsMax)) throw new Error(`--pause: a whole number from 0 to ${pauseSecondsMax}`);
  return value;
}

async function measure(subject: Subject, timing: Timing, directory: string): Promise<Measured> {
  const { seconds, warmUpSeconds, pauseSeconds } = timing;
  await subject.start();
  let sequence = 0;
  const advance = (window: Window): Window => {
    sequence += window.requests + window.failed;
    if (window.failed > 0) throw new Error(`${subject.name}: ${window.failed} of ${window.requests + window.failed} requests failed`);
    return window;
  };
  advance(await run(subject, sequence, warmUpSeconds));
  const leader = await subject.leaderIndex();
  const pids = subject.pids().filter((pid): pid is number => pid !== undefined);
  await sleep(pauseSeconds);
  const cpuBefore = pids.map((pid) => readCpuSeconds(pid) ?? 0);
  const clientBefore = process.cpuUsage();
  const timed = advance(await run(subject, sequence, seconds));
  const client = process.cpuUsage(clientBefore);
  const cpuPerProcess = pids.map((pid, index) => (((readCpuSeconds(pid) ?? 0) - (cpuBefore[index] ?? 0)) * 1e6) / timed.requests);
  const file = join(directory, `${subject.name}.perf.data`);
  await sleep(pauseSeconds);
  const recorded = await record(pids, file, async () => advance(await run(subject, sequence, seconds)));
  return {
    name: subject.name,
    requestsPerSecond: timed.requests / timed.seconds,
    cpuPerProcess,
    clientCpu: (client.user + client.system) / timed.requests,
    leader,
    samples: recorded.samples,
    sampledRequests: recorded.window.requests,
    pids,
  };
}

function roleOf(measured: Measured, pid: number): string {
  const index = measured.pids.indexOf(pid);
  return index === measured.leader ? 'leader' : `follower ${index + 1}`;
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const fixed = (value: number | undefined): string => (value === undefined || value < 0.05 ? '' : value.toFixed(0));

function report(workload: Workload, pauseSeconds: number, results: readonly Measured[]): string {
  const what = workload === 'write' ? 'sequential single-row writes' : `point reads at ${workload}`;
  const after = pauseSeconds > 0 ? `, each window after ${pauseSeconds} s idle` : '';
  const out: string[] = [`## On-CPU cost of one request: ${what}, 1 client${after}`, ''];
  out.push(
    table(
      ['System', 'requests/s', 'CPU µs per request (/proc): leader', 'followers', 'all nodes', 'this client'],
      results.map((result) => {
        const leader = result.cpuPerProcess[result.leader] ?? 0;
        const followers = result.cpuPerProcess.filter((_, index) => index !== result.leader);
        const sum = result.cpuPerProcess.reduce((total, value) => total + value, 0);
        return [
          result.name,
          result.requestsPerSecond.toFixed(0),
          leader.toFixed(0),
          followers.map((value) => value.toFixed(0)).join(', '),
          sum.toFixed(0),
          result.clientCpu.toFixed(0),
        ];
      }),
    ),
    '',
  );
  const columns = results.flatMap((result) => [
    { result, label: `${result.name} leader`, select: (sample: PerfSample) => roleOf(result, sample.pid) === 'leader' },
    { result, label: `${result.name} follower`, select: (sample: PerfSample) => roleOf(result, sample.pid) !== 'leader', share: result.pids.length - 1 },
  ]);
  const byKind = columns.map((column) => {
    const totals = perOperation(column.result.samples, column.result.sampledRequests, (sample) => workKindOf(sample.frames), column.select);
    // The followers' column is per follower: their sum over the number of followers.
    const share = column.share ?? 1;
    return new Map([...totals].map(([key, value]) => [key, value / Math.max(1, share)]));
  });
  const kinds = [...workKinds.map((rule) => rule.kind), otherWork];
  out.push(`By kind of work, µs per request under perf (sampled at ${perfFrequencyHz} Hz; a follower's column is the followers' mean):`, '');
  out.push(
    table(
      ['Work', ...columns.map((column) => column.label)],
      [
        ...kinds.map((kind) => [kind, ...byKind.map((totals) => fixed(totals.get(kind)))]),
        ['**total**', ...byKind.map((totals) => [...totals.values()].reduce((sum, value) => sum + value, 0).toFixed(0))],
      ],
    ),
    '',
  );
  for (const result of results.filter((candidate) => candidate.name === 'quorumlite')) {
    const leader = perOperation(
      result.samples,
      result.sampledRequests,
      (sample) => moduleOf(sample.frames),
      (sample) => roleOf(result, sample.pid) === 'leader',
    );
    const followers = perOperation(
      result.samples,
      result.sampledRequests,
      (sample) => moduleOf(sample.frames),
      (sample) => roleOf(result, sample.pid) !== 'leader',
    );
    const names = [...new Set([...leader.keys(), ...followers.keys()])];
    out.push('quorumlite by the module of ours innermost on the stack (src/<module>), µs per request:', '');
    out.push(
      table(
        ['Module', 'leader', 'follower (mean)'],
        names.map((name) => [name, fixed(leader.get(name)), fixed((followers.get(name) ?? 0) / Math.max(1, result.pids.length - 1))]),
      ),
      '',
    );
  }
  return out.join('\n');
}

const flagNames = ['--workload', '--systems', '--seconds', '--warm-up', '--pause'];

/** Every argument is one of flagNames followed by its value, each flag at most once. */
function checkFlags(argv: readonly string[]): string | undefined {
  const seen = new Set<string>();
  for (let position = 0; position < argv.length; position += 2) {
    const flag = argv[position] as string;
    if (!flagNames.includes(flag)) return `unknown argument ${flag}`;
    if (seen.has(flag)) return `${flag} given twice`;
    seen.add(flag);
    if (argv[position + 1] === undefined) return `${flag} needs a value`;
  }
  return undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  const flagError = checkFlags(argv);
  if (flagError !== undefined) {
    process.stderr.write(`bench:on-cpu: ${flagError}\n${usage()}`);
    return 2;
  }
  const workloadPosition = argv.indexOf('--workload');
  const workload = (workloadPosition < 0 ? 'write' : argv[workloadPosition + 1]) as Workload;
  if (!['write', 'linearizable', 'none'].includes(workload)) {
    process.stderr.write(`--workload: write, linearizable or none\n${usage()}`);
    return 2;
  }
  const systemsPosition = argv.indexOf('--systems');
  const names = (
    systemsPosition < 0 ? (workload === 'write' ? 'quorumlite,etcd,write-floor+sqlite' : 'quorumlite,etcd,http-floor') : (argv[systemsPosition + 1] ?? '')
  ).split(',');
  let seconds: number;
  let warmUpSeconds: number;
  let pauseSeconds: number;
  try {
    seconds = roundArgument(argv, '--seconds', 8, 30);
    warmUpSeconds = roundArgument(argv, '--warm-up', 8, 60);
    pauseSeconds = pauseArgument(argv);
    checkSystems(names, workload);
    const etcd = names.includes('etcd') ? findOnPath('etcd') : '';
    if (etcd === undefined) throw new Error('`etcd` is not on PATH (Debian: apt-get install etcd-server)');
  } catch (error) {
    process.stderr.write(`bench:on-cpu: ${error instanceof Error ? error.message : String(error)}\n${usage()}`);
    return 2;
  }
  if (findOnPath('perf') === undefined) {
    process.stderr.write('bench:on-cpu: `perf` is not on PATH (Debian: apt-get install linux-perf)\n');
    return 2;
  }
  const pausing = pauseSeconds > 0 ? `, each after ${pauseSeconds} s idle` : '';
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-on-cpu-'));
  const results: Measured[] = [];
  try {
    for (const name of names) {
      const subject = subjectFor(name, workload);
      process.stderr.write(`[on-cpu] ${subject.name}: warm-up ${warmUpSeconds} s, then two windows of ${seconds} s${pausing}\n`);
      const pidsSeen: number[] = [];
      try {
        const measured = await measure(subject, { seconds, warmUpSeconds, pauseSeconds }, directory);
        pidsSeen.push(...measured.pids);
        results.push(measured);
      } finally {
        pidsSeen.push(...subject.pids().filter((pid): pid is number => pid !== undefined));
        await subject.stop();
        for (const pid of new Set(pidsSeen)) rmSync(`/tmp/perf-${pid}.map`, { force: true });
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  process.stdout.write(`${report(workload, pauseSeconds, results)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
