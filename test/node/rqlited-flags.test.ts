/**
 * rqlited's command line, parsed by `quorumlite serve`: Go flag syntax, the data directory
 * last, and every rqlited flag either implemented (name, meaning, default, Go syntax) or
 * refused with the reason.
 */
import { parsed, refused } from './serve-flag-checks.js';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseServeFlags } from '../../src/cli/serve-flags.js';
import { serveFlagSpecs } from '../../src/cli/serve-flag-table.js';
import { parseGoInteger } from '../../src/cli/flag-values.js';

/** rqlited v10's flags (cmd/rqlited/flags.toml), and -raft-timeout, -raft-heartbeat-timeout's name before v10. */
const rqlitedFlagNames = [
  'version',
  'extensions-path',
  'http-addr',
  'http-adv-addr',
  'http-allow-origin',
  'auth',
  'auto-backup',
  'auto-restore',
  'cdc-config',
  'http-ca-cert',
  'http-cert',
  'http-key',
  'http-verify-client',
  'http-verify-common-name',
  'node-ca-cert',
  'node-cert',
  'node-key',
  'node-no-verify',
  'node-verify-client',
  'node-verify-server-name',
  'node-verify-common-name',
  'node-id',
  'raft-addr',
  'raft-adv-addr',
  'join',
  'join-attempts',
  'join-interval',
  'join-as',
  'bootstrap-expect',
  'bootstrap-expect-timeout',
  'disco-mode',
  'disco-key',
  'disco-config',
  'on-disk-path',
  'fk',
  'auto-vacuum-int',
  'auto-optimize-int',
  'db-max-ro-conns',
  'raft-log-level',
  'raft-non-voter',
  'raft-snap',
  'raft-snap-wal-size',
  'raft-snap-int',
  'raft-leader-lease-timeout',
  'raft-heartbeat-timeout',
  'raft-timeout',
  'raft-commit-timeout',
  'raft-election-timeout',
  'raft-apply-timeout',
  'raft-remove-shutdown',
  'raft-cluster-remove-shutdown',
  'raft-shutdown-stepdown',
  'raft-reap-node-timeout',
  'raft-reap-read-only-node-timeout',
  'cluster-connect-timeout',
  'compress-snap-transport',
  'write-queue-capacity',
  'write-queue-batch-size',
  'write-queue-timeout',
  'write-queue-tx',
  'cpu-profile',
  'mem-profile',
  'trace-profile',
];

test('the flag table holds exactly rqlited flags plus our own, and docs/FLAGS.md lists every rqlited flag', () => {
  const rqlitedInTable = Object.entries(serveFlagSpecs)
    .filter(([, spec]) => spec.origin === 'rqlited')
    .map(([name]) => name)
    .sort();
  assert.deepEqual(rqlitedInTable, [...rqlitedFlagNames].sort());
  const docs = readFileSync(new URL('../../docs/FLAGS.md', import.meta.url), 'utf8');
  for (const name of rqlitedFlagNames) assert.ok(docs.includes(`\`-${name}\``), `docs/FLAGS.md lists -${name}`);
});

test('syntax: -flag=value, -flag value, --flag value and --flag=value are the same flag', () => {
  for (const argv of [['-raft-snap=100'], ['-raft-snap', '100'], ['--raft-snap', '100'], ['--raft-snap=100']]) {
    assert.equal(parsed(argv).snapshotThresholdEntries, 100, argv.join(' '));
  }
});

test('syntax: booleans are -flag, -flag=true/false (Go ParseBool spellings); -flag false is a positional', () => {
  assert.equal(parsed(['-fk']).foreignKeys, true);
  assert.equal(parsed(['--fk']).foreignKeys, true);
  for (const text of ['1', 't', 'T', 'TRUE', 'true', 'True']) assert.equal(parsed([`-fk=${text}`]).foreignKeys, true, text);
  for (const text of ['0', 'f', 'F', 'FALSE', 'false', 'False']) assert.equal(parsed([`-fk=${text}`]).foreignKeys, false, text);
  // As in Go: a boolean takes no separate value, so "false" ends the flags and is the data directory.
  const separate = parsed(['-fk', 'false']);
  assert.equal(separate.foreignKeys, true);
  assert.equal(separate.dataDirectory, 'false');
  refused(['-fk=yes'], /invalid boolean value "yes" for -fk/);
  refused(['-fk='], /invalid boolean value "" for -fk/);
  refused(['-raft-shutdown-stepdown=no'], /invalid boolean value "no" for -raft-shutdown-stepdown/);
});

test('syntax: the data directory is the last argument, as rqlited [flags] <data directory>', () => {
  const options = parsed(['-http-addr', '127.0.0.2:4101', '-raft-addr=127.0.0.2:4102', '/var/lib/rqlite']);
  assert.equal(options.dataDirectory, '/var/lib/rqlite');
  assert.deepEqual(options.httpAddress, { host: '127.0.0.2', port: 4101 });
  assert.equal(parsed([]).dataDirectory, './data');
  assert.equal(parsed(['--data-dir', '/x']).dataDirectory, '/x');
  assert.equal(parsed(['--data-dir', '/x', '/x']).dataDirectory, '/x');
  refused(['--data-dir', '/x', '/y'], /data directory is given twice: --data-dir \/x and \/y/);
  refused(['--data-dir='], /--data-dir: the data directory is empty/);
  refused(['-fk', ''], /the data directory is empty/);
  // Flags end at the first positional (Go): a flag after the data directory is refused, as rqlited does.
  refused(['/data', '-fk'], /arguments after data directory \(\/data\) are not accepted \(-fk\)/);
  refused(['/data', 'extra'], /arguments after data directory/);
  // `--` ends the flags: what follows is positional even if it looks like a flag.
  assert.equal(parsed(['-fk', '--', '-weird-dir']).dataDirectory, '-weird-dir');
  // `-` alone is an argument, not a flag.
  assert.equal(parsed(['-']).dataDirectory, '-');
});

test('syntax: unknown flags, bad syntax, missing values and repeats are refused', () => {
  refused(['-nope'], /unknown flag -nope/);
  refused(['--nope=1'], /unknown flag --nope/);
  refused(['---raft-snap=1'], /bad flag syntax: ---raft-snap=1/);
  refused(['-=1'], /bad flag syntax: -=1/);
  refused(['--=1'], /bad flag syntax: --=1/);
  refused(['-raft-snap'], /flag -raft-snap needs a value/);
  refused(['-node-id', '-http-addr', '127.0.0.1:1'], /flag -node-id needs a value/);
  refused(['-join-as', 'a', '--join-as', 'b'], /flag --join-as given twice/);
  // A value that merely starts with a dash (not a known flag) is taken, as Go does.
  refused(['-raft-snap', '-5'], /-raft-snap: "-5" is not a whole number/);
  assert.equal(parsed(['-http-allow-origin', '-x-']).httpAllowOrigin, '-x-');
});

test('syntax: -h, -help and -version', () => {
  assert.equal(parseServeFlags(['-h']), 'help');
  assert.equal(parseServeFlags(['-help']), 'help');
  assert.equal(parseServeFlags(['-version']), 'version');
  assert.equal(parseServeFlags(['--version', '/data']), 'version');
  assert.equal(parsed(['-version=false']).dataDirectory, './data');
});

test('Go integers: base prefixes, a leading 0 for octal, underscores between digits, range', () => {
  assert.equal(parseGoInteger('100', false), 100n);
  assert.equal(parseGoInteger('0x1F', false), 31n);
  assert.equal(parseGoInteger('0o17', false), 15n);
  assert.equal(parseGoInteger('017', false), 15n);
  assert.equal(parseGoInteger('0b101', false), 5n);
  assert.equal(parseGoInteger('1_000', false), 1000n);
  assert.equal(parseGoInteger('0x_1F', false), 31n);
  assert.equal(parseGoInteger('-3', true), -3n);
  assert.equal(parseGoInteger('+3', true), 3n);
  for (const bad of ['', '-3', '+3', '1__0', '_1', '1_', '09', '0x', '1e3', ' 1', '18446744073709551616']) {
    assert.equal(parseGoInteger(bad, false), undefined, bad);
  }
  assert.equal(parseGoInteger('18446744073709551615', false), 2n ** 64n - 1n);
  assert.equal(parseGoInteger('9223372036854775808', true), undefined);
  assert.equal(parsed(['-raft-snap=0x10']).snapshotThresholdEntries, 16);
  assert.equal(parsed(['-write-queue-capacity=2_048']).writeQueueCountMax, 2048);
});
