// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Go's ${NAME} expansion is what these tests are about
/**
 * The -auto-backup and -auto-restore files: rqlite's JSON format field by field (its
 * auto/backup and auto/restore packages), Go's os.ExpandEnv rules, and a clear error
 * naming the field for each malformed one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BackupConfigError, parseAutoBackupConfig, parseAutoRestoreConfig, pointInTimeDefaults, readConfigText } from '../../src/backup/config.js';
import { expandEnvironment } from '../../src/backup/env-expansion.js';

const s3Sub = { access_key_id: 'id', secret_access_key: 'secret', region: 'eu-west-1', bucket: 'bkt', path: 'backups/db.sqlite3.gz' };

function backup(fields: Record<string, unknown>): string {
  return JSON.stringify({ version: 1, type: 's3', interval: '5m', sub: s3Sub, ...fields });
}

function refusedBackup(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseAutoBackupConfig(text),
    (error: unknown) => error instanceof BackupConfigError && pattern.test(error.message),
    `${text} is refused with ${pattern}`,
  );
}

test("rqlite's documented S3 example parses, with rqlite's defaults", () => {
  const config = parseAutoBackupConfig(backup({ vacuum: false }));
  assert.deepEqual(config, {
    version: 1,
    storage: {
      type: 's3',
      endpoint: '',
      region: 'eu-west-1',
      accessKeyId: 'id',
      secretAccessKey: 'secret',
      bucket: 'bkt',
      path: 'backups/db.sqlite3.gz',
      forcePathStyle: false,
    },
    intervalMs: 300_000,
    compress: true,
    vacuum: false,
    timestamp: false,
    pointInTime: undefined,
  });
  const full = parseAutoBackupConfig(
    backup({ no_compress: true, timestamp: true, vacuum: true, sub: { ...s3Sub, endpoint: 's3.example.com', force_path_style: true } }),
  );
  assert.equal(full.compress, false);
  assert.equal(full.timestamp, true);
  assert.equal(full.vacuum, true);
  assert.deepEqual([full.storage.type === 's3' && full.storage.endpoint, full.storage.type === 's3' && full.storage.forcePathStyle], ['s3.example.com', true]);
});

test('keys may be null or empty (the SDK default credential chain), as rqlite documents', () => {
  const config = parseAutoBackupConfig(backup({ sub: { ...s3Sub, access_key_id: null, secret_access_key: '' } }));
  assert.equal(config.storage.type === 's3' && config.storage.accessKeyId, '');
  assert.equal(config.storage.type === 's3' && config.storage.secretAccessKey, '');
});

test('interval: a Go duration or nanoseconds; zero, negative, missing or malformed is refused', () => {
  assert.equal(parseAutoBackupConfig(backup({ interval: '1h30m' })).intervalMs, 5_400_000);
  assert.equal(parseAutoBackupConfig(backup({ interval: 2_500_000_000 })).intervalMs, 2500);
  assert.equal(parseAutoBackupConfig(backup({ interval: '10us' })).intervalMs, 1);
  refusedBackup(backup({ interval: '0s' }), /^interval: invalid interval/);
  refusedBackup(backup({ interval: '-5m' }), /^interval: invalid interval/);
  refusedBackup(backup({ interval: 0 }), /^interval: invalid interval/);
  refusedBackup(backup({ interval: 'soon' }), /^interval: invalid duration "soon"/);
  refusedBackup(backup({ interval: true }), /^interval: expected a Go duration string/);
  refusedBackup(backup({ interval: '1000h' }), /^interval: "1000h" is longer than/);
  refusedBackup(JSON.stringify({ version: 1, type: 's3', sub: s3Sub }), /^interval: required/);
});

test('version: at most 1 ("invalid version"), an integer; absent is accepted as rqlite does', () => {
  assert.equal(parseAutoBackupConfig(JSON.stringify({ type: 's3', interval: '1s', sub: s3Sub })).version, 0);
  refusedBackup(backup({ version: 2 }), /^version: invalid version 2/);
  refusedBackup(backup({ version: 1.5 }), /^version: expected an integer/);
  refusedBackup(backup({ version: '1' }), /^version: expected an integer/);
});

test('type: s3 or file; gcs is refused with the reason; anything else is an unsupported storage type', () => {
  refusedBackup(backup({ type: 'gcs' }), /^type: "gcs" is not supported/);
  refusedBackup(backup({ type: 'azure' }), /^type: unsupported storage type "azure"/);
  refusedBackup(backup({ type: undefined }), /^type: unsupported storage type null/);
});

test('booleans are booleans; sub is an object with its required fields; unknown fields are errors', () => {
  for (const name of ['no_compress', 'vacuum', 'timestamp']) refusedBackup(backup({ [name]: 'yes' }), new RegExp(`^${name}: expected true or false`));
  refusedBackup(backup({ sub: undefined }), /^sub: required/);
  refusedBackup(backup({ sub: 'bucket' }), /^sub: expected a JSON object/);
  for (const name of ['bucket', 'path', 'region']) {
    refusedBackup(backup({ sub: { ...s3Sub, [name]: '' } }), new RegExp(`^sub\\.${name}: required`));
    refusedBackup(backup({ sub: { ...s3Sub, [name]: 7 } }), new RegExp(`^sub\\.${name}: expected a string`));
  }
  refusedBackup(backup({ sub: { ...s3Sub, force_path_style: 'true' } }), /^sub\.force_path_style: expected true or false/);
  refusedBackup(backup({ sub: { ...s3Sub, endpoint: 3 } }), /^sub\.endpoint: expected a string/);
  refusedBackup(backup({ sub: { ...s3Sub, bucket_name: 'x' } }), /^sub\.bucket_name: unknown field/);
  refusedBackup(backup({ intervall: '5m' }), /^intervall: unknown field/);
  refusedBackup(backup({ timeout: '5m' }), /^timeout: unknown field in an -auto-backup file/);
  refusedBackup('{"version": 1,', /^not valid JSON/);
  refusedBackup('[1]', /expected a JSON object, got an array/);
});

test('file type: an absolute dir and a plain file name (rqlite\'s "name", or "file" as its docs say)', () => {
  const file = (sub: Record<string, unknown>) => JSON.stringify({ version: 1, type: 'file', interval: '1m', sub });
  assert.deepEqual(parseAutoBackupConfig(file({ dir: '/var/backups/rqlite', name: 'backup.sqlite.gz' })).storage, {
    type: 'file',
    directory: '/var/backups/rqlite',
    name: 'backup.sqlite.gz',
  });
  assert.equal(parseAutoBackupConfig(file({ dir: '/b', file: 'x.gz' })).storage.type === 'file', true);
  refusedBackup(file({ dir: 'relative/dir', name: 'x' }), /^sub\.dir: the directory path must be absolute/);
  refusedBackup(file({ dir: '/b', name: '../x' }), /^sub\.name: invalid file name/);
  refusedBackup(file({ dir: '/b', name: 'a/x' }), /^sub\.name: invalid file name/);
  refusedBackup(file({ dir: '/b' }), /^sub\.name: required/);
  refusedBackup(file({ name: 'x' }), /^sub\.dir: required/);
  refusedBackup(file({ dir: '/b', name: 'x', file: 'y' }), /name the backup file twice/);
  const clash = JSON.stringify({ version: 1, type: 'file', interval: '1m', sub: { dir: '/b', name: 'pitr' }, point_in_time: {} });
  refusedBackup(clash, /^point_in_time\.path: "pitr" would put the archive where the backup file goes/);
});

test('point_in_time: defaults after Litestream; each field checked', () => {
  const config = parseAutoBackupConfig(backup({ point_in_time: {} }));
  assert.deepEqual(config.pointInTime, { ...pointInTimeDefaults });
  const set = parseAutoBackupConfig(backup({ point_in_time: { path: 'a/b', sync_interval: '250ms', snapshot_interval: '10m', retention: '72h' } }));
  assert.deepEqual(set.pointInTime, { path: 'a/b', syncIntervalMs: 250, snapshotIntervalMs: 600_000, retentionMs: 259_200_000 });
  refusedBackup(backup({ point_in_time: { path: '/abs' } }), /^point_in_time\.path: "\/abs" must be a relative path/);
  refusedBackup(backup({ point_in_time: { path: 'a/../b' } }), /^point_in_time\.path/);
  refusedBackup(backup({ point_in_time: { retention: '0s' } }), /^point_in_time\.retention: invalid interval/);
  refusedBackup(backup({ point_in_time: { sync_interval: 'x' } }), /^point_in_time\.sync_interval: invalid duration/);
  refusedBackup(backup({ point_in_time: { snapshot_interval: [] } }), /^point_in_time\.snapshot_interval: expected a Go duration/);
  refusedBackup(backup({ point_in_time: { keep: '1h' } }), /^point_in_time\.keep: unknown field/);
  refusedBackup(backup({ point_in_time: true }), /^point_in_time: expected a JSON object/);
});

test("restore files: rqlite's timeout (default 30s) and continue_on_failure", () => {
  const restore = (fields: Record<string, unknown>) => JSON.stringify({ version: 1, type: 's3', sub: s3Sub, ...fields });
  const config = parseAutoRestoreConfig(restore({}));
  assert.equal(config.timeoutMs, 30_000);
  assert.equal(config.continueOnFailure, false);
  assert.deepEqual(
    [
      parseAutoRestoreConfig(restore({ timeout: '60s', continue_on_failure: true })).timeoutMs,
      parseAutoRestoreConfig(restore({ continue_on_failure: true })).continueOnFailure,
    ],
    [60_000, true],
  );
  assert.throws(() => parseAutoRestoreConfig(restore({ timeout: '0s' })), /^BackupConfigError: timeout: invalid interval|timeout: invalid interval/);
  assert.throws(() => parseAutoRestoreConfig(restore({ continue_on_failure: 1 })), /continue_on_failure: expected true or false/);
  assert.throws(() => parseAutoRestoreConfig(restore({ interval: '5m' })), /interval: unknown field in an -auto-restore file/);
});

test("environment variables expand as Go's os.ExpandEnv does", () => {
  const environment: Record<string, string> = { KEY: 'k1', B_2: 'two', EMPTY: '' };
  const expand = (text: string) => expandEnvironment(text, (name) => environment[name]);
  assert.equal(expand('$KEY and ${KEY}'), 'k1 and k1');
  assert.equal(expand('$B_2x'), '');
  assert.equal(expand('${B_2}x'), 'twox');
  assert.equal(expand('$UNSET|'), '|');
  assert.equal(expand('cost: 5$'), 'cost: 5$');
  assert.equal(expand('a $ b'), 'a $ b');
  assert.equal(expand('a${}b'), 'ab');
  assert.equal(expand('a${KEY'), 'aKEY');
  assert.equal(expand('$1$$'), '');
  assert.equal(expand('${EMPTY}.'), '.');
});

test('a config file is read with its variables expanded; unreadable or huge files are refused', () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-config-'));
  try {
    const path = join(directory, 'backup.json');
    writeFileSync(path, JSON.stringify({ version: 1, type: 's3', interval: '$INTERVAL', sub: { ...s3Sub, access_key_id: '$ACCESS_KEY_ID' } }));
    const config = parseAutoBackupConfig(readConfigText(path, { INTERVAL: '30s', ACCESS_KEY_ID: 'from-env' }));
    assert.equal(config.intervalMs, 30_000);
    assert.equal(config.storage.type === 's3' && config.storage.accessKeyId, 'from-env');
    assert.throws(() => readConfigText(join(directory, 'missing.json')), /cannot read .*missing\.json/);
    writeFileSync(path, ' '.repeat(1024 * 1024 + 1));
    assert.throws(() => readConfigText(path), /a config file holds at most/);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
});
