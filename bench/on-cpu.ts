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
import {
  moduleOf,
  otherWork,
  parseOnCpuArguments,
  parsePerfScript,
  perfMapPath,
  perfNodeFlags,
  perOperation,
  workKindOf,
  workKinds,
  type OnCpuOptions,
  type OnCpuWorkload,
  type PerfSample,
} from './lib/on-cpu.js';
import { benchKey, benchValue, collectLoad } from './lib/measure.js';
import { findOnPath, readCpuSeconds } from './lib/processes.js';
import { sleep } from './lib/waiting.js';
import { EtcdSystem } from './peers/etcd.js';
import { HttpFloor } from './peers/http-floor.js';
import { QuorumliteSystem } from './peers/quorumlite.js';
import { WriteFloor } from './peers/write-floor.js';

interface Subject {
  readonly name: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  operation(sequence: number): Promise<boolean>;
  pids(): ReadonlyArray<number | undefined>;
  leaderIndex(): Promise<number>;
}

const requestsPerWindowMax = 200_000;
/** Keys the reads spread over (written before the warm-up). */
const readKeyCount = 500;
const perfFrequencyHz = 2_000;
/** Bound on `perf script`'s output read back. */
const perfScriptBytesMax = 1024 * 1024 * 1024;
const perfStopWaitMs = 30_000;
/** How long perf record runs before the window starts (it attaches to every thread first). */
const perfStartMs = 500;

/** `etcdPath`: the etcd binary, checked before anything starts (undefined when etcd does not run); `directory`: the run's own, removed at its end. */
function subjectFor(name: string, workload: OnCpuWorkload, etcdPath: string | undefined, directory: string): Subject {
  const nodeFlags = perfNodeFlags(directory);
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
  else if (name === 'etcd' && etcdPath !== undefined) system = new EtcdSystem(etcdPath);
  else throw new Error(`unknown system ${name}`);
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
  /** Exact CPU per request from /proc, µs: each process in node order. */
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
    await sleep(perfStartMs);
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
    rmSync(file, { force: true });
  }
}

async function measure(subject: Subject, options: OnCpuOptions, directory: string): Promise<Measured> {
  const { seconds, warmUpSeconds, pauseSeconds } = options;
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
  await sleep(pauseSeconds * 1000);
  const cpuBefore = pids.map((pid) => readCpuSeconds(pid) ?? 0);
  const clientBefore = process.cpuUsage();
  const timed = advance(await run(subject, sequence, seconds));
  const client = process.cpuUsage(clientBefore);
  const cpuPerProcess = pids.map((pid, index) => (((readCpuSeconds(pid) ?? 0) - (cpuBefore[index] ?? 0)) * 1e6) / timed.requests);
  const file = join(directory, `${subject.name}.perf.data`);
  await sleep(pauseSeconds * 1000);
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

/**
 * µs per request by `keyOf`, on the leader and on a follower (the followers' sum over
 * their number: their mean).
 */
function byRole(result: Measured, keyOf: (sample: PerfSample) => string): { readonly leader: Map<string, number>; readonly follower: Map<string, number> } {
  const leaderPid = result.pids[result.leader];
  const followerCount = Math.max(1, result.pids.length - 1);
  const leader = perOperation(result.samples, result.sampledRequests, keyOf, (sample) => sample.pid === leaderPid);
  const followers = perOperation(result.samples, result.sampledRequests, keyOf, (sample) => sample.pid !== leaderPid);
  return { leader, follower: new Map([...followers].map(([key, value]) => [key, value / followerCount])) };
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

const fixed = (value: number | undefined): string => (value === undefined || value < 0.05 ? '' : value.toFixed(0));
const sum = (values: Iterable<number>): number => [...values].reduce((total, value) => total + value, 0);

function report(options: OnCpuOptions, results: readonly Measured[]): string {
  const what = options.workload === 'write' ? 'sequential single-row writes' : `point reads at ${options.workload}`;
  const after = options.pauseSeconds > 0 ? `, each window after ${options.pauseSeconds} s idle` : '';
  const out: string[] = [`## On-CPU cost of one request: ${what}, 1 client${after}`, ''];
  out.push(
    table(
      ['System', 'requests/s', 'CPU µs per request (/proc): leader', 'followers', 'all nodes', 'this client'],
      results.map((result) => [
        result.name,
        result.requestsPerSecond.toFixed(0),
        (result.cpuPerProcess[result.leader] ?? 0).toFixed(0),
        result.cpuPerProcess
          .filter((_, index) => index !== result.leader)
          .map((value) => value.toFixed(0))
          .join(', '),
        sum(result.cpuPerProcess).toFixed(0),
        result.clientCpu.toFixed(0),
      ]),
    ),
    '',
  );
  const columns = results.flatMap((result) => {
    const totals = byRole(result, (sample) => workKindOf(sample.frames));
    return [
      { label: `${result.name} leader`, totals: totals.leader },
      { label: `${result.name} follower`, totals: totals.follower },
    ];
  });
  const kinds = [...workKinds.map((rule) => rule.kind), otherWork];
  out.push(`By kind of work, µs per request under perf (sampled at ${perfFrequencyHz} Hz; a follower's column is the followers' mean):`, '');
  out.push(
    table(
      ['Work', ...columns.map((column) => column.label)],
      [
        ...kinds.map((kind) => [kind, ...columns.map((column) => fixed(column.totals.get(kind)))]),
        ['**total**', ...columns.map((column) => sum(column.totals.values()).toFixed(0))],
      ],
    ),
    '',
  );
  for (const result of results.filter((candidate) => candidate.name === 'quorumlite')) {
    const modules = byRole(result, (sample) => moduleOf(sample.frames));
    const names = [...new Set([...modules.leader.keys(), ...modules.follower.keys()])];
    out.push('quorumlite by the module of ours innermost on the stack (src/<module>), µs per request:', '');
    out.push(
      table(
        ['Module', 'leader', 'follower (mean)'],
        names.map((name) => [name, fixed(modules.leader.get(name)), fixed(modules.follower.get(name))]),
      ),
      '',
    );
  }
  return out.join('\n');
}

function usage(): string {
  return 'usage: npm run bench:on-cpu -- [--workload write|linearizable|none] [--systems a,b] [--seconds S] [--warm-up S] [--pause S]\n';
}

async function main(argv: readonly string[]): Promise<number> {
  let options: OnCpuOptions;
  try {
    options = parseOnCpuArguments(argv);
  } catch (error) {
    process.stderr.write(`bench:on-cpu: ${error instanceof Error ? error.message : String(error)}\n${usage()}`);
    return 2;
  }
  const etcdPath = options.systems.includes('etcd') ? findOnPath('etcd') : undefined;
  if (options.systems.includes('etcd') && etcdPath === undefined) {
    process.stderr.write('bench:on-cpu: `etcd` is not on PATH (Debian: apt-get install etcd-server)\n');
    return 2;
  }
  if (findOnPath('perf') === undefined) {
    process.stderr.write('bench:on-cpu: `perf` is not on PATH (Debian: apt-get install linux-perf)\n');
    return 2;
  }
  const { seconds, warmUpSeconds, pauseSeconds } = options;
  const pausing = pauseSeconds > 0 ? `, each after ${pauseSeconds} s idle` : '';
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-on-cpu-'));
  const results: Measured[] = [];
  try {
    for (const name of options.systems) {
      const subject = subjectFor(name, options.workload, etcdPath, directory);
      process.stderr.write(`[on-cpu] ${subject.name}: warm-up ${warmUpSeconds} s, then two windows of ${seconds} s${pausing}\n`);
      try {
        results.push(await measure(subject, options, directory));
      } finally {
        const pids = subject.pids().filter((pid): pid is number => pid !== undefined);
        await subject.stop();
        for (const pid of pids) rmSync(perfMapPath(pid), { force: true });
      }
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
  process.stdout.write(`${report(options, results)}\n`);
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
