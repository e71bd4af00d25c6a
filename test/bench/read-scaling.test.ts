/**
 * bench:read-scaling end to end with tiny settings (1 and 3 nodes, 1 s per row, one
 * round), as a user runs it: the printed table is the .md file, one line per node count
 * and level, the JSON holds every row with plausible numbers, and on the 3-node cluster
 * the linearizable reads were run by all three nodes, each by the node its client sent
 * it to (followers serve their own linearizable reads). The clusters' directories are
 * gone afterwards. Also the pieces it adds to bench/lib: CPU time from /proc and the
 * client index the load generator hands each operation. Needs the built CLI
 * (`npm run build`; `npm test` builds first).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collectLoad } from '../../bench/lib/measure.js';
import { readCpuSeconds } from '../../bench/lib/processes.js';
import type { ReadScalingReport } from '../../bench/lib/read-scaling.js';

const repositoryRoot = new URL('../../', import.meta.url).pathname;
const script = join(repositoryRoot, 'bench', 'read-scaling.ts');
/** Generous bound for starting a 1- and a 3-node cluster on a loaded 2-core machine; not a speed assertion. */
const runTimeoutMs = 240_000;

interface RunOutcome {
  readonly code: number | null;
  readonly standardOutput: string;
  readonly standardError: string;
}

function runReadScaling(argumentList: readonly string[], environment: NodeJS.ProcessEnv): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...argumentList], { cwd: repositoryRoot, env: environment });
    let standardOutput = '';
    let standardError = '';
    child.stdout.on('data', (chunk: Buffer) => {
      standardOutput += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      standardError += chunk.toString();
    });
    const timer = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGTERM');
      reject(new Error(`bench:read-scaling did not finish within ${runTimeoutMs}ms\n${standardError}`));
    }, runTimeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, standardOutput, standardError });
    });
  });
}

let directory: string;
let run: RunOutcome;

before(async () => {
  directory = mkdtempSync(join(tmpdir(), 'quorumlite-read-scaling-test-'));
  // The benchmark's clusters make their directories under TMPDIR: here, so the test can see they are removed.
  mkdirSync(join(directory, 'tmp'));
  run = await runReadScaling(['--nodes', '1,3', '--seconds', '1', '--rounds', '1', '--out', join(directory, 'out')], {
    ...process.env,
    TMPDIR: join(directory, 'tmp'),
  });
});

after(() => {
  rmSync(directory, { recursive: true, force: true });
});

function outputs(): { markdown: string; report: ReadScalingReport } {
  const names = readdirSync(join(directory, 'out'));
  const named = (extension: string): string => {
    const matching = names.filter((name) => name.startsWith('read-scaling-') && name.endsWith(extension));
    assert.equal(matching.length, 1, `one read-scaling-*${extension} in ${names.join(', ')}`);
    return readFileSync(join(directory, 'out', matching[0] ?? ''), 'utf8');
  };
  return { markdown: named('.md'), report: JSON.parse(named('.json')) as ReadScalingReport };
}

test('1 and 3 nodes, 1 s per row: a table line per node count and level, the JSON rows, the clusters removed', () => {
  assert.equal(run.code, 0, run.standardError);
  const { markdown, report } = outputs();
  assert.equal(run.standardOutput, markdown, 'the printed table is the file');
  assert.match(markdown, /\| nodes \| level \| reads\/s \| ÷ 1 node \| p50 ms \| p99 ms \| node CPU s \|/);
  for (const [nodes, level] of [
    [1, 'linearizable'],
    [3, 'linearizable'],
    [1, 'none'],
    [3, 'none'],
  ] as const) {
    assert.match(markdown, new RegExp(`\\n\\| ${nodes} \\| ${level} \\| [\\d,]+ \\| [\\d.]+x \\| [\\d.]+ \\| [\\d.]+ \\| [\\d.]+ \\|`), `${nodes} ${level}`);
  }
  assert.deepEqual(
    report.rows.map((row) => [row.nodeCount, row.level]),
    [
      [1, 'linearizable'],
      [3, 'linearizable'],
      [1, 'none'],
      [3, 'none'],
    ],
  );
  assert.equal(report.settings.clientCount, 64);
  for (const row of report.rows) {
    const what = `${row.nodeCount} nodes, ${row.level}`;
    assert.ok(row.acknowledgedCount > 0 && row.readsPerSecond > 0, `${what}: reads measured`);
    assert.equal(row.failedCount, 0, `${what}: no read failed`);
    assert.ok(row.p50Ms > 0 && row.p99Ms >= row.p50Ms, `${what}: latencies ordered`);
    assert.ok(row.elapsedMs >= 1000 && row.elapsedMs < 60_000, `${what}: bounded by --seconds (${row.elapsedMs} ms)`);
    assert.equal(row.nodeCpuSecondsPerNode.length, row.nodeCount);
    assert.ok(row.leaderNodeNumber >= 1 && row.leaderNodeNumber <= row.nodeCount, `${what}: leader ${row.leaderNodeNumber}`);
    assert.ok(row.idleNodeCoresBusy >= 0 && row.idleNodeCoresBusy < row.nodeCount, `${what}: idle CPU ${row.idleNodeCoresBusy}`);
    assert.ok(row.nodeCpuSeconds > 0 && row.readsPerNodeCpuSecond > 0 && row.readsPerBusiestNodeCpuSecond >= row.readsPerNodeCpuSecond, `${what}: CPU`);
    assert.equal(
      row.sentPerNode.reduce((total, count) => total + count, 0),
      row.acknowledgedCount,
    );
    assert.ok(
      row.sentPerNode.every((count) => count > 0),
      `${what}: every node had clients: ${row.sentPerNode.join(',')}`,
    );
    assert.equal(
      row.ratioToFirst,
      row.nodeCount === 1 ? 1 : row.readsPerSecond / (report.rows.find((first) => first.nodeCount === 1 && first.level === row.level)?.readsPerSecond ?? 0),
    );
  }
  const linearizableOnThree = report.rows.find((row) => row.nodeCount === 3 && row.level === 'linearizable');
  assert.ok(linearizableOnThree);
  assert.ok(
    linearizableOnThree.servedPerNode.every((count) => count > 0),
    `every node served linearizable reads: ${linearizableOnThree.servedPerNode.join(',')}`,
  );
  assert.deepEqual(linearizableOnThree.servedPerNode, linearizableOnThree.sentPerNode, 'each node served the reads sent to it');
  assert.equal(linearizableOnThree.servedWhereSentFraction, 1);
  // tsx keeps its compile cache there too (tsx-<uid>); the clusters' directories are quorumlite-*.
  const left = readdirSync(join(directory, 'tmp')).filter((name) => name.startsWith('quorumlite-'));
  assert.deepEqual(left, [], 'the clusters’ directories are removed');
});

test('bad arguments exit 2 with a clear message', async () => {
  const environment = { ...process.env, TMPDIR: join(directory, 'tmp') };
  const repeated = await runReadScaling(['--nodes', '1,1', '--out', join(directory, 'bad')], environment);
  assert.equal(repeated.code, 2);
  assert.match(repeated.standardError, /--nodes: 1,1 repeats a size/);
  const tooLong = await runReadScaling(['--seconds', '0'], environment);
  assert.equal(tooLong.code, 2);
  assert.match(tooLong.standardError, /--seconds: "0" is not a whole number from 1 to 600/);
  const unknown = await runReadScaling(['--fast'], environment);
  assert.equal(unknown.code, 2);
  assert.match(unknown.standardError, /unknown argument "--fast"/);
});

test('readCpuSeconds: this process has used CPU; a PID that is gone has none', () => {
  const seconds = readCpuSeconds(process.pid);
  assert.ok(seconds !== undefined && seconds > 0);
  assert.equal(readCpuSeconds(2 ** 22 + 1), undefined);
});

test('collectLoad hands each operation the index of the client loop running it', async () => {
  const seen = new Map<number, number>();
  const samples = await collectLoad(
    async (_, clientIndex) => {
      seen.set(clientIndex, (seen.get(clientIndex) ?? 0) + 1);
      await new Promise((resolve) => setImmediate(resolve));
      return true;
    },
    4,
    { operationCountMax: 40, durationMsMax: 10_000 },
  );
  assert.equal(samples.latenciesMs.length, 40);
  assert.deepEqual([...seen.keys()].sort(), [0, 1, 2, 3]);
  assert.ok(
    [...seen.values()].every((count) => count === 10),
    'the loops take turns',
  );
});
