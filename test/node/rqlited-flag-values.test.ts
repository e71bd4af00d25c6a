/**
 * Every rqlited flag quorumlite implements: its value parsed with rqlited's syntax, its
 * default, and each malformed value refused with a message naming the flag (exit 2); and
 * every rqlited flag quorumlite refuses: refused with the reason, unless given the value
 * that leaves its feature off.
 */
import { parsed, refused } from './serve-flag-checks.js';
import { after, test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { allowOriginLengthMax, extensionPathCountMax, parseServeFlags, type ServeOptions } from '../../src/cli/serve-flags.js';
import { serveFlagSpecs } from '../../src/cli/serve-flag-table.js';
import { runCli } from '../../src/cli/main.js';
import { tlsPathLengthMax } from '../../src/cli/serve-tls-flags.js';

interface FlagCase {
  readonly read: (options: ServeOptions) => unknown;
  readonly defaultValue: unknown;
  /** [value text, what read() gives]. */
  readonly good: readonly (readonly [string, unknown])[];
  /** [value text, the message it is refused with]. */
  readonly bad: readonly (readonly [string, RegExp])[];
}

const notWhole = /is not a whole number/;

/** -auto-backup / -auto-restore files for the cases below (rqlite's JSON; src/backup/config.ts). */
const configDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-flag-configs-'));
after(() => rmSync(configDirectory, { recursive: true, force: true }));
function configFile(name: string, config: unknown): string {
  const path = join(configDirectory, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}
const s3Sub = { region: 'us-east-1', bucket: 'bkt', path: 'db.sqlite3.gz' };
const backupFile = configFile('backup.json', { version: 1, type: 's3', interval: '5m', sub: s3Sub });
const restoreFile = configFile('restore.json', { version: 1, type: 's3', timeout: '60s', sub: s3Sub });
const backupWithoutBucket = configFile('no-bucket.json', { version: 1, type: 's3', interval: '5m', sub: { ...s3Sub, bucket: '' } });
const restoreWithInterval = configFile('restore-interval.json', { version: 1, type: 's3', interval: '5m', sub: s3Sub });
const badDuration = /invalid duration/;

const implemented: Readonly<Record<string, FlagCase>> = {
  'auto-backup': {
    read: (o) => o.autoBackup?.intervalMs,
    defaultValue: undefined,
    good: [
      [backupFile, 300_000],
      ['', undefined],
    ],
    bad: [
      [join(configDirectory, 'missing.json'), /^-auto-backup .*missing\.json: cannot read/],
      [backupWithoutBucket, /^-auto-backup .*no-bucket\.json: sub\.bucket: required/],
    ],
  },
  'auto-restore': {
    read: (o) => o.autoRestore?.timeoutMs,
    defaultValue: undefined,
    good: [
      [restoreFile, 60_000],
      ['', undefined],
    ],
    bad: [[restoreWithInterval, /^-auto-restore .*: interval: unknown field in an -auto-restore file/]],
  },
  'cdc-config': {
    read: (o) => o.cdc?.endpoint,
    defaultValue: undefined,
    good: [
      ['http://localhost:8000/cdc', 'http://localhost:8000/cdc'],
      ['stdout', 'stdout'],
      ['', undefined],
    ],
    bad: [['/no/such/cdc.json', /^-cdc-config \/no\/such\/cdc.json: cannot read/]],
  },
  'extensions-path': {
    read: (o) => o.extensionPaths,
    defaultValue: [],
    good: [
      ['/opt/ext/a.so,/opt/ext.zip', ['/opt/ext/a.so', '/opt/ext.zip']],
      ['', []],
    ],
    bad: [
      ['/a.so,,/b.so', /an empty path/],
      [Array.from({ length: extensionPathCountMax + 1 }, (_, i) => `/e${i}`).join(','), new RegExp(`at most ${extensionPathCountMax} paths`)],
    ],
  },
  'http-allow-origin': {
    read: (o) => o.httpAllowOrigin,
    defaultValue: null,
    good: [
      ['https://example.com', 'https://example.com'],
      ['*', '*'],
      ['', null],
    ],
    bad: [
      ['https://a\r\nX-Evil: 1', /is not a valid header value/],
      ['x'.repeat(allowOriginLengthMax + 1), new RegExp(`longer than ${allowOriginLengthMax} characters`)],
    ],
  },
  // Parsed here; the file itself is read at start (test/http/auth-files.test.ts).
  auth: {
    read: (o) => o.authFile,
    defaultValue: null,
    good: [
      ['/etc/rqlite/auth.json', '/etc/rqlite/auth.json'],
      ['', null],
    ],
    bad: [],
  },
  join: {
    read: (o) => o.joinAddresses,
    defaultValue: [],
    good: [['http://127.0.0.3:4002,127.0.0.4:4002', ['http://127.0.0.3:4002', '127.0.0.4:4002']]],
    bad: [['nonsense', /-join: invalid address "nonsense"/]],
  },
  'join-attempts': {
    read: (o) => o.joinAttemptCountMax,
    defaultValue: 5,
    good: [
      ['7', 7],
      ['0x10', 16],
    ],
    bad: [
      ['many', notWhole],
      ['0', /out of range 1-10000/],
      ['1.5', notWhole],
    ],
  },
  'join-interval': {
    read: (o) => o.joinIntervalMs,
    defaultValue: 3000,
    good: [
      ['5s', 5000],
      ['1m30s', 90_000],
      ['1.5ms', 2],
    ],
    bad: [
      ['5', badDuration],
      ['-1s', /below the minimum/],
    ],
  },
  'join-as': {
    read: (o) => o.joinAs,
    defaultValue: '',
    good: [
      ['alice', 'alice'],
      ['', ''],
    ],
    bad: [['alice:secret', /-join-as: .* other than spaces and ':'/]],
  },
  // Discovery's values and errors in full: disco-flags.test.ts. Alone, -disco-key and -disco-config change nothing (as in rqlited).
  'disco-mode': {
    read: (o) => o.discovery?.mode,
    defaultValue: undefined,
    good: [
      ['etcd-kv', 'etcd-kv'],
      ['', undefined],
    ],
    bad: [
      ['bogus', /^invalid disco mode bogus/],
      ['dns', /-disco-mode dns needs -bootstrap-expect/],
    ],
  },
  'disco-key': { read: (o) => o.discovery, defaultValue: undefined, good: [['cluster1', undefined]], bad: [] },
  'disco-config': { read: (o) => o.discovery, defaultValue: undefined, good: [['{"name":"rqlite.local"}', undefined]], bad: [] },
  'bootstrap-expect-timeout': {
    read: (o) => o.bootstrapExpectTimeoutMs,
    defaultValue: 120_000,
    good: [['30s', 30_000]],
    bad: [
      ['30', badDuration],
      ['0s', /below the minimum of 1ms/],
    ],
  },
  'auto-vacuum-int': {
    read: (o) => o.autoVacuumIntervalMs,
    defaultValue: 0,
    good: [
      ['1h', 3_600_000],
      ['0s', 0],
      ['720h', 2_592_000_000],
    ],
    bad: [
      ['1', badDuration],
      ['-1s', /below the minimum of 0ms/],
    ],
  },
  'auto-optimize-int': {
    read: (o) => o.autoOptimizeIntervalMs,
    defaultValue: 86_400_000,
    good: [
      ['0h', 0],
      ['12h', 43_200_000],
    ],
    bad: [['daily', badDuration]],
  },
  'db-max-ro-conns': {
    read: (o) => o.readOnlyConnectionCountMax,
    defaultValue: 256,
    good: [
      ['8', 8],
      ['0', 0],
      ['-1', -1],
    ],
    bad: [
      ['1.5', notWhole],
      ['lots', notWhole],
      ['4294967296', /out of range/],
    ],
  },
  'raft-log-level': {
    read: (o) => o.raftLogLevel,
    defaultValue: undefined,
    good: [
      ['ERROR', 'error'],
      ['WARN', 'warn'],
      ['info', 'info'],
      ['Debug', 'debug'],
      ['TRACE', 'trace'],
      ['OFF', 'silent'],
    ],
    bad: [['LOUD', /-raft-log-level: "LOUD" is not one of ERROR, WARN, INFO, DEBUG/]],
  },
  'raft-non-voter': {
    read: (o) => o.nonVoter,
    defaultValue: false,
    good: [
      ['true', true],
      ['false', false],
    ],
    bad: [['maybe', /invalid boolean/]],
  },
  'raft-snap': {
    read: (o) => o.snapshotThresholdEntries,
    defaultValue: 8192,
    good: [
      ['100', 100],
      ['0x100', 256],
    ],
    bad: [
      ['+5', notWhole],
      ['lots', notWhole],
      ['0', /out of range/],
    ],
  },
  'raft-snap-wal-size': {
    // rqlite's meaning: a WAL this large makes a snapshot due; 0 turns that off.
    read: (o) => o.snapshotWalBytes,
    defaultValue: 4_194_304,
    good: [
      ['8388608', 8_388_608],
      ['4_194_304', 4_194_304],
      ['0', 0],
    ],
    bad: [
      ['big', notWhole],
      ['99999999999999', /out of range/],
    ],
  },
  'raft-snap-int': { read: (o) => o.snapshotIntervalMs, defaultValue: 10_000, good: [['30s', 30_000]], bad: [['30', badDuration]] },
  'raft-heartbeat-timeout': {
    read: (o) => [o.electionTimeoutMs, o.heartbeatMs],
    defaultValue: [300, 50],
    good: [
      ['1s', [1000, 100]],
      ['200ms', [200, 20]],
      ['25ms', [25, 10]],
    ],
    bad: [
      ['1', badDuration],
      ['10ms', /below the minimum of 20ms/],
      ['2m', /above the maximum of 60000ms/],
      ['19ms', /below the minimum/],
    ],
  },
  'raft-timeout': {
    read: (o) => [o.electionTimeoutMs, o.heartbeatMs],
    defaultValue: [300, 50],
    good: [['2s', [2000, 200]]],
    bad: [['2', badDuration]],
  },
  'raft-election-timeout': {
    read: (o) => o.candidateElectionTimeoutMs,
    defaultValue: 0,
    good: [
      ['1s', 1000],
      ['500ms', 500],
    ],
    bad: [
      ['1', badDuration],
      ['200ms', /must be equal or greater than the follower timeout \(300ms\)/],
    ],
  },
  'raft-apply-timeout': {
    read: (o) => o.applyTimeoutMs,
    defaultValue: 10_000,
    good: [['5s', 5000]],
    bad: [
      ['5', badDuration],
      ['0s', /below the minimum of 1ms/],
    ],
  },
  'raft-remove-shutdown': { read: (o) => o.exitWhenRemoved, defaultValue: false, good: [['true', true]], bad: [['sure', /invalid boolean/]] },
  'raft-cluster-remove-shutdown': {
    read: (o) => o.removeOnShutdown,
    defaultValue: false,
    good: [['true', true]],
    bad: [['2', /invalid boolean/]],
  },
  'raft-shutdown-stepdown': { read: (o) => o.stepDownOnShutdown, defaultValue: true, good: [['false', false]], bad: [['nope', /invalid boolean/]] },
  'raft-reap-node-timeout': {
    read: (o) => o.reapNodeTimeoutMs,
    defaultValue: 0,
    good: [['1h', 3_600_000]],
    bad: [
      ['0h', /-raft-reap-node-timeout must be greater than 0/],
      ['1', badDuration],
    ],
  },
  'raft-reap-read-only-node-timeout': {
    read: (o) => o.reapReadOnlyNodeTimeoutMs,
    defaultValue: 0,
    good: [['30s', 30_000]],
    bad: [['0s', /-raft-reap-read-only-node-timeout must be greater than 0/]],
  },
  'cluster-connect-timeout': {
    read: (o) => o.connectTimeoutMs,
    defaultValue: undefined,
    good: [['10s', 10_000]],
    bad: [
      ['10', badDuration],
      ['0s', /below the minimum of 1ms/],
    ],
  },
  'write-queue-capacity': {
    read: (o) => o.writeQueueCountMax,
    defaultValue: 1024,
    good: [['2048', 2048]],
    bad: [
      ['0', /out of range/],
      ['x', notWhole],
    ],
  },
  'write-queue-batch-size': { read: (o) => o.writeQueueBatchCountMax, defaultValue: 128, good: [['64', 64]], bad: [['-1', /out of range/]] },
  'write-queue-timeout': { read: (o) => o.writeQueueTimeoutMs, defaultValue: 50, good: [['100ms', 100]], bad: [['100', badDuration]] },
  'write-queue-tx': { read: (o) => o.writeQueueTransaction, defaultValue: false, good: [['true', true]], bad: [['tx', /invalid boolean/]] },
  fk: {
    read: (o) => o.foreignKeys,
    defaultValue: false,
    good: [
      ['true', true],
      ['false', false],
    ],
    bad: [['on', /invalid boolean/]],
  },
  'bootstrap-expect': {
    read: (o) => o.bootstrapExpect,
    defaultValue: 0,
    good: [
      ['0', 0],
      ['1', 1],
    ],
    bad: [
      ['three', notWhole],
      ['10', /out of range 0-9/],
    ],
  },
  'node-id': { read: (o) => o.nodeId, defaultValue: '127.0.0.1:4002', good: [['n1', 'n1']], bad: [['has space', /-node-id:/]] },
  'http-addr': {
    read: (o) => o.httpAddress,
    defaultValue: { host: '127.0.0.1', port: 4001 },
    good: [['0.0.0.0:4011', { host: '0.0.0.0', port: 4011 }]],
    bad: [
      ['localhost', /-http-addr: invalid address/],
      ['127.0.0.1:0', /port 0 out of range/],
    ],
  },
  'http-adv-addr': {
    read: (o) => o.httpAdvertisedAddress,
    defaultValue: { host: '127.0.0.1', port: 4001 },
    good: [['db1:4001', { host: 'db1', port: 4001 }]],
    bad: [
      ['db1', /-http-adv-addr: invalid address/],
      ['127.0.0.1:4002', /advertised HTTP and Raft addresses must differ/],
    ],
  },
  'raft-addr': {
    read: (o) => o.raftAddress,
    defaultValue: { host: '127.0.0.1', port: 4002 },
    good: [['[::1]:4012', { host: '::1', port: 4012 }]],
    bad: [['::1', /-raft-addr: invalid address/]],
  },
  'raft-adv-addr': {
    read: (o) => o.raftAdvertisedAddress,
    defaultValue: { host: '127.0.0.1', port: 4002 },
    good: [['db1:4002', { host: 'db1', port: 4002 }]],
    bad: [['db1:99999', /-raft-adv-addr: invalid address|out of range/]],
  },
  // TLS flags alone: each is off by default ('' / false); most need their partners (serve-flags-tls.test.ts has the combinations).
  'http-cert': {
    read: (o) => o.tls.http?.certPath,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['/cert.pem', /either both -http-cert and -http-key must be set, or neither/]],
  },
  'http-key': {
    read: (o) => o.tls.http?.keyPath,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['/key.pem', /either both -http-cert and -http-key must be set, or neither/]],
  },
  'http-ca-cert': {
    read: (o) => o.tls.http?.caPath,
    defaultValue: undefined,
    good: [
      ['/ca.pem', '/ca.pem'],
      ['', undefined],
    ],
    bad: [['c'.repeat(tlsPathLengthMax + 1), new RegExp(`-http-ca-cert: longer than ${tlsPathLengthMax} characters`)]],
  },
  'http-verify-client': {
    read: (o) => o.tls.http?.verifyClient,
    defaultValue: undefined,
    good: [['false', undefined]],
    bad: [['true', /-http-verify-client needs -http-cert and -http-key/]],
  },
  'http-verify-common-name': {
    read: (o) => o.tls.http?.clientCommonName,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['app', /-http-verify-common-name needs -http-cert/]],
  },
  'node-cert': {
    read: (o) => o.tls.peers?.certPath,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['/cert.pem', /either both -node-cert and -node-key must be set, or neither/]],
  },
  'node-key': {
    read: (o) => o.tls.peers?.keyPath,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['/key.pem', /either both -node-cert and -node-key must be set, or neither/]],
  },
  'node-ca-cert': {
    read: (o) => o.tls.peers?.caPath,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['/ca.pem', /-node-ca-cert needs -node-cert and -node-key/]],
  },
  'node-no-verify': {
    read: (o) => o.tls.peers?.noVerify,
    defaultValue: undefined,
    good: [['false', undefined]],
    bad: [['true', /-node-no-verify needs -node-cert/]],
  },
  'node-verify-client': {
    read: (o) => o.tls.peers?.verifyClient,
    defaultValue: undefined,
    good: [['false', undefined]],
    bad: [['true', /-node-verify-client needs -node-cert/]],
  },
  'node-verify-server-name': {
    read: (o) => o.tls.peers?.serverName,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['db.example', /-node-verify-server-name needs -node-cert/]],
  },
  'node-verify-common-name': {
    read: (o) => o.tls.peers?.clientCommonName,
    defaultValue: undefined,
    good: [['', undefined]],
    bad: [['db', /-node-verify-common-name needs -node-cert/]],
  },
};

test('every implemented rqlited flag: rqlited syntax, default, and each malformed value refused naming the flag', () => {
  const defaults = parsed([]);
  for (const [name, flagCase] of Object.entries(implemented)) {
    assert.deepEqual(flagCase.read(defaults), flagCase.defaultValue, `default of -${name}`);
    for (const [text, expected] of flagCase.good) {
      const kind = serveFlagSpecs[name]?.kind;
      const argv = kind === 'boolean' ? [`-${name}=${text}`] : [`-${name}`, text];
      assert.deepEqual(flagCase.read(parsed(argv)), expected, `-${name} ${text}`);
      assert.deepEqual(flagCase.read(parsed([`--${name}=${text}`])), expected, `--${name}=${text}`);
    }
    for (const [text, message] of flagCase.bad) refused([`-${name}=${text}`], message);
  }
  const covered = new Set([...Object.keys(implemented), 'version']);
  const untested = Object.entries(serveFlagSpecs)
    .filter(([name, spec]) => spec.origin === 'rqlited' && spec.refusal === undefined && !covered.has(name))
    .map(([name]) => name);
  assert.deepEqual(untested, [], 'every implemented rqlited flag has a case here');
});

test('timing flags combine as hashicorp/raft requires', () => {
  const both = parsed(['-raft-heartbeat-timeout=1s', '-raft-election-timeout=2s']);
  assert.deepEqual([both.electionTimeoutMs, both.heartbeatMs, both.candidateElectionTimeoutMs], [1000, 100, 2000]);
  refused(
    ['-raft-heartbeat-timeout=2s', '-raft-election-timeout=1s'],
    /-raft-election-timeout \(1000ms\) must be equal or greater than -raft-heartbeat-timeout \(2000ms\)/,
  );
  refused(['-raft-heartbeat-timeout=1s', '-raft-timeout=1s'], /set the same timeout: give one/);
  refused(['-raft-heartbeat-timeout=1s', '--election-timeout-ms=1000'], /set the same timeout: give one/);
  // An explicit heartbeat still wins over the tenth.
  assert.equal(parsed(['-raft-heartbeat-timeout=1s', '--heartbeat-ms=50']).heartbeatMs, 50);
  refused(['-raft-heartbeat-timeout=100ms', '--heartbeat-ms=60'], /-raft-heartbeat-timeout \(100\) must be at least twice --heartbeat-ms \(60\)/);
});

test('trailing logs follow rqlite: 1.25 × -raft-snap, unless --raft-trailing-logs says otherwise', () => {
  assert.equal(parsed(['-raft-snap=100']).snapshotTrailingEntries, 125);
  assert.equal(parsed(['-raft-snap=3']).snapshotTrailingEntries, 3);
  assert.equal(parsed(['-raft-snap=100', '--raft-trailing-logs=7']).snapshotTrailingEntries, 7);
});

/** The refused rqlited flags: a value asking for the feature, and the value that leaves it off. */
const refusedCases: Readonly<Record<string, { readonly asks: string; readonly off: string }>> = {
  'compress-snap-transport': { asks: 'true', off: 'false' },
  'on-disk-path': { asks: '/fast/db.sqlite', off: '' },
  'raft-leader-lease-timeout': { asks: '500ms', off: '0s' },
  'raft-commit-timeout': { asks: '100ms', off: '50ms' },
  'cpu-profile': { asks: '/tmp/cpu', off: '' },
  'mem-profile': { asks: '/tmp/mem', off: '' },
  'trace-profile': { asks: '/tmp/trace', off: '' },
};

test('every refused rqlited flag says why, and accepts the value that leaves its feature off', () => {
  const refusedInTable = Object.entries(serveFlagSpecs)
    .filter(([, spec]) => spec.refusal !== undefined)
    .map(([name]) => name)
    .sort();
  assert.deepEqual(refusedInTable, Object.keys(refusedCases).sort());
  for (const [name, { asks, off }] of Object.entries(refusedCases)) {
    const reason = serveFlagSpecs[name]?.refusal?.reason ?? '';
    assert.ok(reason.length > 20, `-${name} has a reason`);
    refused([`-${name}=${asks}`], new RegExp(`^-${name}: not supported: `));
    assert.equal(typeof parseServeFlags([`-${name}=${off}`]), 'object', `-${name}=${off} is accepted`);
  }
  refused(
    ['-raft-leader-lease-timeout', '2s'],
    /-raft-leader-lease-timeout: not supported: quorumlite reads never rely on a leader lease \(linearizable reads use ReadIndex\)/,
  );
});

function capture(): { io: { stdout: (t: string) => void; stderr: (t: string) => void }; out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return { io: { stdout: (t) => void out.push(t), stderr: (t) => void err.push(t) }, out, err };
}

test('the CLI exits 2 on a malformed or refused rqlited flag, and -version prints the version and exits 0', async () => {
  for (const [argv, message] of [
    [['-raft-apply-timeout=5'], /quorumlite serve: -raft-apply-timeout: invalid duration "5": missing unit/],
    [['-on-disk-path', '/fast/db.sqlite', '/data'], /quorumlite serve: -on-disk-path: not supported: /],
    [['-fk=yes'], /quorumlite serve: invalid boolean value "yes" for -fk/],
    [['/data', '-fk'], /quorumlite serve: arguments after data directory \(\/data\) are not accepted/],
    [['-bogus'], /quorumlite serve: unknown flag -bogus/],
  ] as const) {
    const io = capture();
    assert.equal(await runCli(['serve', ...argv], io.io), 2, argv.join(' '));
    assert.match(io.err.join(''), message);
  }
  const version = capture();
  assert.equal(await runCli(['serve', '-version'], version.io), 0);
  assert.match(version.out.join(''), /^quorumlite \d+\.\d+\.\d+ \S+ \S+ node\d+\.\d+\.\d+ sqlite3\.\d+\.\d+\n$/);
});
