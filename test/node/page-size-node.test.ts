/**
 * serve --sqlite-page-size reaches the node's database; a restart with another value keeps
 * the file's own page size and its data.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { silentLogger } from '../../src/node/logger.js';
import { QuorumNode, type QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { freePort, waitFor } from '../cluster/harness.js';
import { executeRequest, queryRequest, statement } from './requests.js';

const context = { signal: new AbortController().signal };
const host = '127.0.0.1';
const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-page-size-'));
const nodes: QuorumNode[] = [];
after(async () => {
  for (const node of nodes) await node.stop({ transferLeadership: false }).catch(() => undefined);
  rmSync(dataDirectory, { recursive: true, force: true });
});

async function startNode(raft: string, httpPort: number, overrides: Partial<QuorumNodeOptions> = {}): Promise<QuorumNode> {
  const node = await QuorumNode.start({
    nodeId: raft,
    raftAdvertisedAddress: raft,
    apiAdvertisedAddress: `${host}:${httpPort}`,
    dataDirectory,
    httpListen: { host, port: httpPort },
    raftListen: raft,
    logger: silentLogger,
    version: 'test',
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    ...overrides,
  });
  nodes.push(node);
  return node;
}

function pageSizeOf(path: string): number {
  const database = new Database(path, { readonly: true });
  try {
    return database.pragma('page_size', { simple: true }) as number;
  } finally {
    database.close();
  }
}

test('a node started with sqlitePageSize 1024 creates its databases with it, and keeps them so when restarted without it', async () => {
  const raft = `${host}:${await freePort(host)}`;
  const httpPort = await freePort(host);
  const first = await startNode(raft, httpPort, { sqlitePageSize: 1024 });
  await waitFor('leadership', () => (first.runtime.isLeader ? true : undefined));
  await first.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);
  await first.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', 'kept')]), context);
  await first.stop({ transferLeadership: false });
  assert.equal(pageSizeOf(join(dataDirectory, 'db.sqlite')), 1024);

  const second = await startNode(raft, httpPort);
  await waitFor('leadership again', () => (second.runtime.isLeader ? true : undefined));
  const read = await second.service.query(queryRequest('SELECT v FROM t', { level: 'linearizable' }), context);
  assert.deepEqual(read.results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['kept']] }]);
  await second.stop({ transferLeadership: false });
  assert.equal(pageSizeOf(join(dataDirectory, 'db.sqlite')), 1024);
});
