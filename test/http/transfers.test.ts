/**
 * rqlite's /db/backup, /db/load, /boot, /snapshot and /reap on a real node in this
 * process (durable log, Raft, the SQLite state machine, the HTTP API): every backup
 * format, consistent at one index and holding nothing of quorumlite's; loads of SQLite
 * files (larger than one log entry: the node's entry bound is small here) and SQL dumps,
 * with each kind of bad input refused clearly and nothing stored changed; the body bound
 * at the limit and one byte over; writes that arrive during a load wait for it; boot;
 * snapshots and reaping.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import Database from 'better-sqlite3';
import type { QuorumNode } from '../../src/server/quorum-node.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { encodeLoadEntry } from '../../src/state-machine/load-entries.js';
import type { OpenLoad } from '../../src/state-machine/load-staging.js';
import type { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { sleep, waitFor } from '../cluster/harness.js';
import { startTestNode } from '../node/start-node.js';
import type { Json } from './harness.js';
import { writeDatabaseFile } from '../state-machine/database-file.js';

/** Small, so that a file of a few hundred kilobytes takes several log entries. */
const entryDataBytesMax = 128 * 1024;
const loadBodyBytesMax = 2 * 1024 * 1024;

let node: QuorumNode;
let base: string;
let directory: string;

before(async () => {
  const started = await startTestNode('transfers', { entryDataBytesMax, http: { loadBodyBytesMax } });
  ({ node, dataDirectory: directory, baseUrl: base } = started);
  await waitFor('leadership', () => (node.runtime.isLeader ? true : undefined));
});

after(async () => {
  await node?.stop();
  rmSync(directory, { recursive: true, force: true });
});

interface StoredSnapshotMeta {
  readonly index: number;
  readonly format: string;
}

/** The node's stored snapshots, newest first, as their meta.json files say. */
function storedSnapshots(): StoredSnapshotMeta[] {
  const root = join(directory, 'raft', 'snapshots');
  return readdirSync(root)
    .filter((name) => existsSync(join(root, name, 'meta.json')))
    .map((name) => JSON.parse(readFileSync(join(root, name, 'meta.json'), 'utf8')) as { index: number; format?: string })
    .map((meta) => ({ index: meta.index, format: meta.format ?? 'full' }))
    .sort((a, b) => b.index - a.index);
}

function openLoad(): OpenLoad | undefined {
  return (node.runtime.stateMachine as SqliteStateMachine).loads.openLoad;
}

async function execute(statements: unknown[]): Promise<Json> {
  const response = await fetch(`${base}/db/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(statements) });
  assert.equal(response.status, 200);
  return response.json();
}

async function query(sql: string): Promise<unknown[][]> {
  const response = await fetch(`${base}/db/query?level=strong&q=${encodeURIComponent(sql)}`);
  const body = (await response.json()) as Json;
  return body.results[0].values ?? [];
}

/** The user's schema and every row of every table, as text: what must not change after a refused load. */
async function contents(): Promise<string> {
  const response = await fetch(`${base}/db/backup?fmt=sql`);
  assert.equal(response.status, 200);
  return response.text();
}

async function load(body: Uint8Array | string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}/db/load`, { method: 'POST', headers, body });
}

/** A SQLite file with a table `loaded` of `rowCount` rows of about 1 kB. */
function databaseFile(name: string, rowCount: number, table = 'loaded'): Buffer {
  return writeDatabaseFile(join(directory, name), rowCount, table, { applicationId: 77 });
}

function openBackup(bytes: Buffer, name: string): Database.Database {
  const path = join(directory, name);
  writeFileSync(path, bytes);
  return new Database(path, { readonly: true });
}

describe('/db/backup', () => {
  before(async () => {
    await execute([
      'CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT)',
      'CREATE TABLE b (id INTEGER PRIMARY KEY, w BLOB)',
      "INSERT INTO a(v) VALUES ('one')",
      "INSERT INTO b(w) VALUES (x'00ff')",
    ]);
  });

  it('binary (WAL mode, rqlite default), delete, vacuum and compress: the user objects only, application_id 0, sound', async () => {
    const cases = [
      { query: '', journal: 2, compressed: false },
      { query: '?fmt=delete', journal: 1, compressed: false },
      { query: '?vacuum', journal: 2, compressed: false },
      { query: '?fmt=delete&vacuum&compress', journal: 1, compressed: true },
      { query: '?compress', journal: 2, compressed: true },
    ];
    for (const [position, testCase] of cases.entries()) {
      const response = await fetch(`${base}/db/backup${testCase.query}`);
      assert.equal(response.status, 200, testCase.query);
      assert.equal(response.headers.get('content-type'), 'application/octet-stream');
      const raw = Buffer.from(await response.arrayBuffer());
      const bytes = testCase.compressed ? gunzipSync(raw) : raw;
      if (!testCase.compressed) assert.equal(Number(response.headers.get('content-length')), bytes.length);
      assert.equal(bytes.subarray(0, 16).toString('latin1'), 'SQLite format 3\0');
      assert.deepEqual([bytes[18], bytes[19]], [testCase.journal, testCase.journal], testCase.query);
      assert.equal(bytes.readUInt32BE(68), 0, 'application_id 0');
      const copy = openBackup(bytes, `backup-${position}.db`);
      assert.equal(copy.pragma('quick_check', { simple: true }), 'ok');
      assert.deepEqual(copy.prepare('SELECT name FROM sqlite_master ORDER BY name').pluck().all(), ['a', 'b']);
      assert.deepEqual(copy.prepare('SELECT v FROM a').pluck().all(), ['one']);
      copy.close();
    }
  });

  it('fmt=sql is the dump, tables=… limits it, vacuum with it is refused as rqlite does', async () => {
    const response = await fetch(`${base}/db/backup?fmt=sql`);
    assert.equal(response.headers.get('content-type'), 'application/sql');
    const dump = await response.text();
    assert.match(dump, /^PRAGMA foreign_keys=OFF;\nBEGIN TRANSACTION;\nCREATE TABLE a /);
    assert.match(dump, /INSERT INTO "b" VALUES\(1,X'00FF'\);/);
    assert.match(dump, /COMMIT;\n$/);
    assert.doesNotMatch(dump, /_quorumlite_/i);
    const limited = await (await fetch(`${base}/db/backup?fmt=sql&tables=b`)).text();
    assert.match(limited, /CREATE TABLE b /);
    assert.doesNotMatch(limited, /CREATE TABLE a /);
    const refused = await fetch(`${base}/db/backup?fmt=sql&vacuum`);
    assert.equal(refused.status, 400);
    assert.equal(await refused.text(), 'invalid vacuum\n');
  });

  it('is one consistent copy while writes go on: two tables written in one transaction agree', async () => {
    await execute(['CREATE TABLE left_side (n)', 'CREATE TABLE right_side (n)']);
    let writing = true;
    const writer = (async () => {
      for (let n = 0; writing; n += 1) await execute([`INSERT INTO left_side VALUES (${n})`, `INSERT INTO right_side VALUES (${n})`]);
    })();
    try {
      for (let round = 0; round < 3; round += 1) {
        const bytes = Buffer.from(await (await fetch(`${base}/db/backup`)).arrayBuffer());
        const copy = openBackup(bytes, `consistent-${round}.db`);
        const counts = copy.prepare('SELECT (SELECT count(*) FROM left_side), (SELECT count(*) FROM right_side)').raw(true).get() as number[];
        copy.close();
        assert.equal(counts[0], counts[1]);
      }
    } finally {
      writing = false;
      await writer;
    }
  });
});

describe('/db/load', () => {
  it('a SQLite file larger than one log entry replaces the database, at one index, keeping no marker of its own', async () => {
    const file = databaseFile('load.db', 400);
    assert.ok(file.length > 3 * entryDataBytesMax, 'several chunks');
    const response = await load(file, { 'content-type': 'application/octet-stream' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { results: [] });
    assert.deepEqual(await query('SELECT count(*) FROM loaded'), [[400]]);
    assert.deepEqual(await query("SELECT name FROM sqlite_master WHERE type = 'table'"), [['loaded']]);
    const status = (await (await fetch(`${base}/status`)).json()) as Json;
    assert.equal(status.store.raft.applied_index, node.runtime.appliedIndex);
  });

  it('keeps exactly-once across it: a request retried after the load applies nothing', async () => {
    await execute(['CREATE TABLE keyed (id INTEGER PRIMARY KEY, payload BLOB)']);
    const keyed = (body: unknown[]) =>
      fetch(`${base}/db/execute`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': 'load-key-1' },
        body: JSON.stringify(body),
      });
    const first = await keyed(['INSERT INTO keyed (payload) VALUES (1)']);
    assert.equal(await first.text(), '{"results":[{"last_insert_id":1,"rows_affected":1}]}');
    assert.equal((await load(databaseFile('keyed.db', 1, 'keyed'))).status, 200);
    const retried = await keyed(['INSERT INTO keyed (payload) VALUES (1)']);
    assert.equal(await retried.text(), '{"results":[{"last_insert_id":1,"rows_affected":1}]}', 'the first answer, again');
    assert.deepEqual(await query('SELECT count(*) FROM keyed'), [[1]], 'the file row only: the retry was not applied again');
  });

  it("a SQL dump (sqlite3's and rqlite's framing) runs on top of the database; one result, as rqlite's", async () => {
    await execute(['CREATE TABLE earlier (v)', 'INSERT INTO earlier VALUES (1)']);
    const dump = [
      'PRAGMA foreign_keys=OFF;',
      'BEGIN TRANSACTION;',
      'CREATE TABLE foo (id INTEGER NOT NULL PRIMARY KEY, name TEXT);',
      "INSERT INTO foo VALUES(1,'fiona');",
      "INSERT INTO foo VALUES(2,'sinead');",
      'CREATE INDEX foo_name ON foo(name);',
      'COMMIT;',
      'PRAGMA foreign_keys=OFF;',
    ].join('\n');
    const response = await load(dump, { 'content-type': 'text/plain' });
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { results: [{ last_insert_id: 2, rows_affected: 1 }] });
    assert.deepEqual(await query('SELECT name FROM foo ORDER BY id'), [['fiona'], ['sinead']]);
    assert.deepEqual(await query('SELECT v FROM earlier'), [[1]], 'the load ran on top of what was there');
  });

  it('refuses, each clearly and changing nothing: a failing dump, a damaged, truncated or header-only file, binary garbage, an empty body', async () => {
    const before = await contents();
    const failing = await load('CREATE TABLE fresh (v);\nINSERT INTO nowhere VALUES (1);\n');
    assert.equal(failing.status, 200);
    assert.deepEqual(await failing.json(), {
      results: [{ error: 'no such table: nowhere', error_v2: { message: 'no such table: nowhere', sqlite: { code: 1, extended_code: 1 } } }],
    });
    const file = databaseFile('bad.db', 300);
    const damaged = Buffer.concat([file.subarray(0, 40_000), Buffer.alloc(8192, 0x41), file.subarray(48_192)]);
    const refusals: [string, Uint8Array | string, RegExp][] = [
      ['damaged', damaged, /^invalid SQLite data: the database file is damaged/],
      ['truncated', file.subarray(0, 150_000), /^invalid SQLite data: /],
      ['header only', file.subarray(0, 100), /^invalid SQLite data: /],
      ['shorter than a header', file.subarray(0, 40), /^invalid SQLite data: the file is shorter than a SQLite header/],
      ['binary garbage', Buffer.from([0xff, 0xfe, 0xfd, 0x00, 0x80, 0x81]), /^the body is neither a SQLite database file nor UTF-8 SQL text/],
      ['empty', '', /^no statements/],
    ];
    for (const [what, body, message] of refusals) {
      const response = await load(body);
      assert.equal(response.status, 400, what);
      assert.match(await response.text(), message, what);
    }
    assert.equal(await contents(), before, 'nothing stored changed');
    assert.equal(openLoad(), undefined, 'no load left staged');
  });

  it('refuses a file or dump whose trigger, view or table would answer differently on each node (load and boot), changing nothing', async () => {
    const before = await contents();
    // Each object reads a value of this node's own: its file's path, or its connection's counter.
    const objects = [
      [
        'trigger',
        '"paths"',
        'CREATE TABLE sources (v); CREATE TABLE files (p); ' +
          'CREATE TRIGGER paths AFTER INSERT ON sources BEGIN INSERT INTO files SELECT file FROM pragma_database_list; END;',
      ],
      ['view', '"counter"', 'CREATE VIEW counter AS SELECT total_changes() AS n;'],
      ['view', '"pages"', 'CREATE VIEW pages AS SELECT pageno FROM "dbstat";'],
      ['table', '"stamped"', 'CREATE TABLE stamped (v, n DEFAULT (total_changes()));'],
    ];
    for (const [type, name, sql] of objects) {
      const path = join(directory, `per-node-${type}.db`);
      rmSync(path, { force: true });
      const file = new Database(path);
      file.exec(sql as string);
      file.close();
      const message = new RegExp(`^invalid SQLite data: the database's ${type} ${name} would apply writes differently on each node: `);
      for (const [what, response] of [
        ['load', await load(readFileSync(path))],
        ['dump', await load(`${sql}\n`, { 'content-type': 'text/plain' })],
        ['boot', await fetch(`${base}/boot`, { method: 'POST', body: readFileSync(path) })],
      ] as const) {
        assert.equal(response.status, 400, `${what} of a ${type}`);
        assert.match(await response.text(), message, `${what} of a ${type}`);
      }
    }
    assert.equal(await contents(), before, 'nothing stored changed');
    assert.equal(openLoad(), undefined, 'no load left staged');
    // What reads the same on every node loads: a pragma that reports the schema, random() (seeded per entry), RAISE(ROLLBACK).
    const path = join(directory, 'same-everywhere.db');
    const file = new Database(path);
    file.exec(`CREATE TABLE kept (v, r DEFAULT (random()));
      CREATE VIEW columns AS SELECT name FROM pragma_table_info('kept');
      CREATE TRIGGER guard BEFORE INSERT ON kept WHEN NEW.v IS NULL BEGIN SELECT RAISE(ROLLBACK, 'v is required'); END;`);
    file.close();
    const loaded = await load(readFileSync(path));
    assert.equal(loaded.status, 200, await loaded.clone().text());
    assert.deepEqual(await query('SELECT name FROM columns'), [['v'], ['r']]);
  });

  it('takes a body of exactly loadBodyBytesMax bytes; one byte more is 413, declared or streamed, and changes nothing', async () => {
    const statementText = "INSERT INTO bound VALUES ('x');\n";
    const padded = (bytes: number) => `CREATE TABLE IF NOT EXISTS bound (v);\n${statementText}`.padEnd(bytes, ' ');
    const atBound = await load(padded(loadBodyBytesMax));
    assert.equal(atBound.status, 200, await atBound.clone().text());
    const before = await contents();
    const over = await load(padded(loadBodyBytesMax + 1));
    assert.equal(over.status, 413);
    assert.equal(await over.text(), `request body too large: the maximum is ${loadBodyBytesMax} bytes\n`);
    const text = padded(loadBodyBytesMax + 1);
    const streamed = await fetch(`${base}/db/load`, {
      method: 'POST',
      body: new ReadableStream({
        start(controller) {
          for (let offset = 0; offset < text.length; offset += 64 * 1024) controller.enqueue(new TextEncoder().encode(text.slice(offset, offset + 64 * 1024)));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    assert.equal(streamed.status, 413);
    assert.equal(await contents(), before);
  });

  it('holds other writes back while it runs: a write sent meanwhile applies after it, on the loaded database', async () => {
    const file = databaseFile('gate.db', 300, 'gated');
    let releaseRest: () => void = () => undefined;
    const restSent = new Promise<void>((resolve) => (releaseRest = resolve));
    const half = Math.floor(file.length / 2);
    const loading = fetch(`${base}/db/load`, {
      method: 'POST',
      body: new ReadableStream({
        async start(controller) {
          controller.enqueue(file.subarray(0, half));
          await restSent;
          controller.enqueue(file.subarray(half));
          controller.close();
        },
      }),
      duplex: 'half',
    } as RequestInit);
    await waitFor('the load to begin', () => (openLoad() !== undefined ? true : undefined));
    let written = false;
    const write = execute(['INSERT INTO gated (payload) VALUES (NULL)']).then((body) => {
      written = true;
      return body;
    });
    await sleep(300);
    assert.equal(written, false, 'the write waits for the load');
    releaseRest();
    assert.equal((await loading).status, 200);
    await write;
    assert.deepEqual(await query('SELECT count(*) FROM gated'), [[301]], 'applied after the load, on the loaded table');
  });
});

describe('/snapshot, /reap and /boot', () => {
  it('/snapshot takes one (200), then has nothing new (204); trailing_logs must be a count; /reap drops the older snapshots', async () => {
    await execute(['CREATE TABLE IF NOT EXISTS snapshotted (v)', 'INSERT INTO snapshotted VALUES (1)']);
    assert.equal((await fetch(`${base}/snapshot`, { method: 'POST' })).status, 200);
    assert.equal((await fetch(`${base}/snapshot?trailing_logs=5`, { method: 'POST' })).status, 204);
    const bad = await fetch(`${base}/snapshot?trailing_logs=soon`, { method: 'POST' });
    assert.equal(bad.status, 400);
    await execute(['INSERT INTO snapshotted VALUES (2)']);
    assert.equal((await fetch(`${base}/snapshot?trailing_logs=0`, { method: 'POST' })).status, 200);
    const status = (await (await fetch(`${base}/status`)).json()) as Json;
    assert.equal(status.store.raft.first_log_index, status.store.raft.last_snapshot_index + 1, 'trailing_logs=0 leaves no entry behind the snapshot');
    await execute(['INSERT INTO snapshotted VALUES (3)']);
    assert.equal((await fetch(`${base}/snapshot`, { method: 'POST' })).status, 200);
    const before = storedSnapshots();
    assert.ok(before.length >= 2, `older snapshots to reap: ${JSON.stringify(before)}`);
    const newest = before[0] as StoredSnapshotMeta;
    const reap = await fetch(`${base}/reap`, { method: 'POST' });
    assert.equal(reap.status, 200);
    const reaped = (await reap.json()) as { snapshots_reaped: number; wals_checkpointed: number };
    assert.deepEqual(Object.keys(reaped), ['snapshots_reaped', 'wals_checkpointed']);
    // The newest survives, folded into one self-contained base (a delta's chain would need the ones reaped).
    const after = storedSnapshots();
    assert.equal(after.length, 1, JSON.stringify(after));
    assert.equal(after[0]?.index, newest.index);
    assert.notEqual(after[0]?.format, 'delta');
    // Each older snapshot went, reaped or folded into the next; a background fold (one runs after each snapshot) may have folded some first.
    assert.ok(reaped.snapshots_reaped + reaped.wals_checkpointed <= before.length - 1, JSON.stringify({ reaped, before }));
    assert.ok(reaped.wals_checkpointed <= before.filter((meta) => meta.format === 'delta').length, JSON.stringify({ reaped, before }));
    assert.equal(await (await fetch(`${base}/reap`, { method: 'POST' })).text(), '{"snapshots_reaped":0,"wals_checkpointed":0}');
  });

  it('/snapshot answers 503 when readers keep the capture from checkpointing (BUSY: tried again later), 500 for any other failure', async () => {
    const runtime = node.runtime as { snapshotNow(trailingEntries: number): Promise<boolean> };
    const real = runtime.snapshotNow;
    try {
      // Readers holding an old WAL snapshot are a condition of the environment: injected here.
      runtime.snapshotNow = () => Promise.reject(new StateMachineError('BUSY', 'readers kept the WAL from a complete checkpoint'));
      const busy = await fetch(`${base}/snapshot`, { method: 'POST' });
      assert.equal(busy.status, 503);
      assert.equal(await busy.text(), 'readers kept the WAL from a complete checkpoint\n');
      runtime.snapshotNow = () => Promise.reject(new StateMachineError('BAD_SNAPSHOT', 'disk on fire'));
      assert.equal((await fetch(`${base}/snapshot`, { method: 'POST' })).status, 500);
    } finally {
      runtime.snapshotNow = real;
    }
  });

  it('/snapshot is refused while a load is staged (no snapshot may fall inside one)', async () => {
    const loadId = 'ef'.repeat(16);
    const file = databaseFile('staged.db', 10);
    await node.runtime.propose(encodeLoadEntry({ kind: 'chunk', loadId, offset: 0, data: file.subarray(0, 4096) }), 5000);
    const refused = await fetch(`${base}/snapshot`, { method: 'POST' });
    assert.equal(refused.status, 503);
    assert.equal(await refused.text(), 'load in progress\n');
    await node.runtime.propose(encodeLoadEntry({ kind: 'abort', loadId }), 5000);
    assert.equal(openLoad(), undefined);
  });

  it("/boot replaces the one-node cluster's database outside the log, then a snapshot holds it; bad files are refused", async () => {
    const before = await contents();
    for (const body of [Buffer.from('not a database at all'), databaseFile('boot-bad.db', 100).subarray(0, 20_000)]) {
      const refused = await fetch(`${base}/boot`, { method: 'POST', body });
      assert.equal(refused.status, 400);
      assert.match(await refused.text(), /^invalid SQLite data/);
    }
    assert.equal(await contents(), before);
    const booted = await fetch(`${base}/boot`, { method: 'POST', body: databaseFile('boot.db', 200, 'booted') });
    assert.equal(booted.status, 200);
    assert.equal(await booted.text(), '');
    assert.deepEqual(await query('SELECT count(*) FROM booted'), [[200]]);
    const raft = ((await (await fetch(`${base}/status`)).json()) as Json).store.raft;
    assert.equal(raft.last_snapshot_index, raft.applied_index, 'the snapshot holds the booted file');
    assert.equal(raft.first_log_index, raft.applied_index + 1, 'and no entry before it remains');
  });
});
