/**
 * rqlite's automatic restore on real in-process nodes, from a real S3-protocol server and
 * a directory: a node without data downloads the backup (gzip or not) and, as the first
 * leader it sees, loads it through the log; a missing backup stops the start unless
 * continue_on_failure; a file that is not SQLite always stops it; a node with data skips
 * the download; a node whose first leader is another node installs nothing.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import { AutoRestoreError } from '../../src/backup/auto-restore.js';
import { parseAutoRestoreConfig, type AutoRestoreConfig } from '../../src/backup/config.js';
import { createS3Client, S3ObjectStore } from '../../src/backup/s3-store.js';
import { QuorumNode } from '../../src/server/quorum-node.js';
import { ServiceError } from '../../src/service/service.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from '../node/requests.js';
import { startTestNode, type StartedTestNode } from '../node/start-node.js';
import { recordingLogger } from './log-fixture.js';
import { s3Sub, startS3Server, type TestS3Server } from './s3-server.js';

const cleanups: (() => Promise<void> | void)[] = [];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});
const context = { signal: new AbortController().signal };

let server: TestS3Server | undefined;
async function s3(): Promise<TestS3Server> {
  if (server === undefined) {
    const started = await startS3Server();
    server = started;
    cleanups.push(() => started.stop());
  }
  return server;
}

/** A SQLite file with rows (and a BLOB, a REAL, an AUTOINCREMENT counter) to restore. */
function sourceDatabase(): Buffer {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-source-'));
  try {
    const path = join(directory, 'source.sqlite');
    const database = new Database(path);
    database.exec(`CREATE TABLE t(id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT, b BLOB, x REAL);
      INSERT INTO t(v, b, x) VALUES ('one', x'00ff', 1.5), ('two', NULL, 2.0), ('it''s', x'', -0.25);
      DELETE FROM t WHERE id = 2;
      CREATE INDEX t_v ON t(v);
      CREATE VIEW two_rows AS SELECT v FROM t;`);
    database.close();
    return readFileSync(path);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

async function putS3(key: string, bytes: Uint8Array): Promise<AutoRestoreConfig> {
  const target = await s3();
  const config = parseAutoRestoreConfig(JSON.stringify({ version: 1, type: 's3', timeout: '10s', sub: s3Sub(target, key) }));
  if (config.storage.type === 's3') await new S3ObjectStore(createS3Client(config.storage), config.storage, key).putBytes(key, bytes);
  return config;
}

async function started(prefix: string, autoRestore: AutoRestoreConfig, extra: Parameters<typeof startTestNode>[1] = {}): Promise<StartedTestNode> {
  const node = await startTestNode(prefix, { backups: { autoRestore }, ...extra });
  cleanups.push(async () => {
    await node.node.stop({ transferLeadership: false });
    rmSync(node.dataDirectory, { recursive: true, force: true });
  });
  return node;
}

async function rows(node: StartedTestNode): Promise<unknown[][]> {
  const response = await node.node.service.query(queryRequest('SELECT id, v, hex(b), x FROM t ORDER BY id'), context);
  const result = response.results[0];
  if (result?.kind !== 'rows') return [];
  return result.rows.map((row) => row.map((value) => (typeof value === 'bigint' ? Number(value) : value)));
}

const expectedRows = [
  [1, 'one', '00FF', 1.5],
  [3, "it's", '', -0.25],
];

test('S3, gzip: an empty node downloads the backup and, as leader, loads it through the log', async () => {
  const config = await putS3('backups/db.sqlite3.gz', gzipSync(sourceDatabase()));
  const node = await started('auto-restore-s3', config);
  await waitFor('the restored rows', async () => ((await rows(node)).length === 2 ? true : undefined));
  assert.deepEqual(await rows(node), expectedRows);
  // The AUTOINCREMENT counter came along: the next row is 4, not 2.
  await node.node.service.execute(executeRequest([statement("INSERT INTO t(v) VALUES ('next')")]), context);
  assert.equal((await rows(node)).at(-1)?.[0], 4);
  await waitFor('the downloaded file removed after the install', () =>
    readdirSync(join(node.dataDirectory, 'backup-staging')).length === 0 ? true : undefined,
  );
});

test('file type, not compressed: the same', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-restore-dir-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  writeFileSync(join(directory, 'backup.sqlite'), sourceDatabase());
  const config = parseAutoRestoreConfig(JSON.stringify({ version: 1, type: 'file', sub: { dir: directory, name: 'backup.sqlite' } }));
  const node = await started('auto-restore-file', config);
  await waitFor('the restored rows', async () => ((await rows(node)).length === 2 ? true : undefined));
  assert.deepEqual(await rows(node), expectedRows);
});

test('a missing backup stops the start; with continue_on_failure the node starts empty and says why', async () => {
  const target = await s3();
  const missing = parseAutoRestoreConfig(JSON.stringify({ version: 1, type: 's3', sub: s3Sub(target, 'backups/none.gz') }));
  await assert.rejects(
    () => startTestNode('auto-restore-missing', { backups: { autoRestore: missing } }),
    (error: unknown) => error instanceof AutoRestoreError && /failed to download auto-restore file from .*backups\/none\.gz/.test(error.message),
  );
  const logger = recordingLogger();
  const tolerant = parseAutoRestoreConfig(JSON.stringify({ version: 1, type: 's3', continue_on_failure: true, sub: s3Sub(target, 'backups/none.gz') }));
  const node = await started('auto-restore-continue', tolerant, { logger });
  await assert.rejects(
    () => node.node.service.query(queryRequest('SELECT * FROM t'), context),
    (error: unknown) => error instanceof ServiceError || error instanceof Error,
  );
  assert.ok(logger.lines.some((line) => line.fields.event === 'auto-restore-download-failed' && /continuing with node startup anyway/.test(line.message)));
});

test('a download that is not a SQLite database stops the start, continue_on_failure or not', async () => {
  const config = await putS3('backups/notes.txt', new TextEncoder().encode('not a database'));
  const tolerant = { ...config, continueOnFailure: true };
  await assert.rejects(
    () => startTestNode('auto-restore-garbage', { backups: { autoRestore: tolerant } }),
    (error: unknown) => error instanceof AutoRestoreError && /is not a SQLite database/.test(error.message),
  );
});

test('a node with data skips the download; a node whose first leader is another node installs nothing', async () => {
  const config = await putS3('backups/db.sqlite3.gz', gzipSync(sourceDatabase()));
  const leader = await started('auto-restore-leader', { ...config, storage: { ...config.storage, path: 'backups/none' } as never, continueOnFailure: true });
  await waitFor('a leader', () => (leader.node.runtime.isLeader ? true : undefined));
  await leader.node.service.execute(executeRequest([statement('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, b BLOB, x REAL)')]), context);
  // An empty node joins the running cluster: it downloads, but the first leader it sees is the other node.
  const logger = recordingLogger();
  const joiner = await started('auto-restore-joiner', config, { joinAddresses: [leader.node.config.raftAdvertisedAddress], logger });
  await waitFor('the joiner decides', () => (logger.lines.some((line) => line.fields.event === 'auto-restore-skipped') ? true : undefined));
  assert.ok(logger.lines.some((line) => /different node became leader, not performing auto-restore/.test(line.message)));
  assert.deepEqual(await rows(leader), [], 'nothing was loaded');
  await waitFor('the downloaded file removed', () => (readdirSync(join(joiner.dataDirectory, 'backup-staging')).length === 0 ? true : undefined));
  // Restarted with its data, the first node does not download at all (the target is not even asked).
  const dataDirectory = leader.dataDirectory;
  await leader.node.stop({ transferLeadership: false });
  const restartLogger = recordingLogger();
  const unreachable = parseAutoRestoreConfig(
    JSON.stringify({ version: 1, type: 's3', sub: { ...s3Sub({ endpoint: 'http://127.0.0.1:9', bucket: 'b-x' }, 'x') } }),
  );
  const http = new URL(leader.baseUrl);
  const restarted = await QuorumNode.start({
    nodeId: leader.node.config.nodeId,
    raftAdvertisedAddress: leader.node.config.raftAdvertisedAddress,
    apiAdvertisedAddress: leader.node.config.apiAdvertisedAddress,
    dataDirectory,
    httpListen: { host: http.hostname, port: Number(http.port) },
    raftListen: leader.node.config.raftAdvertisedAddress,
    logger: restartLogger,
    version: 'test',
    backups: { autoRestore: unreachable },
  });
  cleanups.push(() => restarted.stop({ transferLeadership: false }));
  assert.ok(restartLogger.lines.some((line) => /auto-restore requested, but data already exists/.test(line.message)));
});
