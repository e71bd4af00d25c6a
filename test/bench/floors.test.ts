/**
 * The floors the benchmarks measure against do the work they claim, so a ratio to them
 * means what bench/README.md says:
 * - the write floor with `sqlite` applies every write to SQLite on all three processes and
 *   answers with SQLite's own results, for single rows and for batches;
 * - the http floor's linearizable read waits for a round trip to another process: with
 *   both others stopped (SIGSTOP) it does not answer, while a read at level none does.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { FloorDatabase, preparedStatementsMax, statementsOf } from '../../bench/peers/floor-database.js';
import { HttpFloor } from '../../bench/peers/http-floor.js';
import { WriteFloor } from '../../bench/peers/write-floor.js';

/** How long a stopped round trip is given to answer anyway: far above a loopback round trip, so an answer means it did not wait. */
const stoppedWaitMs = 500;

function rowCount(path: string): number {
  const database = new Database(path, { readonly: true, fileMustExist: true });
  try {
    return Number((database.prepare('SELECT count(*) AS n FROM kv').get() as { n: number }).n);
  } finally {
    database.close();
  }
}

test('the write floor with sqlite applies single rows and batches on all three processes', { timeout: 120_000 }, async () => {
  const floor = new WriteFloor({ sqlite: true });
  try {
    await floor.start();
    assert.equal(floor.name, 'write-floor+sqlite');
    assert.equal(await floor.write('k1', 'v1'), true);
    const batch = Array.from({ length: 100 }, (_, index) => [`b${index}`, `v${index}`] as const);
    assert.equal(await floor.writeBatch(batch), true);
    // start() wrote k0; then k1 and 100 batch rows. A follower applies once its own copy is durable, just after it acknowledged.
    const databases = readdirSync(floor.rootDirectory).filter((name) => name.endsWith('.sqlite'));
    assert.deepEqual(databases.sort(), ['db1.sqlite', 'db2.sqlite', 'db3.sqlite']);
    const deadline = Date.now() + 10_000;
    let counts: number[] = [];
    while (Date.now() < deadline) {
      counts = databases.map((name) => rowCount(join(floor.rootDirectory, name)));
      if (counts.every((count) => count === 102)) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(counts, [102, 102, 102]);
  } finally {
    await floor.stop();
  }
});

test('the bare write floor answers without a database', { timeout: 60_000 }, async () => {
  const floor = new WriteFloor();
  try {
    await floor.start();
    assert.equal(floor.name, 'write-floor');
    assert.equal(
      await floor.writeBatch([
        ['a', '1'],
        ['b', '2'],
      ]),
      true,
    );
    assert.deepEqual(
      readdirSync(floor.rootDirectory).filter((name) => name.endsWith('.sqlite')),
      [],
    );
  } finally {
    await floor.stop();
  }
});

test('the http floor makes a linearizable read wait for a round trip to another process', { timeout: 60_000 }, async () => {
  const floor = new HttpFloor();
  const pids = (): number[] => floor.pids().filter((pid): pid is number => pid !== undefined);
  try {
    await floor.start();
    assert.equal(await floor.readAt(0, 'k1', 'linearizable'), true);
    const [, ...others] = pids();
    assert.equal(others.length, 2);
    for (const pid of others) process.kill(pid, 'SIGSTOP');
    try {
      assert.equal(await floor.readAt(0, 'k2', 'none'), true, 'a read at level none needs no other process');
      const read = floor.readAt(0, 'k3', 'linearizable');
      const outcome = await Promise.race([read.then(() => 'answered'), new Promise((resolve) => setTimeout(() => resolve('waiting'), stoppedWaitMs))]);
      assert.equal(outcome, 'waiting', 'with both others stopped the round trip cannot complete');
      for (const pid of others) process.kill(pid, 'SIGCONT');
      assert.equal(await read, true, 'it answers once another process echoes');
    } finally {
      for (const pid of others) process.kill(pid, 'SIGCONT');
    }
  } finally {
    await floor.stop();
  }
});

test(`the floor database keeps at most ${preparedStatementsMax} prepared statements and applies every statement past the bound`, () => {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-floor-db-'));
  const database = new FloorDatabase(join(directory, 'db.sqlite'));
  try {
    // Distinct texts of one insert (a comment differs): each needs its own prepared statement.
    const distinct = (count: number, first: number) =>
      Array.from({ length: count }, (_, offset) => [`INSERT INTO kv(k, v) VALUES(?, ?) -- ${first + offset}`, `k${first + offset}`, 'v'] as const);
    const atBound = database.apply(distinct(preparedStatementsMax, 0));
    assert.equal(database.preparedCount, preparedStatementsMax, 'at the bound every statement is kept');
    assert.deepEqual(
      atBound.map((result) => result.rows_affected),
      Array(preparedStatementsMax).fill(1),
    );
    assert.equal(atBound.at(-1)?.last_insert_id, preparedStatementsMax, "SQLite's own rowid");
    database.apply(distinct(1, preparedStatementsMax));
    assert.equal(database.preparedCount, 1, 'one past the bound: the cache starts again');
    assert.equal(rowCount(join(directory, 'db.sqlite')), preparedStatementsMax + 1);
    assert.throws(() => database.apply([['INSERT INTO missing VALUES (?)', 1]]), /no such table/);
    assert.equal(rowCount(join(directory, 'db.sqlite')), preparedStatementsMax + 1, 'a failed request rolls back and keeps what was stored');
  } finally {
    database.close();
    rmSync(directory, { recursive: true, force: true });
  }
});

test('the floor takes only an array of [sql, ...parameters]', () => {
  assert.deepEqual(statementsOf(Buffer.from('[["SELECT 1"]]')), [['SELECT 1']]);
  for (const body of ['{}', '["SELECT 1"]', '[[1]]', 'not json']) assert.throws(() => statementsOf(Buffer.from(body)), Error, body);
});
