import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { CliUsageError, parseArguments, seedCountMax } from './cli.js';

const cliPath = fileURLToPath(new URL('./cli.ts', import.meta.url));

function runCli(argv: string[]): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['--import', 'tsx', cliPath, ...argv], { encoding: 'utf8', timeout: 120_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

describe('sim CLI arguments', () => {
  it('parses seeds, start seed, single seed, verbose, chaos ticks, a planted bug and the workload', () => {
    assert.deepEqual(parseArguments([]), {
      seedCount: 100,
      startSeed: 1,
      singleSeed: undefined,
      verbose: false,
      chaosTicks: undefined,
      plantedBug: undefined,
      scenarioOverrides: undefined,
      workload: undefined,
    });
    assert.equal(parseArguments(['--workload', 'transactions']).workload, 'transactions');
    assert.deepEqual(parseArguments(['--scenario', '{"readOnly":"lease","leaseDriftTicks":0}']).scenarioOverrides, { readOnly: 'lease', leaseDriftTicks: 0 });
    const parsed = parseArguments(['--seeds', '7', '--start-seed', '40', '--chaos-ticks', '90', '--plant', 'forget-vote']);
    assert.deepEqual([parsed.seedCount, parsed.startSeed, parsed.chaosTicks, parsed.plantedBug?.name], [7, 40, 90, 'forget-vote']);
    assert.deepEqual([parseArguments(['--seed', '12', '--verbose']).singleSeed, parseArguments(['--seed', '12', '--verbose']).verbose], [12, true]);
  });

  it('refuses bad arguments with a clear message', () => {
    const cases: [string[], RegExp][] = [
      [['--seeds'], /--seeds needs a non-negative integer/],
      [['--seeds', '-3'], /--seeds needs a non-negative integer/],
      [['--seeds', '0'], /--seeds must be in \[1, /],
      [['--seeds', String(seedCountMax + 1)], /--seeds must be in/],
      [['--seed', '99999999999999999999'], /too large/],
      [['--verbose'], /--verbose needs --seed/],
      [['--plant', 'gremlins'], /--plant needs one of forget-vote/],
      [['--frobnicate'], /unknown argument "--frobnicate"/],
      [['--scenario', '{nope'], /--scenario needs a JSON object/],
      [['--scenario', '[1]'], /--scenario needs a JSON object/],
      [['--scenario', '{"warpSpeed":9}'], /unknown setting warpSpeed/],
      [['--workload', 'bank'], /--workload needs one of key-value, transactions, got "bank"/],
    ];
    for (const [argv, message] of cases)
      assert.throws(
        () => parseArguments(argv),
        (error: unknown) => error instanceof CliUsageError && message.test(error.message),
        argv.join(' '),
      );
  });
});

describe('sim CLI end to end', () => {
  it('runs N seeds and reports seeds per second', () => {
    const result = runCli(['--seeds', '3', '--start-seed', '5', '--chaos-ticks', '100']);
    assert.equal(result.status, 0, result.stdout + result.stderr);
    assert.match(result.stdout, /^3 seeds passed \(\d+(\.\d+)? seeds\/s/m);
  });

  it('on a failure prints the seed, the invariant, the replay command and a trace, and exits 1', () => {
    const result = runCli(['--seeds', '12', '--plant', 'forget-vote']);
    assert.equal(result.status, 1, result.stdout + result.stderr);
    const failed = /seed (\d+) \(cluster of [357]\) FAILED at tick \d+: single-vote-per-term/.exec(result.stdout);
    assert.ok(failed !== null, result.stdout);
    assert.match(result.stdout, new RegExp(`replay: npm run sim -- --seed ${failed[1]} --verbose --plant forget-vote`));
    assert.match(result.stdout, /VIOLATION single-vote-per-term/);
    assert.match(result.stdout, /\d+ of 12 seeds FAILED/);
  });

  it('runs the transaction workload; a planted transaction bug fails serializability with its replay command', () => {
    const result = runCli(['--seeds', '3', '--chaos-ticks', '100', '--plant', 'reapply-retried-commits']);
    assert.equal(result.status, 1, result.stdout + result.stderr);
    const failed = /seed (\d+) \(cluster of [357]\) FAILED at tick \d+: serializability/.exec(result.stdout);
    assert.ok(failed !== null, result.stdout);
    assert.match(result.stdout, /a retried commit must be answered from its recorded outcome/);
    assert.match(result.stdout, new RegExp(`replay: npm run sim -- --seed ${failed[1]} --verbose --chaos-ticks 100 --plant reapply-retried-commits`));
    assert.match(result.stdout, /tx-commit/);
  });

  it('replays one seed verbosely with the same output every time', () => {
    const first = runCli(['--seed', '2', '--verbose', '--chaos-ticks', '60']);
    const second = runCli(['--seed', '2', '--verbose', '--chaos-ticks', '60']);
    assert.equal(first.status, 0, first.stderr);
    assert.ok(first.stdout.split('\n').length > 100);
    assert.equal(first.stdout, second.stdout);
  });

  it('exits 2 on bad arguments', () => {
    const result = runCli(['--seeds', 'many']);
    assert.equal(result.status, 2);
    assert.match(result.stderr, /--seeds needs a non-negative integer/);
  });
});
