/**
 * -auto-backup and -auto-restore with `--consensus etcd`, as real processes on a real etcd
 * (one member: the etcd cluster's own failures are etcd-failover.test.ts's), to a
 * directory destination:
 * - only the node holding the etcd leader key uploads, once per change, with the applied
 *   index as id; after the leader stops, the next leader finds the stored id, and uploads
 *   again only after a new write;
 * - two empty nodes started with -auto-restore on an empty prefix: the first leader loads
 *   the backup through the log, so both get every row, loaded once;
 * - an empty node with -auto-restore that comes to lead a log that already holds data
 *   loads nothing (it would put the backup on top of the cluster's data).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sleep, TestCluster, type TestNode, waitFor } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefixBase = `/quorumlite-backups-${process.pid}`;
const scratch = mkdtempSync(join(tmpdir(), 'quorumlite-etcd-backups-'));
const backupDirectory = join(scratch, 'backups');
const storage = { type: 'file', sub: { dir: backupDirectory, name: 'db.sqlite.gz' } };
const rowsSql = 'SELECT id, v FROM t ORDER BY id';

let etcd: EtcdCluster;
const clusters: TestCluster[] = [];

before(async () => {
  etcd = await EtcdCluster.start({ size: 1 });
});

after(async () => {
  for (const cluster of clusters) await cluster.close();
  await etcd?.close();
  rmSync(scratch, { recursive: true, force: true });
});

function writeConfig(name: string, config: Record<string, unknown>): string {
  const path = join(scratch, name);
  writeFileSync(path, JSON.stringify(config));
  return path;
}

async function startCluster(size: number, prefix: string, flags: string[], firstHostIndex: number): Promise<TestCluster> {
  const cluster = await TestCluster.create({ size, formation: 'etcd', etcd: { endpoints: etcd.endpoints, prefix }, flags, firstHostIndex });
  clusters.push(cluster);
  await cluster.start();
  return cluster;
}

function eventCount(node: TestNode, event: string): number {
  return node.log().match(new RegExp(`"event":"${event}"`, 'g'))?.length ?? 0;
}

/** Waits until `node`'s log shows its upload of `index` (the log line follows the stored metadata, and reaches the test later still under load). */
function waitForUploadEvent(node: TestNode, index: number): Promise<true> {
  const uploaded = new RegExp(`"event":"auto-backup-uploaded"[^}]*"index":${index}[,}]`);
  return waitFor(`${node.id}'s upload event for index ${index}`, () => (uploaded.test(node.log()) ? true : undefined));
}

function storedId(): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(backupDirectory, 'METADATA.json'), 'utf8')) as { id: string }).id;
  } catch {
    return undefined;
  }
}

async function rows(node: TestNode, level = 'linearizable'): Promise<unknown[][] | undefined> {
  const answer = await node.query(rowsSql, `?level=${level}`);
  return (answer.body as { results: { values?: unknown[][]; error?: string }[] }).results[0]?.values;
}

async function insert(node: TestNode, value: string): Promise<number> {
  const answer = await node.execute([['INSERT INTO t(v) VALUES (?)', value]], '?raft_index');
  assert.equal(answer.status, 200, answer.text);
  return (answer.body as { raft_index: number }).raft_index;
}

test('the etcd leader alone uploads, on change only; empty nodes on an empty log restore it once; a log with data is never restored over', async () => {
  const backupConfig = writeConfig('backup.json', { version: 1, interval: '300ms', ...storage });
  const source = await startCluster(3, `${prefixBase}/source`, ['-auto-backup', backupConfig], 1);
  let expected: unknown[][] | undefined;
  await source.withLogs(async () => {
    let leader = await source.waitForLeader();
    assert.equal((await leader.execute(['CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)'])).status, 200);
    let index = 0;
    for (let count = 0; count < 5; count += 1) index = await insert(leader, `row ${count}`);
    await waitFor(`the backup of index ${index}`, () => (storedId() === String(index) ? true : undefined));
    await waitForUploadEvent(leader, index);
    for (const node of source.nodes) if (node !== leader) assert.equal(eventCount(node, 'auto-backup-uploaded'), 0, `${node.id} is no leader`);
    const settled = eventCount(leader, 'auto-backup-uploaded');
    await sleep(1200);
    assert.equal(eventCount(leader, 'auto-backup-uploaded'), settled, 'no upload without a change');

    // The leader stops: the next one finds the stored id (no upload), then uploads the next write.
    await leader.terminate();
    leader = await source.waitForLeader();
    await waitFor('the new leader checks the stored backup', () => (eventCount(leader, 'auto-backup-current') > 0 ? true : undefined));
    assert.equal(eventCount(leader, 'auto-backup-uploaded'), 0, 'a leader change alone uploads nothing');
    index = await insert(leader, 'after the leader change');
    await waitFor(`the new leader's backup of index ${index}`, () => (storedId() === String(index) ? true : undefined));
    await waitForUploadEvent(leader, index);
    assert.equal(eventCount(leader, 'auto-backup-uploaded'), 1);
    expected = await rows(leader);
    assert.equal(expected?.length, 6);
  });

  const restoreConfig = writeConfig('restore.json', { version: 1, timeout: '30s', ...storage });
  const restoredPrefix = `${prefixBase}/restored`;
  const restored = await startCluster(2, restoredPrefix, ['-auto-restore', restoreConfig], 4);
  await restored.withLogs(async () => {
    await restored.waitForLeader();
    for (const node of restored.nodes) {
      await waitFor(`${node.id} has the restored rows`, async () => (JSON.stringify(await rows(node)) === JSON.stringify(expected) ? true : undefined));
    }
    const loaded = restored.nodes.map((node) => eventCount(node, 'auto-restored'));
    assert.deepEqual(
      loaded.sort((left, right) => left - right),
      [0, 1],
      'exactly one node loaded the backup',
    );
    for (const node of restored.nodes) await node.terminate();
  });

  // A fresh node on the same prefix leads a log that holds the restored data: it must not load the backup again.
  const late = await startCluster(1, restoredPrefix, ['-auto-restore', restoreConfig], 6);
  await late.withLogs(async () => {
    const node = await late.waitForLeader();
    await waitFor('the late node decides', () => (/"reason":"log-holds-data"/.test(node.log()) ? true : undefined));
    assert.equal(eventCount(node, 'auto-restore-install'), 0);
    assert.deepEqual(await rows(node), expected, 'the rows once: nothing loaded on top');
  });
});
