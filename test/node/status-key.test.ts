/**
 * `/status?key=…` computes only what it shows. The content checksum reads every row of
 * every table on the event loop; a client's hung-leader check asks `?key=store.leader`
 * every 100 ms, and with 60,000 rows each such call cost a follower 600-850 ms of blocked
 * event loop (found in the hung-leader benchmark: the client named the new leader late,
 * and the followers it asked were slow to vote).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checksumDatabaseBytesMax, contentChecksum, type StatusDatabase } from '../../src/node/status.js';
import { statusKeyShows } from '../../src/service/service.js';
import { waitFor } from '../cluster/harness.js';
import { executeRequest, statement } from './requests.js';
import { startTestNode } from './start-node.js';

const directories: string[] = [];
const context = { signal: new AbortController().signal };
after(() => {
  for (const directory of directories) rmSync(directory, { recursive: true, force: true });
});

test('statusKeyShows: a key shows a value when it agrees with its path on every step both have', () => {
  const path = ['store', 'sqlite3', 'checksum'];
  for (const key of ['', 'store', 'store.sqlite3', 'store.sqlite3.checksum', 'store.sqlite3.checksum.more']) assert.equal(statusKeyShows(key, path), true, key);
  for (const key of ['store.leader', 'store.raft.state', 'http', 'store.sqlite3.path', 'stor', 'store.sqlite'])
    assert.equal(statusKeyShows(key, path), false, key);
});

test('/status reads every row for the content checksum only when the key shows it', async () => {
  const started = await startTestNode('status-key');
  directories.push(started.dataDirectory);
  try {
    await waitFor('leadership', () => (started.node.runtime.isLeader ? true : undefined));
    const machine = started.node.runtime.stateMachine;
    const original = machine.checksumOffThread.bind(machine);
    let checksumCount = 0;
    machine.checksumOffThread = () => {
      checksumCount += 1;
      return original();
    };
    let rowCount = 0;
    const write = async (): Promise<void> => {
      if (rowCount === 0) await started.node.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);
      rowCount += 1;
      await started.node.service.execute(executeRequest([statement('INSERT INTO t(v) VALUES (?)', `row ${rowCount}`)]), context);
    };
    await write();
    const leader = (await started.node.service.status({ key: 'store.leader' })) as { store: { leader: { node_id: string } } };
    assert.notEqual(leader.store.leader.node_id, '', 'the leader is named');
    await started.node.service.status({ key: 'store.raft' });
    assert.equal(checksumCount, 0, 'store.leader and store.raft do not show the checksum');
    const whole = (await started.node.service.status({ key: '' })) as { store: { sqlite3: { checksum: unknown } } };
    assert.equal(typeof whole.store.sqlite3.checksum, 'string');
    assert.equal(checksumCount, 1);
    await write();
    await started.node.service.status({ key: 'store.sqlite3' });
    assert.equal(checksumCount, 2, 'store.sqlite3 shows it');
  } finally {
    await started.node.stop({ transferLeadership: false });
  }
});

test('/status reads the content checksum off the event loop, and it equals the one read in place', async () => {
  const started = await startTestNode('status-checksum-thread');
  directories.push(started.dataDirectory);
  try {
    await waitFor('leadership', () => (started.node.runtime.isLeader ? true : undefined));
    await started.node.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT, n INTEGER, b BLOB)')]), context);
    const rows = 'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 20000)';
    await started.node.service.execute(executeRequest([statement(`INSERT INTO t(v, n, b) ${rows} SELECT 'row ' || x, x * 3, randomblob(16) FROM c`)]), context);
    let turnCount = 0;
    const ticker = setInterval(() => {
      turnCount += 1;
    }, 1);
    const status = (await started.node.service.status({ key: 'store.sqlite3.checksum' })) as { store: { sqlite3: { checksum: unknown } } };
    clearInterval(ticker);
    const machine = started.node.runtime.stateMachine;
    assert.equal(status.store.sqlite3.checksum, machine.checksum().checksum);
    const offThread = await machine.checksumOffThread();
    assert.deepEqual(offThread, machine.checksum(), 'the same checksum at the same applied index');
    assert.ok(turnCount >= 2, `the event loop kept turning while 20,000 rows were read (${turnCount} timer turns)`);
  } finally {
    await started.node.stop({ transferLeadership: false });
  }
});

test('/status shows the content checksum of a database and WAL of checksumDatabaseBytesMax bytes, and leaves it out one byte above, unread', async () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-status-bound-'));
  directories.push(directory);
  const path = join(directory, 'db.sqlite');
  let readCount = 0;
  let appliedIndex = 1;
  const database: StatusDatabase = {
    path,
    get appliedIndex() {
      return appliedIndex;
    },
    sqliteVersion: '3',
    checksumOffThread: async () => {
      readCount += 1;
      return { checksum: `checksum ${readCount}` };
    },
    pragmas: () => ({ rw: {}, ro: {} }),
  };
  // Sparse files: the bound counts the file and its WAL together, by their sizes.
  const walBytes = 4 * 1024 * 1024;
  writeFileSync(path, '');
  writeFileSync(`${path}-wal`, '');
  truncateSync(`${path}-wal`, walBytes);
  truncateSync(path, checksumDatabaseBytesMax - walBytes);
  assert.equal(await contentChecksum(database), 'checksum 1');
  appliedIndex = 2;
  truncateSync(path, checksumDatabaseBytesMax - walBytes + 1);
  assert.equal(await contentChecksum(database), null);
  assert.equal(readCount, 1, 'above the bound no row is read');
});
