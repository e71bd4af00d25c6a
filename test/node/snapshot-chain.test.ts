/**
 * Snapshots that cost what changed, on a real node: a WAL past -raft-snap-wal-size makes
 * one due; the first is a base, later ones are deltas folded into it, so the store holds
 * one copy of the database; a restart (clean or kill) continues the chain; and a
 * snapshot directory in the format written before deltas existed (one self-contained
 * file, meta.json without a format) is restored at start and roots the next deltas.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NodeLogger } from '../../src/node/logger.js';
import type { DurableStorage } from '../../src/storage/durable-storage.js';
import type { QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, statement } from './requests.js';
import { startTestNode, type StartedTestNode } from './start-node.js';

const directories: string[] = [];
const context = { signal: new AbortController().signal };

after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

/** A logger that keeps the `snapshot` events (what each snapshot was). */
function snapshotEvents(): { logger: NodeLogger; formats: string[] } {
  const formats: string[] = [];
  const note = (fields: Record<string, unknown>): void => {
    if (fields['event'] === 'snapshot') formats.push(String(fields['format']));
    if (fields['event'] === 'snapshot-failed' || fields['event'] === 'snapshot-fold-failed') formats.push(`failed: ${String(fields['error'])}`);
  };
  return { logger: { debug: () => undefined, info: note, warn: note, error: note }, formats };
}

const snapshotOptions: Partial<QuorumNodeOptions> = {
  snapshotThresholdEntries: 1_000_000,
  snapshotIntervalMs: 50,
  snapshotWalBytes: 128 * 1024,
  snapshotTrailingEntries: 8,
};

/** Writes 2 KB rows until the node has taken `count` more snapshots. */
async function writeUntilSnapshots(started: StartedTestNode, formats: string[], count: number): Promise<void> {
  const wanted = formats.length + count;
  for (let row = 0; row < 2_000 && formats.length < wanted; row++) {
    await started.node.service.execute(executeRequest([statement('INSERT INTO t(v) VALUES (?)', `${row}-${'x'.repeat(2_000)}`)]), context);
  }
  await waitFor(`${count} more snapshots`, () => (formats.length >= wanted ? true : undefined));
}

/** The snapshot directories in the store (a `tmp-` one is a write or removal in progress). */
function storeListing(dataDirectory: string): string[] {
  return readdirSync(join(dataDirectory, 'raft', 'snapshots')).filter((name) => name.startsWith('snapshot-'));
}

async function settledStore(started: StartedTestNode): Promise<{ format: string; index: number }[]> {
  return waitFor('the deltas folded into the root', () => {
    const list = (started.node.runtime.storage as DurableStorage).snapshots.list();
    const pending = list.some((info) => existsSync(`${info.dataPath}-wal`));
    // The store drops a folded snapshot from its list first, then removes its directory: wait for both.
    const removing = storeListing(started.dataDirectory).length > list.length;
    // A capture that started after the last write's snapshot works in `snapshot-<index>-<term>.tmp` files until it ends (CI failure).
    const capturing = readdirSync(started.dataDirectory).some((name) => /^snapshot-\d+-\d+\.(internal\.)?tmp/.test(name));
    return list.length === 1 && !pending && !removing && !capturing ? list.map((info) => ({ format: info.format, index: info.metadata.index })) : undefined;
  });
}

test('the WAL size makes snapshots due; deltas fold into one root; a restart continues the chain and removes what a dead capture left', async () => {
  const events = snapshotEvents();
  let started = await startTestNode('snapshot-chain', { ...snapshotOptions, logger: events.logger });
  directories.push(started.dataDirectory);
  try {
    await waitFor('leadership', () => (started.node.runtime.isLeader ? true : undefined));
    await started.node.service.execute(executeRequest([statement('CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)')]), context);
    await writeUntilSnapshots(started, events.formats, 3);
    assert.deepEqual(events.formats.slice(0, 3), ['base', 'delta', 'delta']);
    const [root] = await settledStore(started);
    assert.equal(root?.format, 'base');
    assert.equal(storeListing(started.dataDirectory).length, 1, 'one copy of the database in the store');
    assert.ok(started.node.runtime.stateMachine.walBytes() < 256 * 1024, 'the live WAL stays near -raft-snap-wal-size');
    const options = { ...snapshotOptions, logger: events.logger, raftListen: started.node.config.raftAdvertisedAddress };
    await started.node.stop({ transferLeadership: false });
    // What a capture or a transfer leaves when the process dies: removed at the next start.
    const leftovers = ['snapshot-123-45.tmp', 'snapshot-123-45.internal.tmp', 'snapshot-outgoing-9-2.db', 'snapshot-outgoing-9-2.db.partial'];
    for (const name of leftovers) writeFileSync(join(started.dataDirectory, name), 'left over');
    started = await startTestNode('snapshot-chain', { ...options, dataDirectory: started.dataDirectory, nodeId: started.node.config.nodeId });
    assert.deepEqual(
      leftovers.filter((name) => existsSync(join(started.dataDirectory, name))),
      [],
    );
    await waitFor('leadership again', () => (started.node.runtime.isLeader ? true : undefined));
    await writeUntilSnapshots(started, events.formats, 1);
    assert.equal(events.formats.at(-1), 'delta', 'a clean stop kept the WAL: the chain goes on');
    await settledStore(started);
    const leftBehind = readdirSync(started.dataDirectory).filter((name) => name.startsWith('snapshot-'));
    assert.deepEqual(leftBehind, [], 'no capture or materialised file is left behind');
  } finally {
    await started.node.stop({ transferLeadership: false });
  }
});

test('a snapshot stored in the format before deltas is restored at start and roots the next delta', async () => {
  const events = snapshotEvents();
  // A node whose raft log reaches index 10 and whose database fell behind it (it lost its database).
  let started = await startTestNode('snapshot-old-format', { snapshotThresholdEntries: 1_000_000, snapshotIntervalMs: 50, snapshotWalBytes: 0 });
  directories.push(started.dataDirectory);
  const { dataDirectory } = started;
  const nodeId = started.node.config.nodeId;
  const raftListen = started.node.config.raftAdvertisedAddress;
  await waitFor('leadership', () => (started.node.runtime.isLeader ? true : undefined));
  for (let index = started.node.runtime.stateMachine.appliedIndex; index < 12; index++) {
    await started.node.service.execute(executeRequest([statement('SELECT 1')]), context);
  }
  const term = started.node.runtime.storage.term(10);
  await started.node.stop({ transferLeadership: false });
  // The snapshot at 10 as the code before deltas wrote it: one self-contained file, meta.json without a format.
  const oldDirectory = join(dataDirectory, 'raft', 'snapshots', `snapshot-${'10'.padStart(20, '0')}-${String(term).padStart(20, '0')}`);
  mkdirSync(oldDirectory, { recursive: true });
  copyFileSync(new URL('../state-machine/fixtures/old-format-snapshot.db', import.meta.url).pathname, join(oldDirectory, 'data'));
  const meta = JSON.parse(readFileSync(new URL('../storage/fixtures/old-format-meta.json', import.meta.url), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(oldDirectory, 'meta.json'), JSON.stringify({ ...meta, term, confState: { voters: [nodeId], learners: [] }, context: {} }));
  for (const suffix of ['', '-wal', '-shm', '.internal', '.internal-wal', '.internal-shm']) rmSync(join(dataDirectory, `db.sqlite${suffix}`), { force: true });
  started = await startTestNode('snapshot-old-format', {
    ...snapshotOptions,
    snapshotThresholdEntries: 20,
    logger: events.logger,
    dataDirectory,
    nodeId,
    raftListen,
  });
  try {
    await waitFor('leadership again', () => (started.node.runtime.isLeader ? true : undefined));
    const rows = started.node.runtime.stateMachine.query([{ sql: 'SELECT count(*) FROM t', positional: [], named: {} }]);
    assert.deepEqual(rows, [{ kind: 'rows', columns: ['count(*)'], types: ['integer'], rows: [[8]] }], 'the old snapshot’s rows');
    assert.equal(started.node.runtime.storage.snapshots.latest()?.format, 'full');
    assert.equal(typeof started.node.runtime.storage.snapshots.latest()?.proof, 'string', 'restored byte for byte: the root of the next delta');
    for (let row = 0; row < 30; row++) await started.node.service.execute(executeRequest([statement('INSERT INTO t(v) VALUES (?)', `new ${row}`)]), context);
    await waitFor('a snapshot', () => (events.formats.length > 0 ? true : undefined));
    assert.equal(events.formats[0], 'delta');
  } finally {
    await started.node.stop({ transferLeadership: false });
  }
});

test('/status counts the WAL in the database size: past 64 MiB it leaves the content checksum out, whatever the file alone holds', async () => {
  const started = await startTestNode('snapshot-status-size', { snapshotThresholdEntries: 1_000_000, snapshotIntervalMs: 50, snapshotWalBytes: 0 });
  directories.push(started.dataDirectory);
  try {
    await waitFor('leadership', () => (started.node.runtime.isLeader ? true : undefined));
    const checksumOf = async (): Promise<unknown> =>
      ((await started.node.service.status({ key: '' })) as { store: { sqlite3: { checksum: unknown } } }).store.sqlite3.checksum;
    await started.node.service.execute(executeRequest([statement('CREATE TABLE big (b BLOB)')]), context);
    assert.equal(typeof (await checksumOf()), 'string', 'a small database has its checksum');
    const rows = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 70)';
    await started.node.service.execute(executeRequest([statement(`INSERT INTO big(b) ${rows} SELECT zeroblob(1000000) FROM c`)]), context);
    assert.ok(started.node.runtime.stateMachine.walBytes() > 64 * 1024 * 1024, 'the rows sit in the WAL');
    assert.equal(await checksumOf(), null);
  } finally {
    await started.node.stop({ transferLeadership: false });
  }
});
