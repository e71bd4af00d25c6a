/**
 * The pieces of bench:compare on their own: argument parsing and its errors, the load
 * generator's bounds, percentiles, key and value sizes, ratios and cells in the table,
 * the chart's axes, PATH lookup, and processes stopped by PID with memory read from /proc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, chmodSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { HttpOrigin, responseBytesMax } from '../../bench/lib/http.js';
import { CompareUsageError, parseCompareArguments, workloadSettings } from '../../bench/lib/options.js';
import { cpuPerOperationMs, medianRatio, roundArgument, roundBounds } from '../../bench/lib/rounds.js';
import {
  benchKey,
  benchValue,
  boundsPerRound,
  keyBytes,
  percentile,
  ReplyTally,
  replyKindsMax,
  replyTextMax,
  runLoad,
  summarise,
  valueBytes,
} from '../../bench/lib/measure.js';
import { ManagedProcess, findOnPath, readMemory } from '../../bench/lib/processes.js';
import { sleep, waitFor } from '../../bench/lib/waiting.js';
import { metrics, ratio, renderMarkdown, type RunReport, type SystemReport } from '../../bench/lib/report.js';
import { axisMaximumFor, niceMaximum, renderSvg } from '../../bench/lib/chart.js';
import type { ReplicatedResults } from '../../bench/lib/workloads.js';
import { runSynchronous } from '../../bench/peers/sqlite.js';

test('arguments: defaults, --quick, --only in canonical order without repeats, --out', () => {
  assert.deepEqual(parseCompareArguments([]), {
    quick: false,
    only: ['quorumlite', 'etcd', 'dqlite', 'sqlite', 'http-floor', 'quorumlite-etcd'],
    outputDirectory: undefined,
    profileDirectory: undefined,
    help: false,
  });
  const parsed = parseCompareArguments(['--quick', '--only=sqlite,quorumlite,sqlite', '--out', '/tmp/x', '--profile=/tmp/p']);
  assert.deepEqual(parsed, { quick: true, only: ['quorumlite', 'sqlite'], outputDirectory: '/tmp/x', profileDirectory: '/tmp/p', help: false });
});

test('arguments: each mistake is a CompareUsageError naming it', () => {
  const cases: [string[], RegExp][] = [
    [['--only', 'mysql'], /unknown system "mysql"/],
    [['--only', ','], /at least one system/],
    [['--only'], /--only needs a value/],
    [['--out', '--quick'], /--out needs a value/],
    [['--quick=yes'], /unknown argument "--quick=yes"/],
    [['quick'], /unknown argument "quick"/],
  ];
  for (const [argv, message] of cases)
    assert.throws(
      () => parseCompareArguments(argv),
      (error: unknown) => error instanceof CompareUsageError && message.test(error.message),
    );
});

test('every workload is bounded in count and time in both modes', () => {
  for (const quick of [true, false]) {
    const settings = workloadSettings(quick);
    for (const bounds of [
      settings.warmUp,
      settings.leadIn,
      settings.afterIdle.bounds,
      settings.sequentialWrites,
      settings.concurrentWrites,
      settings.batches,
      settings.reads,
    ]) {
      assert.ok(Number.isFinite(bounds.operationCountMax) && bounds.operationCountMax > 0);
      assert.ok(Number.isFinite(bounds.durationMsMax) && bounds.durationMsMax > 0);
    }
    assert.equal(settings.concurrentClientCount, 64);
    assert.equal(settings.roundCount, quick ? 2 : 3);
    assert.equal(settings.rowsPerBatch, 100);
    assert.equal(settings.failoverTryTimeoutMs, 300);
    assert.equal(settings.failoverTrialCount, quick ? 2 : 10);
    assert.equal(settings.afterIdle.idleMs, quick ? 1_000 : 30_000);
  }
});

test('keys are 16 bytes and values 100 bytes, distinct per sequence number', () => {
  for (const sequenceNumber of [0, 1, 99, 123_456_789, 10 ** 15]) {
    assert.equal(Buffer.byteLength(benchKey(sequenceNumber)), keyBytes);
    assert.equal(Buffer.byteLength(benchValue(sequenceNumber)), valueBytes);
  }
  assert.notEqual(benchKey(1), benchKey(2));
});

test('percentile: nearest rank, NaN when empty, fraction checked', () => {
  const sorted = Array.from({ length: 100 }, (_, index) => index + 1);
  assert.equal(percentile(sorted, 0.5), 50);
  assert.equal(percentile(sorted, 0.99), 99);
  assert.equal(percentile(sorted, 1), 100);
  assert.equal(percentile([7], 0.99), 7);
  assert.ok(Number.isNaN(percentile([], 0.5)));
  assert.throws(() => percentile(sorted, 1.5), /outside 0\.\.1/);
});

test('runLoad issues exactly operationCountMax operations across clients and counts failures apart', async () => {
  let calls = 0;
  const result = await runLoad(
    async (sequenceNumber) => {
      calls += 1;
      await sleep(1);
      if (sequenceNumber % 5 === 0) throw new Error('refused');
      return sequenceNumber % 2 === 0;
    },
    7,
    { operationCountMax: 100, durationMsMax: 600_000 },
  );
  assert.equal(calls, 100);
  assert.equal(result.acknowledgedCount + result.failedCount, 100);
  assert.equal(result.acknowledgedCount, 40); // even and not a multiple of 5
  assert.ok(result.p99Ms >= result.p50Ms && result.p50Ms > 0);
});

test('runLoad stops at its time bound when the count bound is far away', async () => {
  const result = await runLoad(
    async () => {
      await sleep(5);
      return true;
    },
    2,
    { operationCountMax: 1_000_000_000, durationMsMax: 50 },
  );
  assert.ok(result.acknowledgedCount < 1_000_000_000 && result.acknowledgedCount > 0);
  await assert.rejects(
    runLoad(async () => true, 0, { operationCountMax: 1, durationMsMax: 1 }),
    /clientCount 0/,
  );
});

test('runSynchronous stops at its count bound', () => {
  let calls = 0;
  const result = runSynchronous(
    () => {
      calls += 1;
    },
    { operationCountMax: 25, durationMsMax: 600_000 },
  );
  assert.equal(calls, 25);
  assert.equal(result.acknowledgedCount, 25);
});

function load(operationsPerSecond: number, p50Ms: number) {
  return {
    acknowledgedCount: 10,
    failedCount: 0,
    elapsedMs: 1000,
    operationsPerSecond,
    p50Ms,
    p99Ms: p50Ms * 2,
    roundOperationsPerSecond: [operationsPerSecond],
  };
}

function replicated(writesPerSecond: number, failoverMs: number): ReplicatedResults {
  return {
    sequentialWrites: load(writesPerSecond, 2),
    concurrentWrites: { ...load(writesPerSecond * 4, 10), clientCount: 64 },
    memory: { peakResidentBytesPerNode: [50 * 1024 * 1024, 60 * 1024 * 1024, 40 * 1024 * 1024], highWaterBytesPerNode: [0, 0, 0] },
    batchedWrites: { ...load(10, 100), rowsPerBatch: 100, rowsPerSecond: 1000 },
    fastReads: { ...load(2000, 0.5), label: 'none' },
    linearizableReads: null,
    failover: { trialsMs: [failoverMs], timedOutTrialCount: 0, p50Ms: failoverMs, maxMs: failoverMs },
    spreadFastReads: null,
    spreadLinearizableReads: null,
    mixed: null,
    hungFailover: { trialsMs: [failoverMs], timedOutTrialCount: 0, p50Ms: failoverMs, maxMs: failoverMs, via: 'its own client' },
    failedReplies: [],
  };
}

function system(name: SystemReport['name'], results: ReplicatedResults | null, status: SystemReport['status'] = 'ok'): SystemReport {
  return { name, status, detail: status === 'missing' ? 'apt-get install it' : '', durability: 'fsync', replicated: results, sqlite: null, floor: null };
}

const sampleReport: RunReport = {
  startedAt: '2026-01-01T00:00:00.000Z',
  mode: 'quick',
  machine: { cpuCount: 2, nodeVersion: 'v20', platform: 'linux' },
  systems: [system('quorumlite', replicated(800, 900)), system('etcd', replicated(400, 1200)), system('dqlite', null, 'missing')],
};

test('ratios are quorumlite ÷ peer, absent for a missing peer or an n/a cell', () => {
  const [quorumlite, etcd, dqlite] = sampleReport.systems;
  assert.ok(quorumlite && etcd && dqlite);
  const metric = (key: string) => {
    const found = metrics.find((candidate) => candidate.key === key);
    assert.ok(found);
    return found;
  };
  assert.equal(ratio(quorumlite, etcd, metric('sequentialOps')), 2);
  assert.equal(ratio(quorumlite, etcd, metric('failoverP50')), 0.75);
  assert.equal(ratio(quorumlite, etcd, metric('peakRss')), 1);
  assert.equal(ratio(quorumlite, dqlite, metric('sequentialOps')), undefined);
  assert.equal(ratio(quorumlite, etcd, metric('linearizableReadOps')), undefined);
});

test('the markdown table shows numbers, ratios, missing peers and their install hint', () => {
  const markdown = renderMarkdown(sampleReport);
  assert.match(markdown, /\| 1\. sequential single-row writes \| throughput \(ops\/s, higher is better\) \| 800 \| 400 \| missing \| 2\.00x \| – \|/);
  assert.match(
    markdown,
    /\| 5\. failover: kill -9 leader → first acknowledged write \| p50 \(ms, lower is better\) \| 900 \| 1200 \| missing \| 0\.75x \| – \|/,
  );
  assert.match(markdown, /\| dqlite \| missing \| fsync \| apt-get install it \|/);
  assert.doesNotMatch(markdown, /linearizable \| throughput/, 'a row with no number anywhere is left out');
  assert.doesNotMatch(markdown, /10\. sequential/, 'result files from before workload 10 have no such row');
  assert.match(markdown, /each measured round of workloads 1-4, 7 and 8 follows an unmeasured lead-in of the same load on the same system/);
});

test('workload 10, writes after an idle spell, has its own rows and ratios', () => {
  const withIdle = (results: ReplicatedResults, writesPerSecond: number): ReplicatedResults => ({
    ...results,
    sequentialWritesAfterIdle: load(writesPerSecond, 4),
  });
  const markdown = renderMarkdown({
    ...sampleReport,
    systems: [system('quorumlite', withIdle(replicated(800, 900), 300)), system('etcd', withIdle(replicated(400, 1200), 600))],
  });
  const workload10 = '| 10. sequential single-row writes, right after every system sat idle (30 s in a full run) |';
  assert.ok(markdown.includes(`${workload10} throughput (ops/s, higher is better) | 300 | 600 | 0.50x |`));
  assert.ok(markdown.includes(`${workload10} p50 (ms, lower is better) | 4.00 | 4.00 | 1.00x |`));
});

test('writes not acknowledged are noted with the replies given, most frequent first, the tally bounded', () => {
  const tally = new ReplyTally();
  for (let count = 0; count < 5; count++) tally.record('200 Error: database is locked\n');
  tally.record('503 leadership lost');
  for (let kind = 0; kind < replyKindsMax + 2; kind++) tally.record(`500 error ${kind} ${'x'.repeat(replyTextMax)}`);
  const entries = tally.entries();
  assert.equal(entries.length, replyKindsMax + 1, 'the kinds past the bound are counted together');
  assert.deepEqual(entries[0], { reply: '200 Error: database is locked', count: 5 });
  assert.ok(entries.every((entry) => entry.reply.length <= replyTextMax));
  assert.deepEqual(
    entries.find((entry) => entry.reply === '(other replies)'),
    { reply: '(other replies)', count: 4 },
  );

  const failing = replicated(800, 900);
  const results: ReplicatedResults = {
    ...failing,
    concurrentWrites: { ...failing.concurrentWrites, failedCount: 30 },
    failedReplies: [{ reply: '200 Error: database is locked', count: 30 }],
  };
  const markdown = renderMarkdown({ ...sampleReport, systems: [system('quorumlite', replicated(800, 900)), system('dqlite', results)] });
  assert.match(
    markdown,
    /64-client writes: 30 of 40 not acknowledged \(replies to writes that were not acknowledgements, whole run: "200 Error: database is locked" ×30\)/,
  );
});

test('chart axes: round maxima, and an outlier over 10x the next is drawn off scale', () => {
  assert.equal(niceMaximum(741), 1000);
  assert.equal(niceMaximum(1405), 2000);
  assert.equal(niceMaximum(0.16), 0.2);
  assert.equal(niceMaximum(0), 1);
  assert.equal(axisMaximumFor([1352, 1843, 2578, 168_431]), 5000);
  assert.equal(axisMaximumFor([144, 741, 548, 1405]), 2000);
});

test('the SVG names every system, marks the missing one, and closes its tags', () => {
  const svg = renderSvg(sampleReport);
  assert.match(svg, /^<svg [^>]*width="\d+" height="\d+"/);
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.ok(svg.includes('dqlite (missing)'));
  assert.equal((svg.match(/<text/g) ?? []).length, (svg.match(/<\/text>/g) ?? []).length);
  assert.ok(!svg.includes('NaN') && !svg.includes('undefined'));
});

test('findOnPath finds only executables on the given PATH', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-path-'));
  try {
    mkdirSync(join(directory, 'bin'));
    writeFileSync(join(directory, 'bin', 'runnable'), '#!/bin/sh\n');
    chmodSync(join(directory, 'bin', 'runnable'), 0o755);
    writeFileSync(join(directory, 'bin', 'plain'), 'text');
    assert.equal(findOnPath('runnable', join(directory, 'bin')), join(directory, 'bin', 'runnable'));
    assert.equal(findOnPath('plain', join(directory, 'bin')), undefined);
    assert.equal(findOnPath('runnable', join(directory, 'elsewhere')), undefined);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a managed process is stopped by its PID, and its memory is read from /proc while it runs', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-process-'));
  const child = new ManagedProcess(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], join(directory, 'child.log'));
  try {
    child.start();
    const pid = child.pid;
    assert.ok(pid !== undefined);
    const memory = await waitFor('memory of the child', async () => readMemory(pid), 10_000);
    assert.ok(memory.residentBytes > 0 && memory.highWaterBytes >= memory.residentBytes);
    await child.kill();
    assert.equal(child.running, false);
    assert.equal(child.pid, undefined);
    await child.kill(); // twice is harmless
  } finally {
    await child.kill();
    rmSync(directory, { recursive: true, force: true });
  }
});

test('a program that cannot be spawned is not running and says why', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-spawn-'));
  try {
    const child = new ManagedProcess(join(directory, 'no-such-program'), [], join(directory, 'child.log'));
    child.start();
    await waitFor('the spawn error', async () => child.spawnError, 10_000);
    assert.equal(child.running, false);
    assert.match(String(child.spawnError), /ENOENT/);
    await child.kill(); // nothing to kill
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('rounds: bounds split evenly (at least 1 each), and merged rounds add counts and time', () => {
  assert.deepEqual(boundsPerRound({ operationCountMax: 3_000, durationMsMax: 15_000 }, 3), { operationCountMax: 1_000, durationMsMax: 5_000 });
  assert.deepEqual(boundsPerRound({ operationCountMax: 1, durationMsMax: 1 }, 2), { operationCountMax: 1, durationMsMax: 1 });
  assert.throws(() => boundsPerRound({ operationCountMax: 1, durationMsMax: 1 }, 0), /roundCount 0/);
  const merged = summarise([
    { latenciesMs: [1, 3], failedCount: 1, elapsedMs: 500 },
    { latenciesMs: [2, 4], failedCount: 0, elapsedMs: 1500 },
  ]);
  assert.equal(merged.acknowledgedCount, 4);
  assert.equal(merged.failedCount, 1);
  assert.equal(merged.elapsedMs, 2000);
  assert.equal(merged.operationsPerSecond, 2);
  assert.equal(merged.p50Ms, 2);
  assert.equal(merged.p99Ms, 4);
});

test('an HTTP answer of exactly responseBytesMax bytes is read; one byte more (counted in bytes, not characters) is refused', async () => {
  const bodies = new Map<string, Buffer>([
    ['/exact', Buffer.alloc(responseBytesMax, 'x')],
    ['/over', Buffer.alloc(responseBytesMax + 1, 'x')],
    ['/over-multibyte', Buffer.from(`${'é'.repeat(responseBytesMax / 2)}x`)],
  ]);
  const server = createServer((request, response) => response.end(bodies.get(request.url ?? '') ?? Buffer.alloc(0)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = new HttpOrigin(`http://127.0.0.1:${port}`);
  try {
    const exact = await origin.request({ method: 'GET', path: '/exact' });
    assert.equal(exact.status, 200);
    assert.equal(Buffer.byteLength(exact.text), responseBytesMax);
    await assert.rejects(origin.request({ method: 'GET', path: '/over' }), /exceeds 1048576 bytes/);
    await assert.rejects(origin.request({ method: 'GET', path: '/over-multibyte' }), /exceeds 1048576 bytes/);
  } finally {
    await origin.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

test('the floor benchmarks take rounds, seconds and warm-up as whole numbers from 1 to their bounds', () => {
  const argv = ['node', 'script', '--rounds', String(roundBounds.roundCountMax), '--seconds', '1'];
  assert.equal(roundArgument(argv, '--rounds', 6, roundBounds.roundCountMax), roundBounds.roundCountMax, 'at the bound');
  assert.equal(roundArgument(argv, '--seconds', 2, roundBounds.secondsMax), 1, 'the least');
  assert.equal(roundArgument(argv, '--warm-up', 5, roundBounds.secondsMax), 5, 'absent: the default');
  for (const bad of [String(roundBounds.roundCountMax + 1), '0', '1.5', 'x']) {
    assert.throws(() => roundArgument(['--rounds', bad], '--rounds', 6, roundBounds.roundCountMax), /--rounds: a whole number from 1 to 50/, bad);
  }
  assert.throws(() => roundArgument(['--rounds'], '--rounds', 6, roundBounds.roundCountMax), /a whole number/, 'no value');
});

test('floor rounds: CPU per operation over the rounds, and the median of per-round rate ratios only for rounds run alike', () => {
  const round = (operations: number, elapsedMs: number, cpuSeconds: number) => ({
    samples: { latenciesMs: Array.from({ length: operations }, () => 1), failedCount: 0, elapsedMs },
    cpuSeconds,
  });
  const mine = [round(200, 1000, 0.5), round(300, 1000, 0.25), round(100, 1000, 0.75)];
  const theirs = [round(100, 1000, 0), round(100, 1000, 0), round(100, 1000, 0)];
  assert.equal(cpuPerOperationMs(mine), 2.5, '1.5 s over 600 operations');
  assert.equal(cpuPerOperationMs([]), Number.NaN);
  assert.equal(medianRatio(mine, theirs), '2.00x');
  assert.equal(medianRatio(mine, theirs.slice(1)), '', 'rounds that do not pair');
  assert.equal(medianRatio([], []), '');
});
