/**
 * The embedded replica (src/replica, docs/REPLICA.md) against a real 3-node cluster
 * (built CLI, real processes) that snapshots every 20 entries: a replica starting empty
 * after the log was compacted catches up through a full copy and ends with the cluster's
 * checksum; reads are local and see the client's own writes at once; a closed and
 * reopened replica resumes from its file without a copy, and one killed with -9 in the
 * middle of a catch-up resumes and applies nothing twice; it survives a kill -9 of the
 * leader; and /db/stream refuses bad input and streams past its bound. Needs
 * `npm run build` (npm test builds first).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { createClient as createPlainClient } from '../../src/client/index.js';
import { createClient, type ReplicaClient } from '../../src/replica/index.js';
import { http, type TestCluster, waitFor, type TestNode } from '../cluster/harness.js';
import { countingTransport, ReplicaCluster } from './helpers/replica-cluster.js';

/** Rows written before the replica first opens: enough entries that every node compacts past index 1. */
const initialRowCount = 80;
/** The backlog a child replica is killed in the middle of: entries, and rows each inserts. */
const bulkEntryCount = 12;
const bulkRowsPerEntry = 200;
const bulkParameterBytes = 300_000;
const replicaChild = fileURLToPath(new URL('./helpers/replica-child.ts', import.meta.url));
/** The nodes' bound on open streams (src/node/log-streams.ts). */
const streamCountMax = 64;

async function count(client: ReplicaClient): Promise<number> {
  const reply = await client.query<{ count: number }>('SELECT count(*) AS count FROM items');
  return reply.results[0]?.rows[0]?.count ?? -1;
}

describe('embedded replica against a real cluster', () => {
  let setup: ReplicaCluster;
  let cluster: TestCluster;
  before(async () => {
    setup = await ReplicaCluster.start({ size: 3, trailingLogCount: 50, directoryPrefix: 'quorumlite-replica-', fileName: 'local.db' });
    cluster = setup.cluster;
  });
  after(async () => {
    await setup?.close();
  });

  it('catches up from empty through a full copy once the log is compacted, to the cluster checksum', async () => {
    const writer = createPlainClient({ nodes: cluster.running().map((node) => node.url) });
    try {
      await writer.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, drawn INTEGER, at TEXT)');
      for (let row = 0; row < initialRowCount; row += 1) {
        // random() and 'now' come from the entry's seed and timestamp: the replica must compute the same.
        await writer.execute({ sql: "INSERT INTO items (label, drawn, at) VALUES (?, random(), datetime('now'))", args: [`row ${row}`] });
      }
    } finally {
      await writer.close();
    }
    for (const node of cluster.running())
      await waitFor(`node ${node.spec.index} compacted its log`, () => setup.compacted(node).then((yes) => yes || undefined));
    const cluster_ = await cluster.waitForConvergence();
    const counting = countingTransport();
    const replica = setup.openReplica(counting.transport);
    // The first read waits for the catch-up (the file starts empty), then reads locally.
    assert.equal(await count(replica), initialRowCount);
    assert.equal(counting.remoteReads(), 0, 'the first read was local');
    assert.ok(replica.replica.progress.appliedIndex >= cluster_.appliedIndex, 'the replica caught up');
    assert.ok(replica.replica.progress.copyCount >= 1, 'a full copy was fetched: the log no longer held the first entries');
    const local = replica.replica.checksum();
    const state = await cluster.waitForConvergence();
    assert.equal(local.appliedIndex, state.appliedIndex);
    assert.equal(local.checksum, state.checksum, 'the local file has the content of the cluster at the same index');
    await replica.close();
    setup.client = undefined;
  });

  it('serves reads locally and reads its own writes at once, writes going to the leader', async () => {
    const counting = countingTransport();
    const replica = setup.openReplica(counting.transport);
    for (let row = 0; row < 20; row += 1) {
      const written = await replica.execute({ sql: 'INSERT INTO items (label) VALUES (?)', args: [`mine ${row}`] });
      const read = await replica.query<{ label: string }>('SELECT label FROM items ORDER BY id DESC LIMIT 1');
      assert.deepEqual(read.results[0]?.rows, [{ label: `mine ${row}` }], 'the read right after the write sees it');
      assert.ok(replica.replica.progress.appliedIndex >= (written.raftIndex ?? Infinity));
    }
    assert.equal(counting.remoteReads(), 0, 'no read went to a node');
    const strong = await replica.query<{ count: number }>('SELECT count(*) AS count FROM items', { consistency: 'strong' });
    assert.equal(counting.remoteReads(), 1, 'an explicit level reads from the cluster');
    assert.deepEqual(strong.results[0]?.rows, [{ count: initialRowCount + 20 }]);
    await assert.rejects(replica.query('SELECT * FROM missing'), { code: 'SQL_ERROR', statementIndex: 0 });
  });

  it('resumes from its file after close and reopen, without a full copy', async () => {
    const before_ = setup.client;
    assert.ok(before_ !== undefined);
    const closedAt = before_.replica.progress.appliedIndex;
    await before_.close();
    const writer = createPlainClient({ nodes: cluster.running().map((node) => node.url) });
    let lastIndex = 0;
    try {
      for (let row = 0; row < 3; row += 1)
        lastIndex = (await writer.execute({ sql: 'INSERT INTO items (label) VALUES (?)', args: [`while closed ${row}`] })).raftIndex ?? 0;
    } finally {
      await writer.close();
    }
    const replica = setup.openReplica();
    assert.equal(replica.replica.progress.appliedIndex, closedAt, 'the file kept its applied index');
    assert.ok(await replica.replica.waitForApplied(lastIndex, 30_000));
    assert.equal(replica.replica.progress.copyCount, 0, 'the log still held what the replica missed');
    assert.equal(await count(replica), initialRowCount + 23);
    assert.throws(() => createClient({ nodes: [cluster.node(1).url], replica: { path: setup.replicaPath } }), {
      code: 'INVALID_ARGUMENT',
      message: /is open in another client/,
    });
  });

  it('killed with -9 in the middle of a catch-up, resumes from its file and applies nothing twice', async () => {
    await setup.client?.close();
    setup.client = undefined;
    const writer = createPlainClient({ nodes: cluster.running().map((node) => node.url) });
    let lastIndex = 0;
    try {
      await writer.execute('CREATE TABLE bulk (id INTEGER PRIMARY KEY, drawn INTEGER, payload BLOB)');
      // Each entry carries a large parameter, so the stream sends the backlog in several batches (1 MiB each).
      const rows = `WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < ${bulkRowsPerEntry})`;
      const sql = `INSERT INTO bulk (drawn, payload) ${rows} SELECT random(), CASE x WHEN 1 THEN ? ELSE randomblob(64) END FROM c`;
      const padding = new Uint8Array(bulkParameterBytes).fill(7);
      for (let entry = 0; entry < bulkEntryCount; entry += 1) lastIndex = (await writer.execute({ sql, args: [padding] })).raftIndex ?? 0;
    } finally {
      await writer.close();
    }
    const child = spawn(process.execPath, ['--import', 'tsx', replicaChild, setup.replicaPath, ...cluster.running().map((node) => node.url)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, TZ: 'UTC' },
    });
    const exited = once(child, 'exit');
    let startIndex: number | undefined;
    let killedAt: number | undefined;
    for await (const line of createInterface({ input: child.stdout })) {
      const applied = Number(line);
      startIndex ??= applied;
      if (applied > startIndex) {
        child.kill('SIGKILL');
        killedAt = applied;
        break;
      }
    }
    await exited;
    assert.ok(
      killedAt !== undefined && startIndex !== undefined && killedAt < lastIndex,
      `killed during the catch-up (${startIndex} → ${killedAt} of ${lastIndex})`,
    );
    const replica = setup.openReplica();
    assert.ok(replica.replica.progress.appliedIndex >= killedAt, 'what the child applied is in the file');
    assert.ok(await replica.replica.waitForApplied(lastIndex, 30_000));
    const bulk = await replica.query<{ count: number }>('SELECT count(*) AS count FROM bulk');
    assert.deepEqual(bulk.results[0]?.rows, [{ count: bulkEntryCount * bulkRowsPerEntry }], 'every entry applied once');
    const state = await cluster.waitForConvergence();
    assert.ok(await replica.replica.waitForApplied(state.appliedIndex, 30_000));
    assert.equal(replica.replica.checksum().checksum, state.checksum);
  });

  it('keeps serving through a kill -9 of the leader, then reconnects and catches up', async () => {
    const replica = setup.client;
    assert.ok(replica !== undefined);
    const leader = await cluster.waitForLeader();
    await replica.execute({ sql: 'INSERT INTO items (label) VALUES (?)', args: ['before the kill'] });
    await leader.kill();
    assert.equal(await count(replica), initialRowCount + 24, 'local reads go on while the cluster elects');
    await cluster.waitForLeader();
    let lastIndex = 0;
    for (let row = 0; row < 5; row += 1)
      lastIndex = (await replica.execute({ sql: 'INSERT INTO items (label) VALUES (?)', args: [`after ${row}`] })).raftIndex ?? 0;
    assert.equal(await count(replica), initialRowCount + 29, 'the replica reads its writes made through the new leader');
    assert.ok(replica.replica.progress.appliedIndex >= lastIndex);
    await waitFor('the replica streams from a live node', () => {
      const from = replica.replica.progress.streamingFrom;
      return from !== undefined && from !== leader.url ? from : undefined;
    });
    const state = await cluster.waitForConvergence();
    assert.ok(await replica.replica.waitForApplied(state.appliedIndex, 30_000));
    assert.equal(replica.replica.checksum().checksum, state.checksum);
    await replica.close();
    setup.client = undefined;
  });

  it('refuses a bad from with a clear 400', async () => {
    const node = cluster.running()[0] as TestNode;
    const missing = await http(`${node.url}/db/stream`);
    assert.equal(missing.status, 400);
    assert.equal(missing.headers.get('x-quorumlite-error'), 'BAD_REQUEST');
    assert.match(missing.text, /from is required/);
    const word = await http(`${node.url}/db/stream?from=abc`);
    assert.equal(word.status, 400);
    assert.equal(word.text, 'invalid from value: "abc"\n');
    const negative = await http(`${node.url}/db/stream?from=-1`);
    assert.equal(negative.status, 400);
    const beyond = await http(`${node.url}/db/stream?from=99999999`);
    assert.equal(beyond.status, 400);
    assert.match(beyond.text, /from 99999999 is beyond this node's applied index \d+/);
  });

  it(`opens ${streamCountMax} streams on one node and refuses one more with 503 until one closes`, async () => {
    const node = cluster.running()[0] as TestNode;
    const applied = (await node.checksum()).appliedIndex;
    const controllers: AbortController[] = [];
    try {
      for (let stream = 0; stream < streamCountMax; stream += 1) {
        const controller = new AbortController();
        controllers.push(controller);
        const response = await fetch(`${node.url}/db/stream?from=${applied}`, { signal: controller.signal });
        assert.equal(response.status, 200, `stream ${stream + 1}`);
        assert.equal(response.headers.get('content-type'), 'application/vnd.quorumlite.log-stream');
      }
      const refused = await http(`${node.url}/db/stream?from=${applied}`);
      assert.equal(refused.status, 503);
      assert.equal(refused.headers.get('x-quorumlite-error'), 'UNAVAILABLE');
      assert.match(refused.text, /too many log streams on this node \(streamCountMax 64\)/);
      controllers.pop()?.abort();
      await waitFor('a stream slot freed', async () => {
        const controller = new AbortController();
        const response = await fetch(`${node.url}/db/stream?from=${applied}`, { signal: controller.signal });
        if (response.status === 200) controllers.push(controller);
        else controller.abort();
        return response.status === 200 || undefined;
      });
    } finally {
      for (const controller of controllers) controller.abort();
    }
  });
});
