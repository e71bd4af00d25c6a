/**
 * Decision 2 end to end: with the data directory on a full disk, a write cannot be
 * persisted; the node halts where it is (reported by readiness), retries the same step,
 * and once space returns the write completes and nothing was skipped or lost — also
 * after a restart. A new write meanwhile is refused with HALTED. Needs root for a
 * size-limited tmpfs; skips with a printed reason otherwise.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ServiceError } from '../../src/service/service.js';
import { QuorumNode } from '../../src/server/quorum-node.js';
import { silentLogger } from '../../src/node/logger.js';
import { freePort, waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { fillDisk, mountSmallDisk } from '../small-disk.js';

/** Room for the node's files (log segment, database, WAL); the filler takes the rest. */
const disk = mountSmallDisk('disk-full', 48 * 1024 * 1024);
const mountPoint = disk.path;
const context = { signal: new AbortController().signal };

after(() => disk.remove());

const write = (value: string) => executeRequest([statement('INSERT INTO t(v) VALUES (?)', value)], { timeoutMs: 120_000 });
const read = () => queryRequest('SELECT v FROM t ORDER BY id', { level: 'linearizable' });

async function start(dataDirectory: string, address: { raft: string; http: { host: string; port: number } }): Promise<QuorumNode> {
  return QuorumNode.start({
    nodeId: address.raft,
    raftAdvertisedAddress: address.raft,
    apiAdvertisedAddress: `${address.http.host}:${address.http.port}`,
    dataDirectory,
    httpListen: address.http,
    raftListen: address.raft,
    logger: silentLogger,
    version: 'test',
    haltRetryIntervalMs: 50,
  });
}

test('a full disk halts the node at the same step; freeing space resumes it with nothing lost', async (t) => {
  if (disk.skipped(t)) return;
  const dataDirectory = join(mountPoint, 'node');
  const address = { raft: `127.0.0.1:${await freePort('127.0.0.1')}`, http: { host: '127.0.0.1', port: await freePort('127.0.0.1') } };
  let node = await start(dataDirectory, address);
  try {
    await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
    await node.service.execute({ ...write('x'), statements: [{ sql: 'CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', positional: [], named: {} }] }, context);
    await node.service.execute(write('before'), context);

    const filler = fillDisk(mountPoint);
    const pending = node.service.execute(write('during'), context);
    await waitFor('the node reports itself halted', async () => {
      const checks = await node.service.readiness({ sync: false, timeoutMs: 1000 });
      return checks.some((check) => check.name === 'store' && !check.ok && /halted/.test(check.message)) ? true : undefined;
    });
    // Whichever refused first (the log's save or SQLite), the refusal says the node halted and why.
    await assert.rejects(
      node.service.execute(write('refused'), context),
      (error: unknown) => error instanceof ServiceError && error.code === 'HALTED' && /^node halted: .*full/i.test(error.message),
    );
    rmSync(filler);
    const written = await pending;
    assert.deepEqual(written.results, [{ kind: 'write', lastInsertId: 2, rowsAffected: 1 }]);
    const checks = await node.service.readiness({ sync: false, timeoutMs: 1000 });
    assert.ok(
      checks.every((check) => check.ok),
      JSON.stringify(checks),
    );
    await node.service.execute(write('after'), context);

    await node.stop();
    node = await start(dataDirectory, address);
    await waitFor('leadership after restart', () => (node.runtime.isLeader ? true : undefined));
    const rows = await node.service.query(read(), context);
    assert.deepEqual(rows.results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['before'], ['during'], ['after']] }]);
  } finally {
    await node.stop({ transferLeadership: false });
  }
});
