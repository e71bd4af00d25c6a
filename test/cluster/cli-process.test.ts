/**
 * The built CLI as a user runs it: bad flags exit 2 with a clear message before anything
 * starts; `version` prints the package version; `serve` refuses a data directory that
 * another node already holds.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestCluster, cliPath } from './harness.js';

function run(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, [cliPath, ...argv], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TZ: 'UTC' } });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

test('bad flags and values exit 2 with a message naming the problem', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-cli-'));
  try {
    const cases: [string[], RegExp][] = [
      [['serve', '--http-addr', 'nope'], /--http-addr: invalid address "nope"/],
      [['serve', '--bogus'], /unknown flag --bogus/],
      [['serve', '--raft-snap-int', '10'], /--raft-snap-int: invalid duration/],
      [['serve', '--election-timeout-ms', '150', '--heartbeat-ms', '100'], /at least twice/],
      [['frobnicate'], /unknown command/],
    ];
    for (const [argv, message] of cases) {
      const result = run([...argv, ...(argv[0] === 'serve' ? ['--data-dir', directory] : [])]);
      assert.equal(result.status, 2, `${argv.join(' ')}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});

test('version prints the package version', () => {
  const result = run(['version']);
  assert.equal(result.status, 0);
  assert.match(result.stdout, /^quorumlite \d+\.\d+\.\d+/);
});

test("status prints a running node's summary, and its /status with --json; a second node on the same data directory is refused", async () => {
  const cluster = await TestCluster.create({ size: 1, formation: 'join' });
  try {
    await cluster.start();
    const node = cluster.node(1);
    const status = run(['status', '--json', '--http-addr', `${node.spec.host}:${node.spec.httpPort}`]);
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /"state": "Leader"/);
    const summary = run(['status', '--http-addr', `${node.spec.host}:${node.spec.httpPort}`]);
    assert.equal(summary.status, 0, summary.stderr);
    assert.match(summary.stdout, /^Node +\S+ \(Leader, term \d+\)/);
    const second = run(['serve', '--data-dir', node.dataDirectory, '--http-addr', `${node.spec.host}:1`, '--raft-addr', `${node.spec.host}:2`]);
    assert.equal(second.status, 1, 'a runtime failure, not a usage error');
    assert.match(second.stderr, /lock|locked|LOCKED/i);
  } finally {
    await cluster.close();
  }
});
