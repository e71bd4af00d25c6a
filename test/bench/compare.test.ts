/**
 * bench:compare end to end, as a user runs it: `--quick --only quorumlite,sqlite` into a
 * temp dir (no etcd or dqlite needed) must write a well-formed table, JSON and SVG with
 * plausible non-zero numbers; a peer missing from PATH must be reported as missing with
 * how to install it, never measured or faked; bad arguments exit 2 with a clear message.
 * Needs the built CLI (`npm run build`; `npm test` builds first).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const repositoryRoot = new URL('../../', import.meta.url).pathname;
const compareScript = join(repositoryRoot, 'bench', 'compare.ts');
/** Generous bound for a quick run on a loaded 2-core machine; not a speed assertion. */
const runTimeoutMs = 240_000;

interface RunOutcome {
  readonly code: number | null;
  readonly standardOutput: string;
  readonly standardError: string;
}

function runCompare(argumentList: readonly string[], environment: NodeJS.ProcessEnv = process.env): Promise<RunOutcome> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', compareScript, ...argumentList], { cwd: repositoryRoot, env: environment });
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
      reject(new Error(`bench:compare did not finish within ${runTimeoutMs}ms\n${standardError}`));
    }, runTimeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, standardOutput, standardError });
    });
  });
}

/** Every tag opened is closed in order (enough to catch a truncated or mangled SVG). */
function assertBalancedXml(text: string): void {
  const stack: string[] = [];
  for (const match of text.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    const [, closing, name, selfClosing] = match;
    if (name === undefined) continue;
    if (selfClosing === '/') continue;
    if (closing === '/') assert.equal(stack.pop(), name, `unbalanced </${name}>`);
    else stack.push(name);
  }
  assert.deepEqual(stack, [], 'unclosed tags');
}

function outputFiles(directory: string): { markdown: string; json: string; svg: string } {
  const names = readdirSync(directory);
  const find = (extension: string): string => {
    const matching = names.filter((name) => name.startsWith('compare-') && name.endsWith(extension));
    assert.equal(matching.length, 1, `one compare-*${extension} in ${names.join(', ')}`);
    return join(directory, matching[0] ?? '');
  };
  return { markdown: find('.md'), json: find('.json'), svg: find('.svg') };
}

let outputDirectory: string;
let quickRun: RunOutcome;

before(async () => {
  outputDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-test-'));
  quickRun = await runCompare(['--quick', '--only', 'quorumlite,sqlite', '--out', outputDirectory]);
});

after(() => {
  rmSync(outputDirectory, { recursive: true, force: true });
});

interface LoadJson {
  operationsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  acknowledgedCount: number;
}

test('--quick --only quorumlite,sqlite writes a table, JSON and SVG with plausible numbers', () => {
  assert.equal(quickRun.code, 0, quickRun.standardError);
  const files = outputFiles(outputDirectory);
  const markdown = readFileSync(files.markdown, 'utf8');
  assert.equal(quickRun.standardOutput, markdown, 'the printed table is the file');
  assert.match(markdown, /\| workload \| metric \| quorumlite \| sqlite \| quorumlite ÷ sqlite \|/);
  assert.match(markdown, /\| 1\. sequential single-row writes \| throughput \(ops\/s, higher is better\) \| [\d,.]+ \| [\d,.]+ \| [\d.]+x \|/);
  assert.match(markdown, /fsync per commit/);

  const report = JSON.parse(readFileSync(files.json, 'utf8')) as {
    mode: string;
    systems: { name: string; status: string; replicated: Record<string, unknown> | null; sqlite: Record<string, unknown> | null }[];
  };
  assert.equal(report.mode, 'quick');
  assert.deepEqual(
    report.systems.map((system) => [system.name, system.status]),
    [
      ['quorumlite', 'ok'],
      ['sqlite', 'ok'],
    ],
  );
  const quorumlite = report.systems[0]?.replicated;
  assert.ok(quorumlite);
  for (const name of ['sequentialWrites', 'concurrentWrites', 'batchedWrites', 'fastReads', 'linearizableReads', 'sequentialWritesAfterIdle']) {
    const load = quorumlite[name] as LoadJson;
    assert.ok(load.acknowledgedCount > 0 && load.operationsPerSecond > 0, `${name} measured something`);
    assert.ok(load.p50Ms > 0 && load.p99Ms >= load.p50Ms, `${name} latencies ordered`);
  }
  const failover = quorumlite.failover as { trialsMs: number[]; timedOutTrialCount: number; p50Ms: number; maxMs: number };
  assert.equal(failover.trialsMs.length + failover.timedOutTrialCount, 2, 'two trials in --quick');
  assert.ok(failover.trialsMs.every((value) => value > 0) && failover.maxMs >= failover.p50Ms);
  const memory = quorumlite.memory as { peakResidentBytesPerNode: number[] };
  assert.equal(memory.peakResidentBytesPerNode.length, 3);
  assert.ok(
    memory.peakResidentBytesPerNode.every((bytes) => bytes > 1024 * 1024),
    'each node has a resident size',
  );
  const sqlite = report.systems[1]?.sqlite as Record<string, LoadJson> | undefined;
  assert.ok(sqlite);
  for (const name of ['sequentialWrites', 'batchedWrites', 'reads', 'fsync']) assert.ok((sqlite[name]?.operationsPerSecond ?? 0) > 0, `sqlite ${name}`);

  // each measured round of a system over the network follows a lead-in; SQLite, in this process, has none
  assert.match(
    quickRun.standardError,
    /sequential writes, round 1\/2: quorumlite \(lead-in, not measured\)\n\[compare\] sequential writes, round 1\/2: quorumlite\n/,
  );
  assert.match(quickRun.standardError, /mixed reads and writes, 64 clients, round 2\/2: quorumlite \(lead-in, not measured\)/);
  assert.doesNotMatch(quickRun.standardError, /sqlite \(lead-in/);
  assert.match(quickRun.standardError, /sequential writes after idle, round 2\/2: every system idle 1 s/);

  const svg = readFileSync(files.svg, 'utf8');
  assert.match(svg, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assertBalancedXml(svg);
  assert.ok(svg.includes('quorumlite') && svg.includes('sqlite') && svg.includes('<rect'), 'bars and labels');
});

test('a peer missing from PATH is reported as missing, with how to install it', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-missing-'));
  try {
    // PATH holds only an empty directory: no etcd, no dqlite-demo (node is started by its full path)
    const environment = { ...process.env, PATH: join(directory, 'empty-bin') };
    const outcome = await runCompare(['--quick', '--only', 'etcd,dqlite', '--out', join(directory, 'out')], environment);
    assert.equal(outcome.code, 0, outcome.standardError);
    const markdown = readFileSync(outputFiles(join(directory, 'out')).markdown, 'utf8');
    assert.match(markdown, /\| etcd \| missing \| .*apt-get install etcd-server etcd-client/);
    assert.match(markdown, /\| dqlite \| missing \| .*apt-get install go-dqlite/);
    assert.doesNotMatch(markdown, /\| \d[\d,.]* \|/, 'no number for a missing system');
    const report = JSON.parse(readFileSync(outputFiles(join(directory, 'out')).json, 'utf8')) as { systems: { status: string; replicated: unknown }[] };
    assert.deepEqual(
      report.systems.map((system) => [system.status, system.replicated]),
      [
        ['missing', null],
        ['missing', null],
      ],
    );
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('bad arguments exit 2 with a clear message and write nothing', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-bad-'));
  try {
    const unknownSystem = await runCompare(['--quick', '--only', 'quorumlite,redis', '--out', directory]);
    assert.equal(unknownSystem.code, 2);
    assert.match(unknownSystem.standardError, /--only: unknown system "redis"; known: quorumlite, etcd, dqlite, sqlite/);
    const unknownFlag = await runCompare(['--fast', '--out', directory]);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.standardError, /unknown argument "--fast"/);
    assert.deepEqual(readdirSync(directory), []);
    assert.ok(existsSync(directory));
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
