/**
 * serve --sqlite-page-size reaches the node's database; a restart with another value keeps
 * the file's own page size and its data.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { pageSizeOf } from '../state-machine/database-file.js';
import { executeRequest, queryRequest, statement } from './requests.js';
import { allocateTestNodeAddress, startNodeAt } from './start-node.js';

const context = { signal: new AbortController().signal };
const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-page-size-'));
const nodes: QuorumNode[] = [];
after(async () => {
  for (const node of nodes) await node.stop({ transferLeadership: false }).catch(() => undefined);
  rmSync(dataDirectory, { recursive: true, force: true });
});

test('a node started with sqlitePageSize 1024 creates its databases with it, and keeps them so when restarted without it', async () => {
  const address = await allocateTestNodeAddress();
  const first = await startNodeAt(address, dataDirectory, { sqlitePageSize: 1024 });
  nodes.push(first);
  await waitFor('leadership', () => (first.runtime.isLeader ? true : undefined));
  await first.service.execute(executeRequest([statement('CREATE TABLE t (v TEXT)')]), context);
  await first.service.execute(executeRequest([statement('INSERT INTO t VALUES (?)', 'kept')]), context);
  await first.stop({ transferLeadership: false });
  assert.equal(pageSizeOf(join(dataDirectory, 'db.sqlite')), 1024);

  const second = await startNodeAt(address, dataDirectory);
  nodes.push(second);
  await waitFor('leadership again', () => (second.runtime.isLeader ? true : undefined));
  const read = await second.service.query(queryRequest('SELECT v FROM t', { level: 'linearizable' }), context);
  assert.deepEqual(read.results, [{ kind: 'rows', columns: ['v'], types: ['text'], rows: [['kept']] }]);
  await second.stop({ transferLeadership: false });
  assert.equal(pageSizeOf(join(dataDirectory, 'db.sqlite')), 1024);
});
