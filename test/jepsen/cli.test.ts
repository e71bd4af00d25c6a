/** `npm run jepsen` arguments: defaults, bounds, and a clear error for anything unknown. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { describe, test } from 'node:test';
import { repositoryRoot } from '../cluster/harness.js';
import { parseJepsenArguments, UsageError } from './cli.js';
import { etcdNemesisKinds, nemesisKinds, type RunOptions } from './run.js';

function runOptions(argv: readonly string[], nowIso?: string): RunOptions {
  const options = parseJepsenArguments(argv, nowIso);
  assert.ok(options !== 'help' && !('check' in options), 'expected the options of a run');
  return options;
}

describe('jepsen arguments', () => {
  test('the defaults', () => {
    const options = runOptions([], '2026-12-04T10:00:00.000Z');
    assert.equal(options.workload, 'register');
    assert.deepEqual(options.nemeses, ['partition', 'kill']);
    assert.equal(options.timeLimitMs, 60_000);
    assert.equal(options.nodeCount, 5);
    assert.equal(options.outDirectory, 'jepsen-results/2026-12-04T10-00-00-000Z-register');
  });

  test('the issue example parses', () => {
    const options = runOptions(['--time', '60', '--nodes', '5', '--workload', 'list-append', '--nemesis', 'partition,kill,clock']);
    assert.equal(options.workload, 'list-append');
    assert.deepEqual(options.nemeses, ['partition', 'kill', 'clock']);
  });

  test('all and none', () => {
    const all = runOptions(['--nemesis', 'all']);
    const none = runOptions(['--nemesis', 'none']);
    assert.deepEqual(all.nemeses, nemesisKinds);
    assert.deepEqual(none.nemeses, []);
  });

  test('--consensus etcd: the log in etcd, with the faults that apply there', () => {
    const options = runOptions(['--consensus', 'etcd', '--nodes', '3']);
    assert.equal(options.consensus, 'etcd');
    assert.deepEqual(options.nemeses, ['kill', 'pause', 'etcd']);
    assert.deepEqual(runOptions(['--consensus', 'etcd', '--nemesis', 'all']).nemeses, etcdNemesisKinds);
    assert.equal(runOptions([]).consensus, undefined);
    assert.deepEqual(runOptions(['--consensus', 'etcd', '--nemesis', 'etcd-partition,kill']).nemeses, ['etcd-partition', 'kill']);
    assert.ok(etcdNemesisKinds.includes('etcd-partition'));
  });

  for (const [argv, message] of [
    [['--consensus', 'zab'], /--consensus: "zab" is neither raft nor etcd/],
    [['--consensus', 'etcd', '--nemesis', 'partition'], /--nemesis: "partition" is not one of kill, pause, etcd/],
    [['--nemesis', 'etcd'], /--nemesis: "etcd" is not one of/],
    [['--nemesis', 'etcd-partition'], /--nemesis: "etcd-partition" is not one of/],
    [['--bogus'], /Unknown option '--bogus'/],
    [['--workload', 'queue'], /--workload: "queue" is not one of register, list-append, bank/],
    [['--nemesis', 'kill,meteor'], /--nemesis: "meteor" is not one of/],
    [['--nodes', '4'], /--nodes: 3 or 5/],
    [['--nodes', '7'], /--nodes: expected a whole number in \[3, 5\]/],
    [['--time', '0'], /--time: expected a whole number in \[1, 86400\], got "0"/],
    [['--time', '1.5'], /--time: expected a whole number/],
    [['--concurrency', '201'], /--concurrency: expected a whole number in \[1, 200\]/],
    [['--read-levels', 'linearizable,eventual'], /--read-levels: unknown level "eventual"/],
    [['--read-levels', ','], /--read-levels: at least one level/],
    [['stray'], /Unexpected argument 'stray'/],
    [['--check', 'some/run', '--time', '5'], /--check runs nothing: it takes no other option \(got --time\)/],
  ] as const) {
    test(`refuses ${argv.join(' ')}`, () => {
      assert.throws(
        () => parseJepsenArguments(argv),
        (error: unknown) => error instanceof UsageError && message.test(error.message),
      );
    });
  }

  test('--check names a run directory', () => {
    assert.deepEqual(parseJepsenArguments(['--check', 'jepsen-results/x']), { check: 'jepsen-results/x' });
  });

  test('the command refuses an unknown flag with exit status 2 and the usage', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/jepsen/cli.ts', '--frobnicate'], {
      cwd: repositoryRoot,
      encoding: 'utf8',
      timeout: 60_000,
    });
    assert.equal(result.status, 2, result.stderr);
    assert.match(result.stderr, /jepsen: Unknown option '--frobnicate'/);
    assert.match(result.stderr, /usage: npm run jepsen/);
  });

  test('--help prints the usage and exits 0', () => {
    const result = spawnSync(process.execPath, ['--import', 'tsx', 'test/jepsen/cli.ts', '--help'], { cwd: repositoryRoot, encoding: 'utf8', timeout: 60_000 });
    assert.equal(result.status, 0, result.stderr);
    assert.match(result.stdout, /--workload NAME/);
  });
});
