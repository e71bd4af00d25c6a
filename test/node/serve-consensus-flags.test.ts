/**
 * `--consensus`, `--etcd-endpoints`, `--etcd-prefix`, `--etcd-lease-ttl` (serve-consensus-flags.ts):
 * the embedded Raft by default, etcd only with endpoints, and the etcd flags refused without it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parsed, refused } from './serve-flag-checks.js';

test('the embedded Raft is the default; --consensus raft says the same', () => {
  assert.equal(parsed([]).etcd, undefined);
  assert.equal(parsed(['--consensus', 'raft']).etcd, undefined);
});

test('--consensus etcd takes the endpoints, a prefix and a lease TTL, with defaults for the last two', () => {
  assert.deepEqual(parsed(['--consensus', 'etcd', '--etcd-endpoints', 'http://127.0.2.1:2379, http://127.0.2.2:2379']).etcd, {
    endpoints: ['http://127.0.2.1:2379', 'http://127.0.2.2:2379'],
    prefix: '/quorumlite',
    leaseTtlSeconds: 2,
  });
  assert.deepEqual(parsed(['--consensus=etcd', '--etcd-endpoints=https://e:2379', '--etcd-prefix', '/a/b', '--etcd-lease-ttl', '5']).etcd, {
    endpoints: ['https://e:2379'],
    prefix: '/a/b',
    leaseTtlSeconds: 5,
  });
});

test('bad consensus command lines are usage errors that say what is wrong', () => {
  refused(['--consensus', 'zab'], /neither raft nor etcd/);
  refused(['--consensus', 'etcd'], /needs --etcd-endpoints/);
  refused(['--etcd-endpoints', 'http://e:2379'], /only with --consensus etcd/);
  refused(['--consensus', 'etcd', '--etcd-endpoints', 'e:2379'], /not an http:\/\/ or https:\/\/ URL/);
  refused(['--consensus', 'etcd', '--etcd-endpoints', ','], /comma-separated/);
  refused(['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379', '--etcd-prefix', 'q'], /must start with \//);
  refused(['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379', '--etcd-lease-ttl', '0'], /out of range/);
});

test('flags only the embedded-Raft node implements are refused with --consensus etcd, never ignored', () => {
  const etcd = ['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379'];
  for (const extra of [
    ['-extensions-path', 'x.so'],
    ['-join', '127.0.0.1:4002'],
    ['-bootstrap-expect', '3'],
    ['-disco-mode', 'etcd-kv'],
  ]) {
    refused([...etcd, ...extra], new RegExp(`^${extra[0]}: not available with --consensus etcd`));
  }
});

test('-auth, HTTPS, node-to-node TLS and -cdc-config are taken with --consensus etcd (the etcd node assembles them as the Raft node does)', () => {
  const etcd = ['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379'];
  const options = parsed([
    ...etcd,
    '-auth',
    '/tmp/auth.json',
    '-http-cert',
    'c.pem',
    '-http-key',
    'k.pem',
    '-http-ca-cert',
    'ca.pem',
    '-cdc-config',
    'stdout',
    ...['-node-cert', 'n.pem', '-node-key', 'nk.pem', '-node-ca-cert', 'ca.pem'],
  ]);
  assert.equal(options.tls?.peers?.certPath, 'n.pem');
  assert.equal(options.authFile, '/tmp/auth.json');
  assert.equal(options.tls?.http?.certPath, 'c.pem');
  assert.equal(options.tls?.http?.caPath, 'ca.pem');
  assert.notEqual(options.cdc, undefined);
  assert.deepEqual(options.etcd?.endpoints, ['http://e:2379']);
});

test("etcd's TLS: a CA and a client certificate with https:// endpoints; refused with http:// ones, half a pair or no CA", () => {
  const https = ['--consensus', 'etcd', '--etcd-endpoints', 'https://e1:2379,https://e2:2379'];
  assert.deepEqual(parsed([...https, '--etcd-ca-cert', 'ca.pem', '--etcd-cert', 'c.pem', '--etcd-key', 'k.pem']).etcd?.tls, {
    caPath: 'ca.pem',
    certPath: 'c.pem',
    keyPath: 'k.pem',
  });
  assert.deepEqual(parsed([...https, '--etcd-ca-cert', 'ca.pem']).etcd?.tls, { caPath: 'ca.pem' });
  assert.equal(parsed(https).etcd?.tls, undefined);
  refused(['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379', '--etcd-ca-cert', 'ca.pem'], /^--etcd-ca-cert: etcd's TLS needs https:\/\//);
  refused(['--consensus', 'etcd', '--etcd-endpoints', 'http://e1:2379,https://e2:2379'], /all http:\/\/ or all https:\/\//);
  refused([...https, '--etcd-ca-cert', 'ca.pem', '--etcd-cert', 'c.pem'], /--etcd-cert and --etcd-key together/);
  refused([...https, '--etcd-cert', 'c.pem', '--etcd-key', 'k.pem'], /needs --etcd-ca-cert/);
  refused(['--etcd-ca-cert', 'ca.pem'], /^--etcd-ca-cert: only with --consensus etcd/);
});

test('-auto-backup and -auto-restore are taken with --consensus etcd; -auto-backup with point_in_time is refused', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-consensus-flags-'));
  after(() => rmSync(directory, { recursive: true, force: true }));
  const file = (name: string, config: unknown): string => {
    const path = join(directory, name);
    writeFileSync(path, JSON.stringify(config));
    return path;
  };
  const storage = { type: 'file', sub: { dir: directory, name: 'db.gz' } };
  const backup = file('backup.json', { version: 1, interval: '1s', ...storage });
  const restore = file('restore.json', { version: 1, ...storage });
  const etcd = ['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379'];
  const options = parsed([...etcd, '-auto-backup', backup, '-auto-restore', restore]);
  assert.equal(options.autoBackup?.intervalMs, 1000);
  assert.equal(options.autoRestore?.timeoutMs, 30_000);
  const archive = file('archive.json', { version: 1, interval: '1s', ...storage, point_in_time: { path: 'pitr' } });
  refused([...etcd, '-auto-backup', archive], /^-auto-backup .*archive\.json: point_in_time is not available with --consensus etcd/);
  assert.equal(parsed(['-auto-backup', archive]).autoBackup?.pointInTime?.path, 'pitr');
});

test('--etcd-compaction-lag-max takes a whole number of entries (absent: the node default); not without --consensus etcd', () => {
  const etcd = ['--consensus', 'etcd', '--etcd-endpoints', 'http://e:2379'];
  assert.equal(parsed([...etcd, '--etcd-compaction-lag-max', '50']).etcd?.compactionLagEntryCountMax, 50);
  assert.equal(parsed(etcd).etcd?.compactionLagEntryCountMax, undefined);
  refused([...etcd, '--etcd-compaction-lag-max', '0'], /out of range/);
  refused(['--etcd-compaction-lag-max', '50'], /only with --consensus etcd/);
});
