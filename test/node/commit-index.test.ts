/**
 * The commit index is saved lazily: a Ready that only moves it adds no fsync; it rides on
 * the next save (or the save at stop). After a crash the database may have applied
 * entries beyond the stored commit; the node must raise the stored commit to the applied
 * index at start instead of refusing to start (the core rejects applied > commit).
 */
import { startTestNode } from './start-node.js';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { executeRequest, statement } from './requests.js';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { TestCluster, waitFor } from '../cluster/harness.js';

const directories: string[] = [];
const clusters: TestCluster[] = [];
const context = { signal: new AbortController().signal };

after(async () => {
  for (const cluster of clusters) await cluster.close();
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

async function storedCommit(dataDirectory: string): Promise<number> {
  const storage = await DurableStorage.open(join(dataDirectory, 'raft'));
  try {
    return storage.initialState().hardState.commit;
  } finally {
    await storage.close();
  }
}

test('a commit-only Ready is not saved on its own; stop saves the newest commit index', async () => {
  const { node, dataDirectory: directory } = await startTestNode('commit');
  directories.push(directory);
  let applied = 0;
  try {
    await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
    await node.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
    for (const value of ['a', 'b', 'c']) await node.service.execute(executeRequest([statement('INSERT INTO t(v) VALUES (?)', value)]), context);
    applied = node.runtime.stateMachine.appliedIndex;
    // The last write's commit moved in a Ready of its own: not saved yet.
    assert.ok(node.runtime.storage.initialState().hardState.commit < applied, 'the last commit index waits for the next save');
    assert.equal(node.runtime.coreStatus()?.commit, applied);
  } finally {
    await node.stop({ transferLeadership: false });
  }
  assert.equal(await storedCommit(directory), applied, 'stop saved the commit index');
});

test('after kill -9 with applied entries beyond the stored commit, the node restarts and keeps every write', async () => {
  const cluster = await TestCluster.create({
    size: 1,
    formation: 'join',
    flags: ['--log-level', 'warn', '--heartbeat-ms', '50', '--election-timeout-ms', '500'],
  });
  clusters.push(cluster);
  await cluster.withLogs(async () => {
    await cluster.start();
    const node = await cluster.waitForLeader();
    assert.equal((await node.execute(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)'])).status, 200);
    for (const value of ['a', 'b', 'c']) assert.equal((await node.execute([['INSERT INTO t(v) VALUES (?)', value]])).status, 200);
    const before = await node.raftStatus();
    await node.kill();
    const commitOnDisk = await storedCommit(node.dataDirectory);
    assert.ok(commitOnDisk < before.applied_index, `stored commit ${commitOnDisk} lags the applied index ${before.applied_index}`);
    node.start(cluster.flagsFor(node));
    await cluster.waitForLeader([node]);
    const read = await node.query('SELECT v FROM t ORDER BY id', '?level=strong');
    assert.equal(read.status, 200, read.text);
    assert.match(read.text, /"values":\[\["a"\],\["b"\],\["c"\]\]/);
    assert.ok((await node.raftStatus()).applied_index >= before.applied_index);
  });
});
