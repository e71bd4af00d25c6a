/**
 * Automatic backups and point-in-time restore on real 3-node clusters (the built CLI),
 * against a real S3-protocol server (s3rver on 127.0.0.1) and a directory:
 * - the leader uploads only after a change, with the data's log index as id; a leader
 *   change alone uploads nothing, and the new leader carries the log archive on;
 * - the S3 server down for a while: the nodes keep serving writes, log and retry, and
 *   once it is back the archive holds every entry (nothing lost);
 * - `quorumlite restore --to-index` / `--to-time` rebuild, row by row, what the cluster
 *   held at each point (rows recorded with their log indexes while writing), and a time
 *   before the archive or after its end is a clear error;
 * - an empty node started with -auto-restore gets the cluster's last backup.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import Database from 'better-sqlite3';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { archiveStore } from '../../src/backup/archive-store.js';
import { parseAutoBackupConfig } from '../../src/backup/config.js';
import { readArchive } from '../../src/backup/pitr-plan.js';
import { restoreToPoint } from '../../src/backup/pitr-restore.js';
import { createS3Client } from '../../src/backup/s3-store.js';
import { cliPath, sleep, TestCluster, type TestNode, waitFor } from './harness.js';
import { s3Sub, startS3Server, type TestS3Server } from '../backup/s3-server.js';

const run = promisify(execFile);
const scratch = mkdtempSync(join(tmpdir(), 'quorumlite-backups-'));
const cleanups: (() => Promise<void> | void)[] = [() => rmSync(scratch, { recursive: true, force: true })];
after(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const rowsSql = 'SELECT id, v, hex(r), ts FROM t ORDER BY id';

interface Written {
  readonly index: number;
  /** Wall clock just before the request and just after its answer. */
  readonly beforeMs: number;
  readonly afterMs: number;
  /** Every row the cluster held once this write applied. */
  readonly rows: unknown[][];
}

class History {
  readonly writes: Written[] = [];
  #count = 0;

  /** Inserts one row through `node` and records the index and the rows the cluster then held. */
  async insert(node: TestNode): Promise<Written> {
    this.#count += 1;
    const beforeMs = Date.now();
    const answer = await node.execute([`INSERT INTO t(v) VALUES ('row ${this.#count}')`], '?raft_index');
    const afterMs = Date.now();
    assert.equal(answer.status, 200, answer.text);
    const index = (answer.body as { raft_index: number }).raft_index;
    const read = await node.query(rowsSql, '?level=linearizable');
    const rows = (read.body as { results: { values?: unknown[][] }[] }).results[0]?.values ?? [];
    const written = { index, beforeMs, afterMs, rows };
    this.writes.push(written);
    // Leader times are milliseconds: keep writes apart so each has its own.
    await sleep(30);
    return written;
  }

  get last(): Written {
    const last = this.writes[this.writes.length - 1];
    assert.ok(last !== undefined);
    return last;
  }
}

function eventCount(nodes: readonly TestNode[], event: string): number {
  return nodes.reduce((sum, node) => sum + (node.log().match(new RegExp(`"event":"${event}"`, 'g'))?.length ?? 0), 0);
}

/** The data indexes the nodes logged uploading, in log order per node. */
function uploadedIndexes(nodes: readonly TestNode[]): number[] {
  return nodes.flatMap((node) => [...node.log().matchAll(/"event":"auto-backup-uploaded".*?"index":(\d+)/g)].map((match) => Number(match[1])));
}

async function waitForUpload(nodes: readonly TestNode[], index: number): Promise<void> {
  await waitFor(`an upload of index ${index}`, () => (uploadedIndexes(nodes).includes(index) ? true : undefined));
}

function rowsOfFile(path: string): unknown[][] {
  const database = new Database(path, { readonly: true });
  try {
    return database.prepare(rowsSql).raw(true).all() as unknown[][];
  } finally {
    database.close();
  }
}

async function restoreCli(configPath: string, target: string[], outputPath: string): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [cliPath, 'restore', '--config', configPath, ...target, '--output', outputPath], {
      env: { ...process.env, TZ: 'UTC' },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

function writeConfig(name: string, config: Record<string, unknown>): string {
  const path = join(scratch, name);
  writeFileSync(path, JSON.stringify(config, null, 2));
  return path;
}

/** Every recorded write restores to exactly its rows (in process: the same code as the CLI). */
async function checkEveryIndex(configPath: string, history: History, label: string): Promise<void> {
  const config = parseAutoBackupConfig(readFileSync(configPath, 'utf8'));
  const path = config.pointInTime?.path ?? 'pitr';
  const store = archiveStore(config.storage, path);
  for (const written of history.writes) {
    const outputPath = join(scratch, `${label}-${written.index}.sqlite`);
    const outcome = await restoreToPoint({ store, path, target: { kind: 'index', index: written.index }, outputPath, workDirectory: `${outputPath}.work` });
    assert.equal(outcome.index, written.index);
    assert.deepEqual(rowsOfFile(outputPath), written.rows, `${label}: rows at index ${written.index}`);
  }
}

async function archivedIndex(configPath: string): Promise<number> {
  const config = parseAutoBackupConfig(readFileSync(configPath, 'utf8'));
  const path = config.pointInTime?.path ?? 'pitr';
  return (await readArchive(archiveStore(config.storage, path), path)).lastIndex;
}

async function s3BackupId(server: TestS3Server, key: string): Promise<string | undefined> {
  const config = parseAutoBackupConfig(JSON.stringify({ type: 's3', interval: '1s', sub: s3Sub(server, key) }));
  if (config.storage.type !== 's3') return undefined;
  try {
    const head = await createS3Client(config.storage).send(new HeadObjectCommand({ Bucket: server.bucket, Key: key }));
    return head.Metadata?.['x-rqlite-auto-backup-id'];
  } catch {
    return undefined;
  }
}

test('S3: uploads on change only, a leader change carries the archive on, an outage loses nothing; restore to index and time; auto-restore', async () => {
  const server = await startS3Server();
  cleanups.push(() => server.stop());
  const backupKey = 'cluster/db.sqlite3.gz';
  const configPath = writeConfig('s3-backup.json', {
    version: 1,
    type: 's3',
    interval: '300ms',
    sub: s3Sub(server, backupKey),
    point_in_time: { path: 'cluster/pitr', sync_interval: '200ms', snapshot_interval: '1h', retention: '24h' },
  });
  const cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['-auto-backup', configPath] });
  cleanups.push(() => cluster.close());
  await cluster.withLogs(async () => {
    await cluster.start();
    let leader = await cluster.waitForLeader();
    const create = await leader.execute([
      "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB DEFAULT (randomblob(8)), ts TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))",
    ]);
    assert.equal(create.status, 200, create.text);
    const history = new History();
    for (let count = 0; count < 5; count += 1) await history.insert(leader);

    // Uploads only after changes: the id becomes the last write's index, then nothing more is uploaded.
    await waitForUpload(cluster.nodes, history.last.index);
    assert.equal(await s3BackupId(server, backupKey), String(history.last.index));
    const uploadsSettled = eventCount(cluster.nodes, 'auto-backup-uploaded');
    await sleep(1500);
    assert.equal(eventCount(cluster.nodes, 'auto-backup-uploaded'), uploadsSettled, 'no upload without a change');
    await history.insert(leader);
    await waitForUpload(cluster.nodes, history.last.index);
    assert.equal(await s3BackupId(server, backupKey), String(history.last.index));
    assert.equal(eventCount(cluster.nodes, 'auto-backup-uploaded'), uploadsSettled + 1, 'one upload for one change');

    // Leader change: the new leader finds the stored id and uploads nothing; it carries the archive on.
    const uploadsBefore = eventCount(cluster.nodes, 'auto-backup-uploaded');
    await waitFor('the archive up to date', async () => ((await archivedIndex(configPath)) >= history.last.index ? true : undefined));
    await leader.terminate();
    leader = await cluster.waitForLeader();
    await waitFor('the new leader checks the stored backup', () => (/"event":"auto-backup-current"/.test(leader.log()) ? true : undefined));
    await sleep(1000);
    assert.equal(eventCount(cluster.nodes, 'auto-backup-uploaded'), uploadsBefore, 'a leader change alone uploads nothing');
    assert.match(leader.log(), /"event":"pitr-archive-resume"/);
    for (let count = 0; count < 3; count += 1) await history.insert(leader);

    // The S3 server goes away: writes go on, the nodes log and retry; once it is back nothing is missing.
    await server.pause();
    for (let count = 0; count < 3; count += 1) await history.insert(leader);
    await waitFor('failed uploads logged', () =>
      eventCount([leader], 'auto-backup-failed') > 0 && eventCount([leader], 'pitr-archive-failed') > 0 ? true : undefined,
    );
    await server.start();
    await waitFor('the archive after the outage', async () => ((await archivedIndex(configPath)) >= history.last.index ? true : undefined));
    await waitFor('the backup after the outage', async () => ((await s3BackupId(server, backupKey)) === String(history.last.index) ? true : undefined));
    assert.equal(eventCount(cluster.nodes, 'pitr-base-uploaded'), 1, 'one base for the whole run: the new leader and the outage needed none');

    await checkEveryIndex(configPath, history, 's3');
    // The CLI, to an index and to times between writes (the state of the write before).
    const middle = history.writes[4] as Written;
    const byIndex = await restoreCli(configPath, ['--to-index', String(middle.index)], join(scratch, 'cli-index.sqlite'));
    assert.equal(byIndex.code, 0, byIndex.stderr);
    assert.match(byIndex.stdout, new RegExp(`^restored index ${middle.index} `));
    assert.deepEqual(rowsOfFile(join(scratch, 'cli-index.sqlite')), middle.rows);
    for (const position of [1, 6, 9]) {
      const written = history.writes[position] as Written;
      const next = history.writes[position + 1] as Written;
      const timeMs = Math.floor((written.afterMs + next.beforeMs) / 2);
      const output = join(scratch, `cli-time-${position}.sqlite`);
      const byTime = await restoreCli(configPath, ['--to-time', new Date(timeMs).toISOString()], output);
      assert.equal(byTime.code, 0, byTime.stderr);
      assert.deepEqual(rowsOfFile(output), written.rows, `rows as of ${new Date(timeMs).toISOString()}`);
    }
    const tooEarly = await restoreCli(configPath, ['--to-time', '2001-01-01T00:00:00Z'], join(scratch, 'early.sqlite'));
    assert.equal(tooEarly.code, 1);
    assert.match(tooEarly.stderr, /2001-01-01T00:00:00\.000Z is before the archive's start: the earliest restorable time is /);
    const tooLate = await restoreCli(configPath, ['--to-time', new Date(Date.now() + 3_600_000).toISOString()], join(scratch, 'late.sqlite'));
    assert.equal(tooLate.code, 1);
    assert.match(tooLate.stderr, /is after the last archived entry, index \d+ .*--to-index/);

    // An empty node restores the cluster's last backup on its first start.
    const restorePath = writeConfig('s3-restore.json', { version: 1, type: 's3', timeout: '30s', sub: s3Sub(server, backupKey) });
    const fresh = await TestCluster.create({ size: 1, formation: 'join', flags: ['-auto-restore', restorePath], firstHostIndex: 4 });
    cleanups.push(() => fresh.close());
    await fresh.start();
    const restored = fresh.node(1);
    await waitFor('the restored rows', async () => {
      const read = await restored.query(rowsSql);
      const values = (read.body as { results: { values?: unknown[][] }[] }).results[0]?.values;
      return values !== undefined && values.length === history.last.rows.length ? values : undefined;
    });
    assert.deepEqual((await restored.query(rowsSql)).body, (await leader.query(rowsSql)).body, 'the same rows, random blobs and times included');
  });
});

test('a directory: uploads on change only; after kill -9 of the leader the archive goes on; restore to an index', async () => {
  const directory = join(scratch, 'backups');
  const configPath = writeConfig('file-backup.json', {
    version: 1,
    type: 'file',
    interval: '300ms',
    sub: { dir: directory, name: 'db.sqlite.gz' },
    point_in_time: { sync_interval: '200ms' },
  });
  const cluster = await TestCluster.create({ size: 3, formation: 'join', flags: ['-auto-backup', configPath], firstHostIndex: 5 });
  cleanups.push(() => cluster.close());
  await cluster.withLogs(async () => {
    await cluster.start();
    let leader = await cluster.waitForLeader();
    assert.equal(
      (
        await leader.execute([
          "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB DEFAULT (randomblob(8)), ts TEXT DEFAULT (strftime('%Y-%m-%d %H:%M:%f', 'now')))",
        ])
      ).status,
      200,
    );
    const history = new History();
    for (let count = 0; count < 3; count += 1) await history.insert(leader);
    const metadataId = () => {
      try {
        return (JSON.parse(readFileSync(join(directory, 'METADATA.json'), 'utf8')) as { id: string }).id;
      } catch {
        return undefined;
      }
    };
    await waitForUpload(cluster.nodes, history.last.index);
    assert.equal(metadataId(), String(history.last.index));
    const settled = eventCount(cluster.nodes, 'auto-backup-uploaded');
    await sleep(1200);
    assert.equal(eventCount(cluster.nodes, 'auto-backup-uploaded'), settled, 'no upload without a change');
    await waitFor('the archive up to date', async () => ((await archivedIndex(configPath)) >= history.last.index ? true : undefined));
    await leader.kill();
    leader = await cluster.waitForLeader();
    for (let count = 0; count < 3; count += 1) await history.insert(leader);
    await waitFor('the backup from the new leader', () => (metadataId() === String(history.last.index) ? true : undefined));
    await waitFor('the archive from the new leader', async () => ((await archivedIndex(configPath)) >= history.last.index ? true : undefined));
    await checkEveryIndex(configPath, history, 'file');
    const output = join(scratch, 'file-cli.sqlite');
    const outcome = await restoreCli(configPath, ['--to-index', String(history.last.index)], output);
    assert.equal(outcome.code, 0, outcome.stderr);
    assert.deepEqual(rowsOfFile(output), history.last.rows);
  });
});
