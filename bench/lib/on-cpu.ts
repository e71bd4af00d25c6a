/**
 * On-CPU attribution for bench/on-cpu.ts: `perf script` text from a `perf record -e
 * cpu-clock -g` run, parsed into samples and summed into what each operation cost, by
 * the kind of work and, for Node processes, by the module of ours that asked for it.
 *
 * Why not `node --cpu-prof`: V8's profiler samples the main thread on a wall clock, so a
 * thread that waits for a core inside a syscall (a socket write that woke the receiver,
 * which then ran on the writer's core) is charged to that syscall. perf's cpu-clock
 * samples only a thread that is on a core, every thread of the process (the thread pool's
 * fsyncs, the compiler's and the collector's threads too), kernel frames included.
 */
import { join } from 'node:path';
import { roundArgument } from './rounds.js';

/** One sample: its process and thread, its weight and its frames, innermost first. */
export interface PerfSample {
  readonly pid: number;
  readonly tid: number;
  /** The sampling period in nanoseconds (the on-CPU time the sample stands for). */
  readonly periodNs: number;
  readonly frames: readonly string[];
}

/** Bound on the samples one parse keeps: a longer recording is refused rather than read partly. */
export const perfSamplesMax = 2_000_000;

const headerPattern = /^\S.*?\s(\d+)(?:\/(\d+))?\s+[\d.]+:\s+(\d+)\s+cpu-clock/;

/**
 * Parses `perf script` output (its default fields: comm, pid[/tid], time, period, event,
 * then one frame per indented line). A sample whose header is not understood is an error:
 * a silently skipped sample would bias every figure.
 */
export function parsePerfScript(text: string, samplesMax = perfSamplesMax): PerfSample[] {
  const samples: PerfSample[] = [];
  let current: { pid: number; tid: number; periodNs: number; frames: string[] } | undefined;
  const finish = (): void => {
    if (current === undefined) return;
    if (samples.length >= samplesMax) throw new RangeError(`more than ${samplesMax} samples: record fewer seconds`);
    samples.push(current);
    current = undefined;
  };
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      finish();
      continue;
    }
    if (line.startsWith('\t') || line.startsWith(' ')) {
      if (current === undefined) throw new SyntaxError(`a frame outside a sample: ${line.trim()}`);
      current.frames.push(frameName(line));
      continue;
    }
    finish();
    const match = headerPattern.exec(line);
    if (match === null) throw new SyntaxError(`not a cpu-clock sample header: ${line.slice(0, 120)}`);
    const pid = Number(match[1]);
    const tid = match[2] === undefined ? pid : Number(match[2]);
    current = { pid, tid, periodNs: Number(match[3]), frames: [] };
  }
  finish();
  return samples;
}

/** "  7f0e… JS:*send file:///…/dist/transport/x.js:9:1+0x2a (/tmp/perf-1.map)" → "JS:*send file:///…/dist/transport/x.js:9:1 (/tmp/perf-1.map)". */
function frameName(line: string): string {
  return line
    .trim()
    .replace(/^[0-9a-f]+\s+/, '')
    .replace(/\+0x[0-9a-f]+(?=\s+\()/, '');
}

/** V8's collector classes (the main thread's and its helper threads'). */
const v8CollectorParts = 'Heap|Scavenge|MarkCompact|ConcurrentMarking|Sweeper|MinorMarkSweep|ArrayBufferSweeper';

/** What kind of work a sample was, from its whole stack; the first rule that matches wins. */
export const workKinds = [
  { kind: 'fsync (log and files)', pattern: /\b(?:do_fsync|__x64_sys_fdatasync|__x64_sys_fsync)\b/ },
  { kind: 'socket writes (with the receiver woken)', pattern: /\b(?:tcp_sendmsg|unix_stream_sendmsg|sock_write_iter)\b/ },
  { kind: 'socket reads', pattern: /\b(?:tcp_recvmsg|unix_stream_recvmsg|sock_read_iter)\b/ },
  { kind: 'file writes and reads', pattern: /\b(?:vfs_write|vfs_writev|vfs_read|__x64_sys_pwrite64|__x64_sys_pread64)\b/ },
  { kind: 'waiting and waking (epoll, futex, scheduler)', pattern: /\b(?:do_epoll_wait|do_epoll_pwait\S*|__x64_sys_futex|__schedule|schedule)\b/ },
  { kind: 'kernel, other', pattern: /\[kernel\.kallsyms\]\)$/, innermostOnly: true },
  { kind: 'SQLite', pattern: /better_sqlite3\.node\)$|libsqlite3/, innermostOnly: true },
  { kind: 'garbage collection', pattern: new RegExp(`v8::internal::(?:${v8CollectorParts})|runtime\\.(?:gcBgMarkWorker|gcDrain|scanobject|mallocgc)`) },
  { kind: 'JIT compiling', pattern: /v8::internal::(?:compiler::|OptimizingCompileDispatcher|Compiler::|baseline::|Parser::)|Builtins_CompileLazy/ },
] as const;

export const otherWork = 'application and runtime code';

export function workKindOf(frames: readonly string[]): string {
  for (const rule of workKinds) {
    if ('innermostOnly' in rule) {
      if (frames[0] !== undefined && rule.pattern.test(frames[0])) return rule.kind;
    } else if (frames.some((frame) => rule.pattern.test(frame))) return rule.kind;
  }
  return otherWork;
}

/**
 * The part of quorumlite a sample ran for: the innermost frame in its build (`dist/<dir>/`)
 * names the directory (http, raft, storage, state-machine, transport, node, …); a stack
 * with none of ours is Node's own (its streams, timers, event loop).
 */
export function moduleOf(frames: readonly string[]): string {
  for (const frame of frames) {
    const match = /\/dist\/([\w-]+)\//.exec(frame);
    if (match !== null) return match[1] as string;
  }
  return '(none of ours: event loop, Node internals, threads)';
}

/** Microseconds per operation, by key, over the samples `select` keeps; keys sorted largest first. */
export function perOperation(
  samples: readonly PerfSample[],
  operations: number,
  keyOf: (sample: PerfSample) => string,
  select: (sample: PerfSample) => boolean = () => true,
): Map<string, number> {
  if (!(operations > 0)) throw new RangeError('operations must be above 0');
  const totals = new Map<string, number>();
  for (const sample of samples) {
    if (!select(sample)) continue;
    const key = keyOf(sample);
    totals.set(key, (totals.get(key) ?? 0) + sample.periodNs / 1000 / operations);
  }
  return new Map([...totals].sort((left, right) => right[1] - left[1]));
}

export type OnCpuWorkload = 'write' | 'linearizable' | 'none';

export interface OnCpuOptions {
  readonly workload: OnCpuWorkload;
  readonly systems: readonly string[];
  readonly seconds: number;
  readonly warmUpSeconds: number;
  /** Idle seconds before each window (0: none). */
  readonly pauseSeconds: number;
}

/** The systems that run each workload, in the order they run by default. */
export const onCpuSystems: Readonly<Record<'write' | 'read', readonly string[]>> = {
  write: ['quorumlite', 'etcd', 'write-floor+sqlite'],
  read: ['quorumlite', 'etcd', 'http-floor'],
};

export const onCpuBounds = { secondsMax: 30, warmUpSecondsMax: 60, pauseSecondsMax: 600 } as const;

const flagNames = ['--workload', '--systems', '--seconds', '--warm-up', '--pause'];
const workloads: readonly OnCpuWorkload[] = ['write', 'linearizable', 'none'];

/**
 * bench:on-cpu's command line: every argument one of its flags followed by a value, each
 * flag at most once, every value in its bounds, every system one that runs the workload.
 * Throws an Error naming the first problem.
 */
export function parseOnCpuArguments(argv: readonly string[]): OnCpuOptions {
  const seen = new Set<string>();
  for (let position = 0; position < argv.length; position += 2) {
    const flag = argv[position] as string;
    if (!flagNames.includes(flag)) throw new Error(`unknown argument ${flag}`);
    if (seen.has(flag)) throw new Error(`${flag} given twice`);
    seen.add(flag);
    // a flag where its value belongs (`--workload --seconds 5`) is a missing value, not a value
    if (argv[position + 1] === undefined || argv[position + 1]?.startsWith('--') === true) throw new Error(`${flag} needs a value`);
  }
  const given = (flag: string): string | undefined => (seen.has(flag) ? argv[argv.indexOf(flag) + 1] : undefined);
  const workload = (given('--workload') ?? 'write') as OnCpuWorkload;
  if (!workloads.includes(workload)) throw new Error('--workload: write, linearizable or none');
  const known = onCpuSystems[workload === 'write' ? 'write' : 'read'];
  const systems = given('--systems')?.split(',') ?? known;
  for (const name of systems) if (!known.includes(name)) throw new Error(`${name} does not run ${workload}: one of ${known.join(', ')}`);
  if (new Set(systems).size !== systems.length) throw new Error('a system is named twice');
  return {
    workload,
    systems,
    seconds: roundArgument(argv, '--seconds', 8, onCpuBounds.secondsMax),
    warmUpSeconds: roundArgument(argv, '--warm-up', 8, onCpuBounds.warmUpSecondsMax),
    pauseSeconds: roundArgument(argv, '--pause', 0, onCpuBounds.pauseSecondsMax, 0),
  };
}

/**
 * The flags a Node process profiled by perf runs with: `--perf-basic-prof` names its
 * JavaScript frames. It also turns on V8's code log, which by default writes an
 * `isolate-…-v8.log` per thread into the working directory; the log goes to `directory`
 * (the run's own, removed at its end) instead.
 */
export function perfNodeFlags(directory: string): string[] {
  return ['--perf-basic-prof', '--no-logfile-per-isolate', `--logfile=${join(directory, 'v8.log')}`];
}

/** The symbol map `--perf-basic-prof` writes for process `pid` (perf reads it from /tmp); remove it when done. */
export function perfMapPath(pid: number): string {
  return `/tmp/perf-${pid}.map`;
}
