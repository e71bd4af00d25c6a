#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts) with Node's own test runner, TypeScript
// loaded through tsx. Arguments filter by path substring: `npm test -- raft storage`.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const filters = process.argv.slice(2).filter((a) => !a.startsWith('--'));

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    // A fixtures folder holds what tests run themselves (a test file that hangs, say).
    if (statSync(path).isDirectory()) {
      if (name !== 'fixtures') out.push(...walk(path));
    } else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

const files = walk(join(root, 'test')).filter((f) => filters.length === 0 || filters.some((needle) => f.includes(needle)));
if (files.length === 0) {
  console.error(`no test files match ${JSON.stringify(filters)}`);
  process.exit(1);
}
// Two cores: run two files at a time. Files that start real clusters take their own
// loopback addresses and ports, so they do not collide.
const concurrency = process.env.TEST_CONCURRENCY ?? '2';
// Each file is bounded, so a hung one fails with what it was running instead of holding
// the whole run until CI's own limit: past its bound a file reports and fails
// (test/cluster/process-exit.ts, loaded into every file below); a minute later Node 20's
// runner ends any file still running (later runners only fail a test past it). The slowest file,
// test/jepsen/suite.test.ts, takes about 3.5 minutes; the bound leaves room for a loaded machine.
const fileBoundMs = Number(process.env.TEST_FILE_BOUND_MS ?? 15 * 60_000);
const fileTimeoutMs = fileBoundMs + 60_000;
const reporters = [
  ...['--test-reporter', process.stdout.isTTY ? 'spec' : 'tap', '--test-reporter-destination', 'stdout'],
  ...['--test-reporter', join(root, 'scripts', 'summary-reporter.mjs'), '--test-reporter-destination', 'stdout'],
];
const testFlags = ['--test', `--test-concurrency=${concurrency}`, `--test-timeout=${fileTimeoutMs}`, ...reporters];
// Loaded into every test file: its bound, and its cleanup and report when ended by a signal.
const processExit = join(root, 'test', 'cluster', 'process-exit-preload.mjs');
const result = spawnSync(process.execPath, ['--import', 'tsx', '--import', processExit, ...testFlags, ...files], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TZ: 'UTC', QUORUMLITE_TEST_FILE_BOUND_MS: String(fileBoundMs) },
});
process.exit(result.status ?? 1);
