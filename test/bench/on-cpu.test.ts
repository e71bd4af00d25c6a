/**
 * bench/on-cpu.ts's attribution (bench/lib/on-cpu.ts): `perf script` text parsed into
 * weighted samples, each sample's kind of work and module, the sums per request, the bound
 * on samples; the runner's refusals of bad arguments (exit 2, nothing started); and the
 * profiled processes' flags, which keep V8's code log out of the working directory.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  moduleOf,
  onCpuBounds,
  onCpuSystems,
  otherWork,
  parseOnCpuArguments,
  parsePerfScript,
  perfMapPath,
  perfNodeFlags,
  perOperation,
  workKindOf,
} from '../../bench/lib/on-cpu.js';

const fsyncSample = `node  100/103  65574.296810:     500000 cpu-clock: 
\tffffffff817e9ab9 ext4_write_inode+0x39 ([kernel.kallsyms])
\tffffffff81736dbb do_fsync ([kernel.kallsyms])
\tffffffff8173720f __x64_sys_fdatasync ([kernel.kallsyms])
\t           fec4a fdatasync (/usr/lib/x86_64-linux-gnu/libc.so.6)
\t         14a7b40 worker (/usr/bin/node)
`;

const socketWriteSample = `node  100/100  65574.300000:     500000 cpu-clock: 
\tffffffff82242009 pvm_irq_enable ([kernel.kallsyms])
\tffffffff810f0000 __schedule ([kernel.kallsyms])
\tffffffff81a00000 tcp_sendmsg ([kernel.kallsyms])
\t    7f7180176a38 JS:*send file:///tmp/q/build/dist/transport/stream-transport.js:91:9 (/tmp/perf-100.map)
\t    7f7180176a39 JS:*#turn file:///tmp/q/build/dist/node/ready-loop.js:89:16 (/tmp/perf-100.map)
`;

const epollSample = `node  100/100  65574.310000:     250000 cpu-clock: 
\tffffffff82242009 pvm_irq_enable ([kernel.kallsyms])
\tffffffff810f0000 __schedule ([kernel.kallsyms])
\tffffffff810f0001 schedule_hrtimeout_range_clock ([kernel.kallsyms])
\tffffffff810f0002 do_epoll_wait ([kernel.kallsyms])
\t          108cae epoll_pwait (/usr/lib/x86_64-linux-gnu/libc.so.6)
`;

const sqliteSample = `node  200/200  65574.320000:     500000 cpu-clock: 
\t           d42ab sqlite3VdbeExec (/work/main/node_modules/better-sqlite3/build/Release/better_sqlite3.node)
\t    7f7180176a40 JS:*run file:///tmp/q/build/dist/state-machine/pair-transactions.js:49:8 (/tmp/perf-200.map)
\t    7f7180176a41 JS:*applyEntries file:///tmp/q/build/dist/node/apply.js:62:23 (/tmp/perf-200.map)
`;

const javascriptSample = `V8 DefaultWorke  200/201  65574.330000:     500000 cpu-clock: 
\t    7f7180176a42 JS:*readKey file:///work/main/node_modules/msgpackr/unpack.js:932:17 (/tmp/perf-200.map)
`;

const compileSample = `node  200/202  65574.340000:     500000 cpu-clock: 
\t          c40000 v8::internal::compiler::GraphReducer::ReduceTop (/usr/bin/node)
\t          c40001 v8::internal::OptimizingCompileDispatcher::CompileTask::RunInternal (/usr/bin/node)
`;

const kernelOtherSample = `node  200/200  65574.350000:     500000 cpu-clock: 
\tffffffff82242009 pvm_irq_enable ([kernel.kallsyms])
\tffffffff82242010 handle_softirqs ([kernel.kallsyms])
\t    7f7180176a43 JS:*answerData file:///tmp/q/build/dist/http/data-handlers.js:98:26 (/tmp/perf-200.map)
`;

const script = [fsyncSample, socketWriteSample, epollSample, sqliteSample, javascriptSample, compileSample, kernelOtherSample].join('\n');

test('perf script text parses into samples with process, thread, weight and frames innermost first', () => {
  const samples = parsePerfScript(script);
  assert.equal(samples.length, 7);
  assert.deepEqual(
    samples.map((sample) => [sample.pid, sample.tid, sample.periodNs]),
    [
      [100, 103, 500_000],
      [100, 100, 500_000],
      [100, 100, 250_000],
      [200, 200, 500_000],
      [200, 201, 500_000],
      [200, 202, 500_000],
      [200, 200, 500_000],
    ],
  );
  // Addresses and offsets go; the symbol and its object stay.
  assert.equal(samples[0]?.frames[0], 'ext4_write_inode ([kernel.kallsyms])');
  assert.equal(samples[1]?.frames[3], 'JS:*send file:///tmp/q/build/dist/transport/stream-transport.js:91:9 (/tmp/perf-100.map)');
  // A thread name with a space (V8's workers) is still read.
  assert.equal(samples[4]?.tid, 201);
});

test('a header that is not a cpu-clock sample, or a frame outside a sample, is refused', () => {
  assert.throws(() => parsePerfScript('node 1/1 2.0: 1000 cycles: \n\tx (y)\n'), SyntaxError);
  assert.throws(() => parsePerfScript('\tffff pvm_irq_enable ([kernel.kallsyms])\n'), SyntaxError);
  assert.deepEqual(parsePerfScript(''), []);
});

test('the number of samples is bounded: at the bound parsed, one over it refused', () => {
  const two = [fsyncSample, epollSample].join('\n');
  assert.equal(parsePerfScript(two, 2).length, 2);
  assert.throws(() => parsePerfScript([fsyncSample, epollSample, sqliteSample].join('\n'), 2), RangeError);
});

test('each sample gets the kind of work its stack shows', () => {
  const kinds = parsePerfScript(script).map((sample) => workKindOf(sample.frames));
  assert.deepEqual(kinds, [
    'fsync (log and files)',
    // A socket write during which the writer was switched out is still the write's.
    'socket writes (with the receiver woken)',
    'waiting and waking (epoll, futex, scheduler)',
    'SQLite',
    otherWork,
    'JIT compiling',
    'kernel, other',
  ]);
});

test('each sample is charged to the module of ours innermost on its stack', () => {
  const modules = parsePerfScript(script).map((sample) => moduleOf(sample.frames));
  assert.deepEqual(modules, [
    '(none of ours: event loop, Node internals, threads)',
    'transport',
    '(none of ours: event loop, Node internals, threads)',
    'state-machine',
    '(none of ours: event loop, Node internals, threads)',
    '(none of ours: event loop, Node internals, threads)',
    'http',
  ]);
});

test('sums are microseconds per operation, largest first, over the samples selected', () => {
  const samples = parsePerfScript(script);
  const byProcess = perOperation(samples, 10, (sample) => String(sample.pid));
  // Process 200: four samples of 500 µs over 10 operations; process 100: 500 + 500 + 250 µs.
  assert.deepEqual(
    [...byProcess],
    [
      ['200', 200],
      ['100', 125],
    ],
  );
  const leaderOnly = perOperation(
    samples,
    5,
    (sample) => workKindOf(sample.frames),
    (sample) => sample.pid === 100,
  );
  assert.equal(leaderOnly.get('fsync (log and files)'), 100);
  assert.equal(leaderOnly.get('waiting and waking (epoll, futex, scheduler)'), 50);
  assert.equal(leaderOnly.has('SQLite'), false);
  assert.throws(() => perOperation(samples, 0, () => 'x'), RangeError);
});

test('bench:on-cpu takes every bound itself and defaults to the systems that run the workload', () => {
  assert.deepEqual(parseOnCpuArguments([]), { workload: 'write', systems: onCpuSystems.write, seconds: 8, warmUpSeconds: 8, pauseSeconds: 0 });
  const atBounds = parseOnCpuArguments([
    '--workload',
    'linearizable',
    '--seconds',
    String(onCpuBounds.secondsMax),
    '--warm-up',
    String(onCpuBounds.warmUpSecondsMax),
    '--pause',
    String(onCpuBounds.pauseSecondsMax),
  ]);
  assert.deepEqual(atBounds, { workload: 'linearizable', systems: onCpuSystems.read, seconds: 30, warmUpSeconds: 60, pauseSeconds: 600 });
  const least = parseOnCpuArguments(['--workload', 'none', '--systems', 'http-floor,quorumlite', '--seconds', '1', '--warm-up', '1', '--pause', '0']);
  assert.deepEqual(least, { workload: 'none', systems: ['http-floor', 'quorumlite'], seconds: 1, warmUpSeconds: 1, pauseSeconds: 0 });
  assert.throws(() => parseOnCpuArguments(['--warm-up', String(onCpuBounds.warmUpSecondsMax + 1)]), /--warm-up: a whole number from 1 to 60/);
  assert.throws(() => parseOnCpuArguments(['--systems', '']), /does not run write/);
  // a flag in a value's place is a missing value: read as one, `--seconds` would be looked up at the wrong place
  assert.throws(() => parseOnCpuArguments(['--workload', '--seconds', '--seconds', '5']), /--workload needs a value/);
});

test('bench:on-cpu refuses bad arguments with exit 2 before starting anything', () => {
  const runner = fileURLToPath(new URL('../../bench/on-cpu.ts', import.meta.url));
  const cases: [string[], RegExp][] = [
    [['--bogus', '1'], /unknown argument --bogus/],
    [['--workload', 'read'], /--workload: write, linearizable or none/],
    [['--systems', 'quorumlite,http-floor'], /http-floor does not run write/],
    [['--workload', 'none', '--systems', 'write-floor+sqlite'], /write-floor\+sqlite does not run none/],
    [['--systems', 'etcd,etcd'], /a system is named twice/],
    [['--seconds', '0'], /--seconds: a whole number from 1 to 30/],
    [['--seconds', '31'], /--seconds: a whole number from 1 to 30/],
    [['--warm-up'], /--warm-up needs a value/],
    [['--seconds', '5', '--seconds', '6'], /--seconds given twice/],
    [['--pause', '601'], /--pause: a whole number from 0 to 600/],
    [['--pause', '-1'], /--pause: a whole number from 0 to 600/],
  ];
  for (const [argv, message] of cases) {
    const run = spawnSync(process.execPath, ['--import', 'tsx', runner, ...argv], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(run.status, 2, `${argv.join(' ')}: ${run.stderr}`);
    assert.match(run.stderr, message);
    assert.equal(run.stdout, '');
  }
});

test("a profiled process writes V8's code log into the run's directory, not the one it was started in", () => {
  const started = mkdtempSync(join(tmpdir(), 'quorumlite-on-cpu-cwd-'));
  const runDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-on-cpu-run-'));
  // A worker thread too: by default every isolate writes a log file of its own.
  const program = "new (require('node:worker_threads').Worker)('1', { eval: true }).on('exit', () => {})";
  const run = spawnSync(process.execPath, [...perfNodeFlags(runDirectory), '-e', program], { cwd: started, encoding: 'utf8', timeout: 30_000 });
  try {
    assert.equal(run.status, 0, run.stderr);
    assert.deepEqual(readdirSync(started), []);
    assert.ok(existsSync(join(runDirectory, 'v8.log')));
  } finally {
    if (run.pid !== undefined) rmSync(perfMapPath(run.pid), { force: true });
    rmSync(started, { recursive: true, force: true });
    rmSync(runDirectory, { recursive: true, force: true });
  }
});
