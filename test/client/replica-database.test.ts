/**
 * An embedded replica of a database other than `main` (docs/REPLICA.md, "A replica of
 * another database") against a real node (built CLI, a real process) that snapshots every
 * 20 entries: `createClient({ nodes, database: 'sales', replica: { path } })` catches up
 * from a copy of `sales` once the log is compacted, holds `sales`' rows and nothing of
 * `main`'s while writes to `main` interleave, reads its own writes locally, resumes from
 * its file after a restart without a copy, applies a load of `sales`; the stream of
 * `sales` carries no byte of `main`'s entries, and a drop ends it with NOT_FOUND (or
 * LOG_COMPACTED, and a new copy, once the name is created again).
 * Needs `npm run build` (npm test builds first).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createClient as createPlainClient, type Client } from '../../src/client/index.js';
import { LogStreamFrameReader, type LogStreamFrame } from '../../src/common/log-stream-frames.js';
import { type TestCluster, waitFor } from '../cluster/harness.js';
import { countingTransport, ReplicaCluster } from './helpers/replica-cluster.js';

const database = 'sales';
/** Rows written to each database before the replica first opens: enough entries that the node compacts past index 1. */
const initialRowCount = 40;
/** A text only `main`'s entries carry: the stream of `sales` must never hold it. */
const mainMarker = 'main-only-marker';

async function count(client: Client, table: string): Promise<number> {
  const reply = await client.query<{ count: number }>(`SELECT count(*) AS count FROM ${table}`);
  return reply.results[0]?.rows[0]?.count ?? -1;
}

/** Reads `/db/stream` frames from `url` until `until` says stop or the stream ends; the frames seen. */
async function readFrames(url: string, until: (frames: readonly LogStreamFrame[]) => boolean): Promise<LogStreamFrame[]> {
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  assert.equal(response.status, 200, `${url} answers 200`);
  const reader = new LogStreamFrameReader();
  const frames: LogStreamFrame[] = [];
  try {
    for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
      frames.push(...reader.push(chunk));
      if (until(frames)) break;
    }
  } finally {
    controller.abort();
  }
  return frames;
}

describe('embedded replica of another database against a real node', () => {
  let setup: ReplicaCluster;
  let cluster: TestCluster;
  let writer: Client;
  before(async () => {
    setup = await ReplicaCluster.start({ size: 1, trailingLogCount: 10, directoryPrefix: 'quorumlite-replica-db-', fileName: 'sales.db', database });
    cluster = setup.cluster;
    writer = createPlainClient({ nodes: cluster.running().map((node) => node.url) });
  });
  after(async () => {
    await writer?.close();
    await setup?.close();
  });

  /** A write to `main` and one to `sales`, interleaved: resolves to the index of the last. */
  async function writeBoth(label: string): Promise<number> {
    const sales = createPlainClient({ nodes: cluster.running().map((node) => node.url), database });
    try {
      await writer.execute({ sql: 'INSERT INTO main_items (label) VALUES (?)', args: [`${mainMarker} ${label}`] });
      const written = await sales.execute({ sql: "INSERT INTO items (label, drawn, at) VALUES (?, random(), datetime('now'))", args: [label] });
      return written.raftIndex ?? 0;
    } finally {
      await sales.close();
    }
  }

  it('catches up from a copy of the database once the log is compacted: its rows, none of main', async () => {
    await writer.createDatabase(database);
    const sales = createPlainClient({ nodes: cluster.running().map((node) => node.url), database });
    try {
      await writer.execute('CREATE TABLE main_items (id INTEGER PRIMARY KEY, label TEXT)');
      await sales.execute('CREATE TABLE items (id INTEGER PRIMARY KEY, label TEXT, drawn INTEGER, at TEXT)');
    } finally {
      await sales.close();
    }
    for (let row = 0; row < initialRowCount; row += 1) await writeBoth(`row ${row}`);
    for (const node of cluster.running())
      await waitFor(`node ${node.spec.index} compacted its log`, () => setup.compacted(node).then((yes) => yes || undefined));
    const counting = countingTransport();
    const replica = setup.openReplica(counting.transport);
    assert.equal(await count(replica, 'items'), initialRowCount);
    assert.equal(counting.remoteReads(), 0, 'the first read was local');
    assert.ok(replica.replica.progress.copyCount >= 1, 'a full copy of the database was fetched');
    await assert.rejects(replica.query('SELECT * FROM main_items'), { code: 'SQL_ERROR' }, "main's table is not in the replica");
    // The replica moved to the node's index (a copy of another database marks its own last entry, below it).
    const state = await cluster.waitForConvergence();
    assert.ok(await replica.replica.waitForApplied(state.appliedIndex, 30_000), 'the replica reached the node');
    const reader = createPlainClient({ nodes: [cluster.node(1).url], database });
    const remote = await reader.query<{ drawn: string }>('SELECT group_concat(drawn) AS drawn, group_concat(at) AS at FROM items', { consistency: 'strong' });
    await reader.close();
    const local = await replica.query<{ drawn: string }>('SELECT group_concat(drawn) AS drawn, group_concat(at) AS at FROM items');
    assert.deepEqual(local.results[0]?.rows, remote.results[0]?.rows, 'random() and the time came out as on the node');
  });

  it('reads its own writes locally while writes to main interleave', async () => {
    const counting = countingTransport();
    await setup.client?.close();
    const replica = setup.openReplica(counting.transport);
    for (let row = 0; row < 10; row += 1) {
      await writer.execute({ sql: 'INSERT INTO main_items (label) VALUES (?)', args: [`${mainMarker} mine ${row}`] });
      const written = await replica.execute({ sql: 'INSERT INTO items (label) VALUES (?)', args: [`mine ${row}`] });
      const read = await replica.query<{ label: string }>('SELECT label FROM items ORDER BY id DESC LIMIT 1');
      assert.deepEqual(read.results[0]?.rows, [{ label: `mine ${row}` }], 'the read right after the write sees it');
      assert.ok(replica.replica.progress.appliedIndex >= (written.raftIndex ?? Infinity));
    }
    assert.equal(counting.remoteReads(), 0, 'no read went to a node');
    assert.equal(await count(replica, 'items'), initialRowCount + 10);
  });

  it('resumes from its file after close and reopen, without a copy', async () => {
    const before_ = setup.client;
    assert.ok(before_ !== undefined);
    const closedAt = before_.replica.progress.appliedIndex;
    await before_.close();
    setup.client = undefined;
    let lastIndex = 0;
    for (let row = 0; row < 3; row += 1) lastIndex = await writeBoth(`while closed ${row}`);
    const replica = setup.openReplica();
    assert.equal(replica.replica.progress.appliedIndex, closedAt, 'the file kept its applied index');
    assert.ok(await replica.replica.waitForApplied(lastIndex, 30_000));
    assert.equal(replica.replica.progress.copyCount, 0, 'the log still held what the replica missed');
    assert.equal(await count(replica, 'items'), initialRowCount + 13);
  });

  it("streams the database's entries unwrapped and no-ops for main's: not a byte of main's data", async () => {
    const from = (await cluster.waitForConvergence()).appliedIndex;
    const lastIndex = await writeBoth('streamed');
    const frames = await readFrames(`${cluster.node(1).url}/db/stream?from=${from}&db=${database}`, (seen) =>
      seen.some((frame) => frame.kind === 'entry' && frame.index >= lastIndex),
    );
    const entries = frames.filter((frame) => frame.kind === 'entry');
    assert.deepEqual(
      entries.map((frame) => frame.index),
      Array.from({ length: lastIndex - from }, (_, offset) => from + 1 + offset),
      'every index, in order',
    );
    const texts = entries.map((frame) => Buffer.from(frame.data).toString('latin1'));
    assert.ok(!texts.some((text) => text.includes(mainMarker)), "no entry carries main's data");
    assert.ok(
      texts.some((text) => text.includes('streamed')),
      "the database's write is there",
    );
    assert.equal(entries.filter((frame) => frame.data.length > 0).length, 1, "main's write went out as an empty entry");
    assert.equal(entries.at(-1)?.data[0], 0x51, 'the write is a plain command, out of its envelope');
  });

  it('applies a load of the database', async () => {
    const replica = setup.client ?? setup.openReplica();
    const loaded = await fetch(`${cluster.node(1).url}/db/load?db=${database}`, {
      method: 'POST',
      headers: { 'Content-Type': 'text/plain' },
      body: "DELETE FROM items; INSERT INTO items (label) VALUES ('loaded');",
    });
    assert.equal(loaded.status, 200, await loaded.text());
    const state = await cluster.waitForConvergence();
    assert.ok(await replica.replica.waitForApplied(state.appliedIndex, 30_000));
    const rows = await replica.query<{ label: string }>('SELECT label FROM items');
    assert.deepEqual(rows.results[0]?.rows, [{ label: 'loaded' }]);
    assert.equal(await count(writer, 'main_items'), initialRowCount + 14, 'main is untouched');
  });

  it('a drop of the database ends its stream with NOT_FOUND; a missing database is 404 on both endpoints', async () => {
    await setup.client?.close();
    setup.client = undefined;
    const from = (await cluster.waitForConvergence()).appliedIndex;
    const url = cluster.node(1).url;
    const frames = readFrames(`${url}/db/stream?from=${from}&db=${database}`, (seen) => seen.some((frame) => frame.kind === 'error'));
    const dropped = await writer.dropDatabase(database);
    const seen = await frames;
    const last = seen.at(-1);
    assert.equal(last?.kind, 'error');
    assert.equal(last.kind === 'error' ? last.code : '', 'NOT_FOUND');
    assert.match(last.kind === 'error' ? last.message : '', new RegExp(`"${database}" was dropped at index ${dropped.raftIndex}`));
    for (const path of [`/db/stream?from=${from}&db=${database}`, `/db/copy?db=${database}`]) {
      const response = await fetch(`${url}${path}`);
      assert.equal(response.status, 404, path);
      assert.match(await response.text(), /does not exist/);
    }
  });

  it('a database created again after a drop: the stream from before the drop ends with LOG_COMPACTED, the replica takes a copy of the new one', async () => {
    const from = (await cluster.waitForConvergence()).appliedIndex - 1;
    await writer.createDatabase(database);
    const sales = createPlainClient({ nodes: cluster.running().map((node) => node.url), database });
    let lastIndex = 0;
    try {
      await sales.execute('CREATE TABLE fresh (label TEXT)');
      lastIndex = (await sales.execute("INSERT INTO fresh (label) VALUES ('new')")).raftIndex ?? 0;
    } finally {
      await sales.close();
    }
    const frames = await readFrames(`${cluster.node(1).url}/db/stream?from=${from}&db=${database}`, (seen) => seen.some((frame) => frame.kind === 'error'));
    const last = frames.at(-1);
    assert.equal(last?.kind === 'error' ? last.code : last?.kind, 'LOG_COMPACTED');
    // The replica's file stopped before the drop: it holds the dropped database, and must start again from a copy.
    const replica = setup.openReplica();
    assert.ok(await replica.replica.waitForApplied(lastIndex, 30_000));
    assert.ok(replica.replica.progress.copyCount >= 1, 'a copy of the new database');
    const rows = await replica.query<{ label: string }>('SELECT label FROM fresh');
    assert.deepEqual(rows.results[0]?.rows, [{ label: 'new' }]);
    await assert.rejects(replica.query('SELECT * FROM items'), { code: 'SQL_ERROR' }, "the dropped database's table is gone");
  });
});
