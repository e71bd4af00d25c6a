/**
 * Backup and load throughput: a SQLite file of about BENCH_TRANSFER_MB megabytes (200 by
 * default) through quorumlite's /db/load, /boot and /db/backup, on a one-node and a
 * three-node cluster (real processes, built CLI), next to the sqlite3 shell's `.backup`
 * and `.restore` of the same file in the same run (the floor: one local page copy, no
 * log, no replicas, no network). MB/s is the file's size over the wall time of the call.
 *
 *   npm run build && npm run bench:transfers     (BENCH_TRANSFER_MB=200, BENCH_SQL_MB=0 to skip the dump row,
 *                                                BENCH_NODE_FLAGS="--election-timeout-ms 2000 --heartbeat-ms 200")
 */
import { spawnSync } from 'node:child_process';
import { closeSync, createReadStream, createWriteStream, mkdtempSync, openSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import Database from 'better-sqlite3';
import { request } from 'undici';
import { TestCluster, type TestNode } from '../test/cluster/harness.js';

const targetMegabytes = Number(process.env.BENCH_TRANSFER_MB ?? 200);
/**
 * Timing of the nodes: throughput is measured here, not failover, and a two-core machine
 * shared with other work can stall a node long enough for a default election timeout.
 */
const nodeFlags = (process.env.BENCH_NODE_FLAGS ?? '--election-timeout-ms 2000 --heartbeat-ms 200').split(' ').filter((flag) => flag !== '');
const sqlMegabytes = Number(process.env.BENCH_SQL_MB ?? 20);
const mebibyte = 1024 * 1024;
const callTimeoutMs = 30 * 60_000;

interface Row {
  readonly name: string;
  readonly bytes: number;
  readonly seconds: number;
  readonly note: string;
}

/** A file of about `megabytes`: a table of 1 kB blobs with an indexed text column, as a user's might be. */
function makeDatabase(path: string, megabytes: number, table = 'items'): number {
  const database = new Database(path);
  database.exec(`CREATE TABLE ${table} (id INTEGER PRIMARY KEY, name TEXT, score REAL, payload BLOB)`);
  database.exec(`CREATE INDEX ${table}_name ON ${table}(name)`);
  const insert = database.prepare(`INSERT INTO ${table} (name, score, payload) VALUES (?, ?, randomblob(1000))`);
  for (let batch = 0; statSync(path).size < megabytes * mebibyte; batch += 1) {
    database.transaction(() => {
      for (let row = 0; row < 10_000; row += 1) insert.run(`name-${batch}-${row}`, row / 3);
    })();
  }
  database.close();
  return statSync(path).size;
}

const nameWidth = 44;

/** Prints a row as soon as it is measured (a failure later keeps what was measured). */
function printRow(row: Row): void {
  const megabytes = row.bytes / mebibyte;
  const rate = (megabytes / row.seconds).toFixed(1);
  console.log(`${row.name.padEnd(nameWidth)}  ${megabytes.toFixed(0).padStart(6)}  ${row.seconds.toFixed(2).padStart(8)}  ${rate.padStart(7)}  ${row.note}`);
}

async function timed(name: string, bytes: number, note: string, work: () => Promise<void> | void): Promise<Row> {
  const started = performance.now();
  await work();
  const row = { name, bytes, seconds: (performance.now() - started) / 1000, note };
  printRow(row);
  return row;
}

function sqlite3(...commandArguments: string[]): void {
  const outcome = spawnSync('sqlite3', commandArguments, { encoding: 'utf8' });
  if (outcome.status !== 0) throw new Error(`sqlite3 ${commandArguments.join(' ')}: ${outcome.stderr || outcome.error?.message}`);
}

async function upload(node: TestNode, path: string, file: string): Promise<void> {
  const response = await request(`${node.url}${path}`, {
    method: 'POST',
    body: createReadStream(file),
    headers: { 'content-length': String(statSync(file).size) },
    headersTimeout: callTimeoutMs,
    bodyTimeout: callTimeoutMs,
  });
  const text = await response.body.text();
  if (response.statusCode !== 200 || text.includes('"error"')) throw new Error(`${path}: ${response.statusCode} ${text.slice(0, 300)}`);
}

async function download(node: TestNode, path: string, file: string): Promise<number> {
  const response = await request(`${node.url}${path}`, { headersTimeout: callTimeoutMs, bodyTimeout: callTimeoutMs });
  if (response.statusCode !== 200) throw new Error(`${path}: ${response.statusCode} ${await response.body.text()}`);
  await pipeline(response.body, createWriteStream(file));
  return statSync(file).size;
}

async function clusterRows(size: number, file: string, fileBytes: number, dump: string | undefined, scratch: string): Promise<Row[]> {
  const cluster = await TestCluster.create({ size, formation: 'join', flags: ['--log-level', 'warn', ...nodeFlags] });
  const rows: Row[] = [];
  try {
    await cluster.start();
    const leader = await cluster.waitForLeader();
    const label = `${size} node${size === 1 ? '' : 's'}`;
    if (dump !== undefined) {
      // First, into the empty database: a SQL load runs on a copy of the database and loads the copy whole.
      const dumpBytes = statSync(dump).size;
      rows.push(
        await timed(`/db/load of a SQL dump (${label})`, dumpBytes, 'run on the leader, then loaded', () => upload(leader, '/db/load?timeout=10m', dump)),
      );
    }
    rows.push(await timed(`/db/load of the file (${label})`, fileBytes, 'through the log, every node', () => upload(leader, '/db/load?timeout=10m', file)));
    await cluster.waitForConvergence();
    const target = join(scratch, 'backup.db');
    const current = await cluster.waitForLeader();
    for (const [query, note] of [
      ['', 'page copy, WAL header'],
      ['?vacuum', 'VACUUM INTO copy'],
      ['?fmt=sql', 'SQL dump'],
    ] as const) {
      let bytes = 0;
      const row = await timed(`/db/backup${query} (${label}, leader)`, fileBytes, `${note}`, async () => {
        bytes = await download(current, `/db/backup${query}`, target);
      });
      console.log(`${''.padEnd(nameWidth)}  (${(bytes / mebibyte).toFixed(0)} MB out)`);
      rows.push(row);
    }
    const follower = cluster.running().find((node) => node !== current);
    if (follower !== undefined) {
      rows.push(
        await timed(`/db/backup (${label}, follower → leader)`, fileBytes, 'forwarded in 1 MiB peer calls', () =>
          download(follower, '/db/backup', target).then(() => undefined),
        ),
      );
    }
    if (size === 1) rows.push(await timed(`/boot (${label})`, fileBytes, 'outside the log, then a snapshot', () => upload(current, '/boot', file)));
    rmSync(target, { force: true });
  } finally {
    await cluster.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const scratch = mkdtempSync(join(tmpdir(), 'quorumlite-bench-transfers-'));
  try {
    const file = join(scratch, 'source.db');
    const fileBytes = makeDatabase(file, targetMegabytes);
    const rows: Row[] = [];
    console.log(`${'what'.padEnd(nameWidth)}  ${'MB'.padStart(6)}  ${'seconds'.padStart(8)}  ${'MB/s'.padStart(7)}  note`);
    const hasSqlite3 = spawnSync('sqlite3', ['-version']).status === 0;
    if (hasSqlite3) {
      rows.push(
        await timed('sqlite3 .backup', fileBytes, 'the floor: one local page copy', () => sqlite3(file, `.backup ${join(scratch, 'sqlite3-backup.db')}`)),
      );
      rows.push(
        await timed('sqlite3 .restore', fileBytes, 'the floor: one local page copy', () => sqlite3(join(scratch, 'sqlite3-restore.db'), `.restore ${file}`)),
      );
    } else {
      console.log('sqlite3 is not installed: its rows are left out (apt-get install sqlite3)');
    }
    let dump: string | undefined;
    if (sqlMegabytes > 0 && hasSqlite3) {
      const small = join(scratch, 'small.db');
      // Its own table: the dump runs on top of the loaded file, as rqlite's load of SQL text does.
      makeDatabase(small, sqlMegabytes, 'dumped');
      dump = join(scratch, 'dump.sql');
      const output = openSync(dump, 'w');
      try {
        spawnSync('sqlite3', [small, '.dump'], { stdio: ['ignore', output, 'inherit'] });
      } finally {
        closeSync(output);
      }
    }
    for (const size of [1, 3]) rows.push(...(await clusterRows(size, file, fileBytes, dump, scratch)));
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

await main();
