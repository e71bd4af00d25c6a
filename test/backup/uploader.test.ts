/**
 * rqlite's automatic backup, against a real S3-protocol server (s3rver, through the AWS
 * SDK) and a directory: the leader uploads a gzip-compressed user-only copy with the
 * data's log index as its id; nothing is uploaded when no command was applied since
 * (a leader's no-op and a membership change do not count); a new leader finds the
 * stored id and does not upload the same data again; a follower never uploads; an
 * unreachable or full target is retried with backoff and the upload completes later.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { GetObjectCommand, HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { parseAutoBackupConfig, type AutoBackupConfig } from '../../src/backup/config.js';
import { backupIdMetadataKey, createDestination, timestampedPath } from '../../src/backup/destinations.js';
import { createS3Client } from '../../src/backup/s3-store.js';
import { systemClock } from '../../src/backup/ports.js';
import { AutoBackupUploader } from '../../src/backup/uploader.js';
import { retryDelayMs } from '../../src/backup/retry-delay.js';
import { waitFor } from '../cluster/harness.js';
import { createFixture, recordingLogger, type Fixture } from './log-fixture.js';
import { s3Sub, startS3Server, type TestS3Server } from './s3-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

function uploaderFor(fixture: Fixture, config: AutoBackupConfig, logger = recordingLogger()): AutoBackupUploader {
  return new AutoBackupUploader({
    config,
    destination: createDestination(config.storage, config.timestamp),
    log: fixture.log,
    database: fixture.database,
    stagingDirectory: fixture.directory,
    logger,
    clock: systemClock,
  });
}

function rowsOf(sqliteBytes: Uint8Array): unknown[] {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-read-'));
  try {
    const path = join(directory, 'copy.sqlite');
    writeFileSync(path, sqliteBytes);
    const database = new Database(path, { readonly: true });
    try {
      const internal = database.prepare("SELECT name FROM sqlite_schema WHERE name LIKE '\\_quorumlite%' ESCAPE '\\'").all();
      assert.deepEqual(internal, [], 'the upload holds no internal state');
      return database.prepare('SELECT id, v FROM t ORDER BY id').raw(true).all();
    } finally {
      database.close();
    }
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function startServer(): Promise<TestS3Server> {
  const server = await startS3Server();
  cleanups.push(() => server.stop());
  return server;
}

function s3Config(server: TestS3Server, fields: Record<string, unknown> = {}): AutoBackupConfig {
  return parseAutoBackupConfig(JSON.stringify({ version: 1, type: 's3', interval: '50ms', sub: s3Sub(server, 'backups/db.sqlite3.gz'), ...fields }));
}

async function s3Object(server: TestS3Server, key: string): Promise<{ bytes: Uint8Array; id: string | undefined }> {
  const client = createS3Client(s3Config(server).storage as never);
  const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: key }));
  const body = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
  return { bytes: await (body.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray(), id: head.Metadata?.[backupIdMetadataKey] };
}

test('S3: the leader uploads on change only, with the data index as id; a new leader skips data already stored', async () => {
  const server = await startServer();
  const fixture = createFixture();
  cleanups.push(() => fixture.close());
  fixture.noop();
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
  const firstRow = fixture.write('INSERT INTO t(v) VALUES (?)', ['one']);
  const config = s3Config(server);
  const uploader = uploaderFor(fixture, config);
  assert.equal(await uploader.uploadOnce(), 'uploaded');
  let stored = await s3Object(server, 'backups/db.sqlite3.gz');
  assert.equal(stored.id, String(firstRow));
  assert.deepEqual(rowsOf(gunzipSync(stored.bytes)), [[1, 'one']]);
  assert.equal(await uploader.uploadOnce(), 'unchanged');
  // A leader change (its no-op) and a membership change apply no command: still unchanged.
  fixture.term = 2;
  fixture.noop();
  fixture.confChange();
  assert.equal(await uploader.uploadOnce(), 'unchanged');
  // Another node becomes leader: it has not uploaded, but the stored id says the data is there.
  const successor = uploaderFor(fixture, config);
  assert.equal(await successor.uploadOnce(), 'already-stored');
  assert.equal(successor.counts.uploaded, 0);
  const secondRow = fixture.write('INSERT INTO t(v) VALUES (?)', ['two']);
  assert.equal(await successor.uploadOnce(), 'uploaded');
  stored = await s3Object(server, 'backups/db.sqlite3.gz');
  assert.equal(stored.id, String(secondRow));
  assert.deepEqual(rowsOf(gunzipSync(stored.bytes)), [
    [1, 'one'],
    [2, 'two'],
  ]);
  // A follower never uploads, and forgets what it uploaded (it asks again once it leads).
  fixture.log.isLeader = false;
  fixture.write('INSERT INTO t(v) VALUES (?)', ['three']);
  assert.equal(await successor.uploadOnce(), 'not-leader');
  assert.equal((await s3Object(server, 'backups/db.sqlite3.gz')).id, String(secondRow));
});

test('S3: no_compress uploads the SQLite file itself; timestamp names each upload YYYYMMDDHHMMSS_', async () => {
  const server = await startServer();
  const fixture = createFixture();
  cleanups.push(() => fixture.close());
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
  fixture.write('INSERT INTO t(v) VALUES (?)', ['plain']);
  const uploader = uploaderFor(fixture, s3Config(server, { no_compress: true, timestamp: true, sub: s3Sub(server, 'backups/db.sqlite3') }));
  const before = Date.now();
  assert.equal(await uploader.uploadOnce(), 'uploaded');
  const client = createS3Client(s3Config(server).storage as never);
  const listed = await client.send(new ListObjectsV2Command({ Bucket: server.bucket, Prefix: 'backups/' }));
  const keys = (listed.Contents ?? []).map((item) => item.Key);
  assert.equal(keys.length, 1);
  assert.match(keys[0] ?? '', /^backups\/\d{14}_db\.sqlite3$/);
  assert.ok([timestampedPath('backups/db.sqlite3', before), timestampedPath('backups/db.sqlite3', Date.now())].includes(keys[0] ?? ''));
  const stored = await s3Object(server, keys[0] ?? '');
  assert.equal(Buffer.from(stored.bytes).subarray(0, 15).toString(), 'SQLite format 3');
  assert.deepEqual(rowsOf(stored.bytes), [[1, 'plain']]);
  assert.equal(timestampedPath('a/b/c.gz', Date.UTC(2025, 0, 2, 3, 4, 5)), 'a/b/20250102030405_c.gz');
});

test('file: the backup and METADATA.json are written atomically in dir; the id is read back from it', async () => {
  const fixture = createFixture();
  cleanups.push(() => fixture.close());
  const target = mkdtempSync(join(tmpdir(), 'quorumlite-target-'));
  cleanups.push(() => rmSync(target, { recursive: true, force: true }));
  const config = parseAutoBackupConfig(JSON.stringify({ version: 1, type: 'file', interval: '1m', sub: { dir: target, name: 'backup.sqlite.gz' } }));
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
  const index = fixture.write('INSERT INTO t(v) VALUES (?)', ['file']);
  assert.equal(await uploaderFor(fixture, config).uploadOnce(), 'uploaded');
  const metadata = JSON.parse(readFileSync(join(target, 'METADATA.json'), 'utf8')) as { id: string; timestamp: number; name: string };
  assert.equal(metadata.id, String(index));
  assert.equal(metadata.name, join(target, 'backup.sqlite.gz'));
  assert.deepEqual(rowsOf(gunzipSync(readFileSync(metadata.name))), [[1, 'file']]);
  assert.deepEqual(readdirSync(target).sort(), ['METADATA.json', 'backup.sqlite.gz']);
  assert.equal(await uploaderFor(fixture, config).uploadOnce(), 'already-stored');
});

test('an unreachable S3 target: the uploader logs, backs off and retries; the upload goes once it is back', async () => {
  const server = await startServer();
  await server.pause();
  const fixture = createFixture();
  cleanups.push(() => fixture.close());
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)');
  const index = fixture.write('INSERT INTO t(v) VALUES (?)', ['late']);
  const logger = recordingLogger();
  const uploader = uploaderFor(fixture, s3Config(server, { interval: '20ms' }), logger);
  uploader.start();
  cleanups.push(() => uploader.stop());
  const failures = await waitFor('three failed attempts', () => {
    const lines = logger.lines.filter((line) => line.fields.event === 'auto-backup-failed');
    return lines.length >= 3 ? lines : undefined;
  });
  assert.deepEqual(
    failures.slice(0, 3).map((line) => line.fields.retryInMs),
    [40, 80, 160],
    'the wait doubles after each failure',
  );
  assert.equal(uploader.counts.uploaded, 0);
  await server.start();
  await waitFor('the upload after the target came back', () => (uploader.counts.uploaded === 1 ? true : undefined));
  assert.equal((await s3Object(server, 'backups/db.sqlite3.gz')).id, String(index));
  await uploader.stop();
  assert.equal(retryDelayMs(300_000, 5), 300_000, 'a long interval is its own cap');
  assert.equal(retryDelayMs(1000, 30), 60_000, 'backoff stops at a minute');
});

test('a full target directory: the upload fails, no partial file is left, the old backup stays; it goes once there is room', async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'quorumlite-full-target-'));
  cleanups.push(() => rmSync(mountPoint, { recursive: true, force: true }));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=4m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    t.skip(`cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}); needs root`);
    return;
  }
  cleanups.push(() => void execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' }));
  const fixture = createFixture();
  cleanups.push(() => fixture.close());
  const config = parseAutoBackupConfig(
    JSON.stringify({ version: 1, type: 'file', interval: '1m', no_compress: true, sub: { dir: mountPoint, name: 'db.sqlite' } }),
  );
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)');
  fixture.write('INSERT INTO t(v) VALUES (zeroblob(500000))');
  const uploader = uploaderFor(fixture, config);
  assert.equal(await uploader.uploadOnce(), 'uploaded');
  const firstBackup = readFileSync(join(mountPoint, 'db.sqlite'));
  // Fill the disk, then change the data so the next upload is due.
  const fillerPath = join(mountPoint, 'filler');
  const descriptor = openSync(fillerPath, 'w');
  try {
    for (let count = 0; count < 64; count += 1) writeSync(descriptor, Buffer.alloc(128 * 1024, 1));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(descriptor);
  }
  fixture.write('INSERT INTO t(v) VALUES (zeroblob(500000))');
  await assert.rejects(() => uploader.uploadOnce(), /ENOSPC|no space/i);
  assert.deepEqual(
    readdirSync(mountPoint).filter((name) => name.startsWith('.')),
    [],
    'no temporary file is left behind',
  );
  assert.deepEqual(readFileSync(join(mountPoint, 'db.sqlite')), firstBackup, 'the previous backup is intact');
  rmSync(fillerPath);
  assert.equal(await uploader.uploadOnce(), 'uploaded');
  assert.equal(existsSync(join(mountPoint, 'db.sqlite')), true);
  assert.notDeepEqual(readFileSync(join(mountPoint, 'db.sqlite')), firstBackup);
});
