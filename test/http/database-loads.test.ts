/**
 * `/db/load?db=NAME` and `/boot?db=NAME` (ours: several databases) on a real node in this
 * process: a SQLite file (larger than one log entry) or SQL text replaces database NAME
 * alone, through the log; the default database and the others are untouched; a database
 * that does not exist is 404, a bad name 400; a boot of NAME replaces it outside the log,
 * then a snapshot holds every database. And `?queue&db=NAME`: queued writes land in
 * their own database, batches never mixing two.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { waitFor } from '../cluster/harness.js';
import { startTestNode } from '../node/start-node.js';
import type { Json } from './harness.js';
import { writeDatabaseFile } from '../state-machine/database-file.js';

/** Small, so that a file of a few hundred kilobytes takes several log entries. */
const entryDataBytesMax = 128 * 1024;

let node: QuorumNode;
let base: string;
let directory: string;

before(async () => {
  const started = await startTestNode('database-loads', { entryDataBytesMax });
  ({ node, dataDirectory: directory, baseUrl: base } = started);
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
  for (const name of ['a', 'b']) assert.equal((await fetch(`${base}/db/create?db=${name}`, { method: 'POST' })).status, 200);
  await execute('main', ['CREATE TABLE t (v)', "INSERT INTO t VALUES ('main')"]);
  await execute('a', ['CREATE TABLE old (v)', "INSERT INTO old VALUES ('a')"]);
  await execute('b', ['CREATE TABLE u (v)', "INSERT INTO u VALUES ('b')"]);
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

async function execute(database: string, statements: unknown[]): Promise<void> {
  const response = await fetch(`${base}/db/execute?db=${database}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(statements),
  });
  assert.equal(response.status, 200, await response.text());
}

async function query(database: string, sql: string): Promise<unknown> {
  const response = await fetch(`${base}/db/query?db=${database}&level=strong&q=${encodeURIComponent(sql)}`);
  const body = (await response.json()) as Json;
  return body.results[0].values ?? body.results[0].error;
}

function tables(database: string): Promise<unknown> {
  return query(database, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name");
}

/** A SQLite file with a table `table` of `rowCount` rows of about 1 kB. */
function databaseFile(name: string, rowCount: number, table: string): Buffer {
  return writeDatabaseFile(join(directory, name), rowCount, table);
}

describe('loads and boots of one database', () => {
  it('/db/load?db=a with a SQLite file replaces a alone (main and b untouched)', async () => {
    const response = await fetch(`${base}/db/load?db=a`, { method: 'POST', body: databaseFile('a.db', 400, 'loaded') });
    assert.equal(response.status, 200, await response.clone().text());
    assert.deepEqual(await response.json(), { results: [] });
    assert.deepEqual(await tables('a'), [['loaded']]);
    assert.deepEqual(await query('a', 'SELECT count(*) FROM loaded'), [[400]]);
    assert.deepEqual(await query('main', 'SELECT v FROM t'), [['main']]);
    assert.deepEqual(await query('b', 'SELECT v FROM u'), [['b']]);
    assert.deepEqual(await tables('main'), [['t']]);
  });

  it('/db/load?db=b with SQL text runs it on a copy of b, which replaces b alone', async () => {
    const sql = "CREATE TABLE extra (v);\nINSERT INTO extra VALUES ('x');\nINSERT INTO u VALUES ('b2');\n";
    const response = await fetch(`${base}/db/load?db=b`, { method: 'POST', body: sql });
    const text = await response.text();
    assert.equal(response.status, 200, text);
    assert.doesNotMatch(text, /error/);
    assert.deepEqual(await tables('b'), [['extra'], ['u']]);
    assert.deepEqual(await query('b', 'SELECT v FROM u ORDER BY rowid'), [['b'], ['b2']]);
    assert.deepEqual(await tables('main'), [['t']]);
    assert.deepEqual(await tables('a'), [['loaded']]);
  });

  it('a load or boot of a database that does not exist is 404, of a bad name 400; db=main is the default one', async () => {
    const file = databaseFile('missing.db', 5, 'nowhere');
    for (const path of ['/db/load', '/boot']) {
      const missing = await fetch(`${base}${path}?db=nope`, { method: 'POST', body: file });
      assert.equal(missing.status, 404, path);
      assert.equal(await missing.text(), 'database "nope" does not exist\n');
      assert.equal((await fetch(`${base}${path}?db=-bad`, { method: 'POST', body: file })).status, 400, path);
    }
    assert.deepEqual(await tables('main'), [['t']]);
    const sql = await fetch(`${base}/db/load?db=main`, { method: 'POST', body: "INSERT INTO t VALUES ('via-main');" });
    assert.equal(sql.status, 200, await sql.text());
    assert.deepEqual(await query('main', 'SELECT count(*) FROM t'), [[2]]);
  });

  it('/boot?db=a replaces a outside the log on a one-node cluster; a snapshot holds every database', async () => {
    const booted = await fetch(`${base}/boot?db=a`, { method: 'POST', body: databaseFile('boot.db', 150, 'booted') });
    assert.equal(booted.status, 200, await booted.clone().text());
    assert.deepEqual(await tables('a'), [['booted']]);
    assert.deepEqual(await query('a', 'SELECT count(*) FROM booted'), [[150]]);
    assert.deepEqual(await tables('main'), [['t']]);
    assert.deepEqual(await tables('b'), [['extra'], ['u']]);
    const raft = ((await (await fetch(`${base}/status`)).json()) as Json).store.raft;
    assert.equal(raft.last_snapshot_index, raft.applied_index, 'the snapshot holds the booted file');
  });
});

describe('queued writes of one database', () => {
  it('?queue&db=a applies in a; writes queued to main and a in turn each land in their own; an unknown database is 404', async () => {
    await execute('a', ['CREATE TABLE q (v)']);
    const queue = async (database: string, value: string, wait: boolean): Promise<Response> =>
      fetch(`${base}/db/execute?db=${database}&queue${wait ? '&wait' : ''}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify([[`INSERT INTO ${database === 'a' ? 'q' : 't'} VALUES (?)`, value]]),
      });
    const answers = await Promise.all(Array.from({ length: 20 }, (_, position) => queue(position % 2 === 0 ? 'a' : 'main', `queued-${position}`, false)));
    for (const answer of answers) assert.equal(answer.status, 200, await answer.text());
    const last = await queue('a', 'queued-last', true);
    assert.equal(last.status, 200, await last.clone().text());
    // ?wait answered once its batch applied: what it wrote is there at once.
    assert.deepEqual(await query('a', "SELECT count(*) FROM q WHERE v = 'queued-last'"), [[1]]);
    await waitFor('every queued write applied', async () => {
      const values = (await query('main', "SELECT count(*) FROM t WHERE v LIKE 'queued-%'")) as number[][];
      return values[0]?.[0] === 10 ? true : undefined;
    });
    assert.deepEqual(await query('a', "SELECT count(*) FROM q WHERE v LIKE 'queued-%'"), [[11]]);
    assert.match(String(await query('main', 'SELECT count(*) FROM q')), /no such table: q/);
    const missing = await queue('nope', 'x', false);
    assert.equal(missing.status, 404);
    assert.equal(await missing.text(), 'database "nope" does not exist\n');
  });
});
