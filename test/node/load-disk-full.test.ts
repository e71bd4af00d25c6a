/**
 * A load (`POST /db/load`, a SQLite file of about 2 MiB) on a node whose disk is full:
 * the answer is 503 within the request's `timeout` (the node halts at that step and
 * retries, decision 2), never a claim that the file is invalid, and the rows already
 * stored stay readable. Two cases: a disk with no space at all (the log cannot take the
 * load's entries) and one with 3 MiB left (the log takes them, building the database
 * from them cannot). Once space is freed the node resumes by itself and the same load
 * sent again succeeds.
 */
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import { waitFor } from '../cluster/harness.js';
import { fillDisk, mountSmallDisk } from '../small-disk.js';
import { startTestNode } from './start-node.js';

const disk = mountSmallDisk('load-disk-full', 48 * 1024 * 1024);
after(() => disk.remove());

const loadedRowCount = 2000;

/** A SQLite file of about 2 MiB with one table: large enough that staging it needs space. */
function sqliteFile(path: string): Buffer {
  const database = new Database(path);
  database.exec('CREATE TABLE loaded (id INTEGER PRIMARY KEY, v TEXT)');
  const insert = database.prepare('INSERT INTO loaded (v) VALUES (?)');
  database.transaction(() => {
    for (let row = 0; row < loadedRowCount; row += 1) insert.run('x'.repeat(1000));
  })();
  database.close();
  const bytes = readFileSync(path);
  rmSync(path);
  return bytes;
}

async function loadOnFullDisk(name: string, leaveBytes: number): Promise<void> {
  assert.equal(disk.skipReason, undefined, `this test needs a tmpfs: ${disk.skipReason}`);
  const file = sqliteFile(join(disk.path, `${name}.sqlite`));
  const { node, baseUrl } = await startTestNode('load-disk-full', { dataDirectory: join(disk.path, name) });
  const post = async (path: string, body: string | Buffer, type: string) => {
    const response = await fetch(`${baseUrl}${path}`, { method: 'POST', body, headers: { 'content-type': type }, signal: AbortSignal.timeout(60_000) });
    return { status: response.status, text: await response.text() };
  };
  const query = async (sql: string) => {
    const response = await fetch(`${baseUrl}/db/query?level=none&q=${encodeURIComponent(sql)}`, { signal: AbortSignal.timeout(60_000) });
    return (await response.json()) as { results: { values?: unknown[][]; error?: string }[] };
  };
  let filler: string | undefined;
  try {
    await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
    const created = await post(
      '/db/execute',
      JSON.stringify(['CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)', "INSERT INTO t (v) VALUES ('kept')"]),
      'application/json',
    );
    assert.equal(created.status, 200, created.text);
    filler = fillDisk(disk.path, leaveBytes);

    const loaded = await post('/db/load?timeout=2s', file, 'application/octet-stream');
    assert.equal(loaded.status, 503, loaded.text);
    assert.doesNotMatch(loaded.text, /invalid|not a (valid )?SQLite/i);
    assert.deepEqual((await query('SELECT v FROM t')).results[0]?.values, [['kept']], 'stored rows stay readable while halted');
    const halted = await post('/db/execute?timeout=1s', JSON.stringify(["INSERT INTO t (v) VALUES ('while halted')"]), 'application/json');
    assert.equal(halted.status, 503, halted.text);

    rmSync(filler);
    filler = undefined;
    // The node retries its halted step with a backoff: until then a load is refused as before (503, halted).
    await waitFor('the load sent again succeeds', async () => {
      const retried = await post('/db/load?timeout=10s', file, 'application/octet-stream');
      if (retried.status === 200) return true;
      assert.equal(retried.status, 503, retried.text);
      return undefined;
    });
    assert.deepEqual((await query('SELECT COUNT(*) FROM loaded')).results[0]?.values, [[loadedRowCount]]);
    const after = await post('/db/execute', JSON.stringify(["INSERT INTO loaded (v) VALUES ('after')"]), 'application/json');
    assert.equal(after.status, 200, after.text);
  } finally {
    if (filler !== undefined) rmSync(filler, { force: true });
    await node.stop();
    rmSync(join(disk.path, name), { recursive: true, force: true });
  }
}

describe('POST /db/load on a full disk', () => {
  it('answers 503 when the log cannot take the load, and the same load succeeds once space is freed', () => loadOnFullDisk('no-space', 0));
  it('answers 503 when the database cannot be built from the load, and the same load succeeds once space is freed', () =>
    loadOnFullDisk('some-space', 3 * 1024 * 1024));
});
