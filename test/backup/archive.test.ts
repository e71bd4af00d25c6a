/**
 * The point-in-time archive and restore on a real state machine and a directory store:
 * the archiver ships every committed entry with its leader time and uploads base
 * snapshots; a restore to any index or time rebuilds, row by row, what the database held
 * then (random values and skipped duplicate requests included: the replay is apply); a
 * new leader carries on where the archive stands; a compacted log starts a new base and
 * the gap is reported; retention deletes exactly what lies before its bound; an archive
 * of another history is refused.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { catalogFromListing, segmentChain, segmentKey, type ArchiveCatalog } from '../../src/backup/archive-catalog.js';
import { decodeSegment, encodeSegment } from '../../src/backup/archive-segment.js';
import { PointInTimeArchiver } from '../../src/backup/archiver.js';
import type { PointInTimeSettings } from '../../src/backup/config.js';
import { DirectoryObjectStore } from '../../src/backup/directory-store.js';
import { RestoreError, readArchive } from '../../src/backup/pitr-plan.js';
import { restoreToPoint } from '../../src/backup/pitr-restore.js';
import type { RestoreTarget } from '../../src/backup/pitr-plan.js';
import { planRetention } from '../../src/backup/retention.js';
import { createFixture, manualClock, recordingLogger, type Fixture } from './log-fixture.js';

const cleanups: (() => void)[] = [];
after(() => {
  for (const cleanup of cleanups.reverse()) cleanup();
});

const startMs = Date.UTC(2026, 0, 1, 12, 0, 0);
const hourMs = 60 * 60 * 1000;

interface Setup {
  readonly fixture: Fixture;
  readonly target: string;
  readonly store: DirectoryObjectStore;
  readonly clock: ReturnType<typeof manualClock>;
  /** What the database held after each index (a SELECT over every row), recorded while writing. */
  readonly rowsAt: Map<number, unknown[][]>;
  archiver(settings?: Partial<PointInTimeSettings>): PointInTimeArchiver;
  /** Writes one row at `timeMs` and records the rows the database then holds. */
  insert(value: string, timeMs: number, requestId?: string): number;
  record(index: number): void;
}

const settingsDefault: PointInTimeSettings = { path: 'pitr', syncIntervalMs: 10, snapshotIntervalMs: hourMs, retentionMs: 24 * hourMs };

function rowsIn(database: { prepare(sql: string): { raw(toggle: boolean): { all(): unknown[] } } }): unknown[][] {
  return database.prepare('SELECT id, v, hex(r), ts FROM t ORDER BY id').raw(true).all() as unknown[][];
}

function setUp(): Setup {
  const fixture = createFixture();
  const target = mkdtempSync(join(tmpdir(), 'quorumlite-archive-'));
  cleanups.push(() => fixture.close());
  cleanups.push(() => rmSync(target, { recursive: true, force: true }));
  const store = new DirectoryObjectStore(target);
  const clock = manualClock(startMs);
  const rowsAt = new Map<number, unknown[][]>();
  const record = (index: number) => {
    const result = fixture.machine.query([{ sql: 'SELECT id, v, hex(r), ts FROM t ORDER BY id', positional: [], named: {} }]);
    const first = result[0];
    rowsAt.set(
      index,
      first?.kind === 'rows' ? (first.rows as unknown[][]).map((row) => row.map((value) => (typeof value === 'bigint' ? Number(value) : value))) : [],
    );
  };
  return {
    fixture,
    target,
    store,
    clock,
    rowsAt,
    record,
    archiver: (settings = {}) =>
      new PointInTimeArchiver({
        settings: { ...settingsDefault, ...settings },
        store,
        log: fixture.log,
        database: fixture.database,
        stagingDirectory: fixture.directory,
        logger: recordingLogger(),
        clock,
      }),
    insert: (value, timeMs, requestId) => {
      const index = fixture.write("INSERT INTO t(v, r, ts) VALUES (?, randomblob(8), datetime('now'))", [value], timeMs, requestId);
      record(index);
      return index;
    },
  };
}

async function restoredRows(setup: Setup, target: RestoreTarget): Promise<{ rows: unknown[][]; index: number }> {
  const outputPath = join(setup.target, `restored-${Math.random().toString(16).slice(2)}.sqlite`);
  const outcome = await restoreToPoint({ store: setup.store, path: 'pitr', target, outputPath, workDirectory: `${outputPath}.work` });
  const database = new Database(outputPath, { readonly: true });
  try {
    return { rows: rowsIn(database), index: outcome.index };
  } finally {
    database.close();
    rmSync(outputPath, { force: true });
  }
}

async function rejected(setup: Setup, target: RestoreTarget, pattern: RegExp): Promise<void> {
  const outputPath = join(setup.target, 'never.sqlite');
  await assert.rejects(
    () => restoreToPoint({ store: setup.store, path: 'pitr', target, outputPath, workDirectory: `${outputPath}.work` }),
    (error: unknown) => error instanceof RestoreError && pattern.test(error.message),
  );
  assert.deepEqual(
    readdirSync(setup.target).filter((name) => name.startsWith('never')),
    [],
    'a refused restore writes nothing',
  );
}

test('every index and time restores to exactly what the database held, across bases and a duplicate request', async () => {
  const setup = setUp();
  const { fixture, clock } = setup;
  fixture.noop();
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
  const archiver = setup.archiver();
  await archiver.syncOnce();
  assert.equal(archiver.counts.bases, 1, 'the first turn uploads a base');
  const firstBase = fixture.log.appliedIndex;
  setup.record(firstBase);
  const timesByIndex = new Map<number, number>();
  for (let row = 1; row <= 12; row += 1) {
    const timeMs = startMs + row * 60_000;
    // Row 7 repeats row 3's idempotency key: the cluster skipped it, so must the replay.
    const index = setup.insert(`row${row}`, timeMs, row === 3 || row === 7 ? 'key-3' : undefined);
    timesByIndex.set(index, timeMs);
    if (row === 5) setup.record(fixture.confChange());
    if (row % 4 === 0) await archiver.syncOnce();
    if (row === 6) {
      clock.nowMsValue = startMs + 2 * hourMs;
      await archiver.syncOnce();
    }
  }
  await archiver.syncOnce();
  assert.equal(archiver.counts.bases, 2, 'a second base after the snapshot interval');
  assert.equal(archiver.counts.entries, fixture.log.appliedIndex - firstBase);
  assert.equal(setup.rowsAt.get(fixture.log.appliedIndex)?.length, 11, 'the duplicate request added no row');
  for (let index = firstBase; index <= fixture.log.appliedIndex; index += 1) {
    const expected = setup.rowsAt.get(index);
    if (expected === undefined) continue;
    const restored = await restoredRows(setup, { kind: 'index', index });
    assert.equal(restored.index, index);
    assert.deepEqual(restored.rows, expected, `rows at index ${index}`);
  }
  for (const [index, timeMs] of timesByIndex) {
    assert.deepEqual((await restoredRows(setup, { kind: 'time', timeMs })).rows, setup.rowsAt.get(index), `rows at the time of index ${index}`);
    // Just before an entry's time, the state is the previous entry's.
    const before = await restoredRows(setup, { kind: 'time', timeMs: timeMs - 1 });
    assert.ok(before.index < index, `${timeMs - 1} restores to before index ${index}`);
  }
  await rejected(setup, { kind: 'index', index: firstBase - 1 }, /^index \d+ is before the archive's start: the oldest base snapshot is at index/);
  await rejected(setup, { kind: 'index', index: fixture.log.appliedIndex + 1 }, /is after the last archived entry, index \d+ .*the archive has nothing later/);
  await rejected(setup, { kind: 'time', timeMs: startMs - 1 }, /is before the archive's start: the earliest restorable time is 2026-01-01T12:00:00\.000Z/);
  await rejected(setup, { kind: 'time', timeMs: startMs + 13 * 60_000 }, /is after the last archived entry.*--to-index/);
});

test('a /db/load in the archive replays through the loads: before, at and after it restore what the database held', async () => {
  const setup = setUp();
  const { fixture } = setup;
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
  const archiver = setup.archiver();
  await archiver.syncOnce();
  const beforeLoad = setup.insert('before the load', startMs + 1000);
  // The loaded file: another table t with rows of its own, built by SQLite itself.
  const loadedPath = join(setup.target, 'loaded.sqlite');
  const loaded = new Database(loadedPath);
  loaded.exec(
    "CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT); INSERT INTO t(v, r, ts) VALUES ('loaded 1', x'01', 'then'), ('loaded 2', x'02', 'then');",
  );
  loaded.close();
  const commitIndex = await fixture.load(readFileSync(loadedPath), 1024);
  assert.ok(commitIndex - beforeLoad > 2, 'the file went through the log in several chunks');
  setup.record(commitIndex);
  assert.equal(setup.rowsAt.get(commitIndex)?.length, 2, 'the load replaced the table');
  const afterLoad = setup.insert('after the load', startMs + 2000);
  await archiver.syncOnce();
  for (const index of [beforeLoad, commitIndex - 1, commitIndex, afterLoad]) {
    const expected = index === commitIndex - 1 ? setup.rowsAt.get(beforeLoad) : setup.rowsAt.get(index);
    const restored = await restoredRows(setup, { kind: 'index', index });
    assert.deepEqual(restored.rows, expected, `rows at index ${index}`);
  }
});

test('a new leader carries on after the last archived entry, without a new base', async () => {
  const setup = setUp();
  const { fixture } = setup;
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
  await setup.archiver().syncOnce();
  setup.insert('before', startMs + 1000);
  const old = setup.archiver();
  await old.syncOnce();
  // The old leader goes; the new one (term 2, its no-op first) lists the archive and resumes.
  fixture.log.isLeader = false;
  await old.syncOnce();
  fixture.term = 2;
  fixture.noop();
  fixture.log.isLeader = true;
  const successor = setup.archiver();
  const last = setup.insert('after', startMs + 2000);
  await successor.syncOnce();
  assert.equal(successor.counts.bases, 0, "no new base: the archive reached this leader's log");
  assert.equal(successor.counts.entries, 2, 'the no-op and the write');
  assert.deepEqual((await restoredRows(setup, { kind: 'index', index: last })).rows, setup.rowsAt.get(last));
});

test('a log compacted past the archive: a new base, and the gap is reported by restore', async () => {
  const setup = setUp();
  const { fixture } = setup;
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
  const archiver = setup.archiver();
  await archiver.syncOnce();
  const archived = setup.insert('archived', startMs + 1000);
  await archiver.syncOnce();
  const lost = setup.insert('lost', startMs + 2000);
  setup.insert('lost too', startMs + 3000);
  fixture.log.firstIndexValue = fixture.log.appliedIndex;
  const resumed = setup.archiver();
  await resumed.syncOnce();
  assert.equal(resumed.counts.bases, 1, 'a new base where the log starts');
  const after = setup.insert('after', startMs + 4000);
  await resumed.syncOnce();
  assert.deepEqual((await restoredRows(setup, { kind: 'index', index: archived })).rows, setup.rowsAt.get(archived));
  assert.deepEqual((await restoredRows(setup, { kind: 'index', index: after })).rows, setup.rowsAt.get(after));
  await rejected(
    setup,
    { kind: 'index', index: lost },
    new RegExp(`^index ${lost} falls in a gap of the archive: entries after index ${archived} were not archived`),
  );
  await rejected(setup, { kind: 'time', timeMs: startMs + 2500 }, /falls in a gap of the archive/);
});

test('retention at its bound: the newest base at or before now − retention is kept, everything older goes', async () => {
  for (const [retentionMs, expectDeleted] of [
    [hourMs, true],
    [hourMs + 1, false],
  ] as const) {
    const setup = setUp();
    const { fixture, clock } = setup;
    const settings = { retentionMs, snapshotIntervalMs: hourMs };
    fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
    const archiver = setup.archiver(settings);
    await archiver.syncOnce();
    const times = [startMs + hourMs, startMs + 2 * hourMs];
    for (const timeMs of times) {
      setup.insert(`at ${timeMs}`, timeMs);
      await archiver.syncOnce();
      clock.nowMsValue = timeMs;
      await archiver.syncOnce();
    }
    const summary = await readArchive(setup.store, 'pitr');
    const baseTimes = summary.bases.map((base) => base.manifest.timeMs);
    if (expectDeleted) {
      // now = start + 2h, retention 1h: the base of start + 1h sits exactly at the bound and stays; the first goes.
      assert.deepEqual(baseTimes, times);
      assert.equal(archiver.counts.deletedObjects > 0, true);
      assert.ok((await restoredRows(setup, { kind: 'time', timeMs: times[0] as number })).rows.length === 1);
      await rejected(
        setup,
        { kind: 'time', timeMs: (times[0] as number) - 1 },
        /before the archive's start: the earliest restorable time is 2026-01-01T13:00:00\.000Z/,
      );
    } else {
      // One millisecond more retention: the first base is still inside the window.
      assert.deepEqual(baseTimes, [startMs, ...times]);
      assert.equal(archiver.counts.deletedObjects, 0);
      assert.equal((await restoredRows(setup, { kind: 'time', timeMs: startMs })).rows.length, 0);
    }
  }
});

test('an archive of another history (a different term at its last entry) stops the archiver with an error', async () => {
  const setup = setUp();
  const { fixture } = setup;
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
  await setup.archiver().syncOnce();
  // Another cluster's entry at the next index (term 9) is in the archive; this log's is of term 1.
  const index = setup.insert('x', startMs + 1);
  const range = { firstIndex: index, lastIndex: index, lastTerm: 9, lastTimeMs: startMs };
  mkdirSync(join(setup.target, 'pitr', 'segments'), { recursive: true });
  writeFileSync(join(setup.target, segmentKey('pitr/', range)), encodeSegment([{ ...fixture.log.held[index - 1], term: 9, timeMs: startMs } as never]));
  await assert.rejects(() => setup.archiver().syncOnce(), /holds entry \d+ of term 9, this log has term 1: it is another cluster's history/);
});

test('a full archive disk: the turn fails and nothing moves on; once there is room every entry is archived', async (t) => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'quorumlite-full-archive-'));
  cleanups.push(() => rmSync(mountPoint, { recursive: true, force: true }));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mountPoint], { stdio: 'pipe' });
  } catch (error) {
    t.skip(`cannot mount a tmpfs (${(error as Error).message.split('\n')[0]}); needs root`);
    return;
  }
  cleanups.push(() => void execFileSync('umount', ['-l', mountPoint], { stdio: 'pipe' }));
  const setup = setUp();
  const { fixture } = setup;
  const store = new DirectoryObjectStore(mountPoint);
  const archiver = new PointInTimeArchiver({
    settings: settingsDefault,
    store,
    log: fixture.log,
    database: fixture.database,
    stagingDirectory: fixture.directory,
    logger: recordingLogger(),
    clock: setup.clock,
  });
  fixture.write('CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT, r BLOB, ts TEXT)', [], startMs);
  await archiver.syncOnce();
  const fillerPath = join(mountPoint, 'filler');
  const descriptor = openSync(fillerPath, 'w');
  try {
    for (let count = 0; count < 64; count += 1) writeSync(descriptor, Buffer.alloc(64 * 1024, 1));
  } catch (error) {
    assert.equal((error as NodeJS.ErrnoException).code, 'ENOSPC');
  } finally {
    closeSync(descriptor);
  }
  const written: number[] = [];
  for (let row = 0; row < 5; row += 1) written.push(setup.insert(`full ${row} ${'x'.repeat(20_000)}`, startMs + row + 1));
  await assert.rejects(() => archiver.syncOnce(), /ENOSPC|no space/i);
  assert.equal(archiver.counts.entries, 0, 'nothing counted as archived');
  rmSync(fillerPath);
  await archiver.syncOnce();
  assert.equal(archiver.counts.entries, written.length);
  for (const index of written) {
    const outputPath = join(setup.target, `full-${index}.sqlite`);
    await restoreToPoint({ store, path: 'pitr', target: { kind: 'index', index }, outputPath, workDirectory: `${outputPath}.work` });
    const database = new Database(outputPath, { readonly: true });
    try {
      assert.deepEqual(rowsIn(database), setup.rowsAt.get(index));
    } finally {
      database.close();
    }
  }
});

test('catalog: bases need their manifest, junk is ignored; the chain takes the furthest-reaching overlapping segment', () => {
  const key = (first: number, last: number) => segmentKey('p/', { firstIndex: first, lastIndex: last, lastTerm: 1, lastTimeMs: 5 });
  const catalog: ArchiveCatalog = catalogFromListing(
    'p/',
    [
      'p/bases/0000000000000004.db.gz',
      'p/bases/0000000000000004.json',
      'p/bases/0000000000000009.db.gz',
      'p/readme.txt',
      'other/bases/0000000000000001.json',
      key(5, 7),
      key(5, 9),
      key(8, 12),
      key(10, 11),
      key(14, 20),
    ].map((name) => ({ key: name, bytes: 1 })),
  );
  assert.deepEqual(
    catalog.bases.map((base) => base.index),
    [4],
  );
  assert.deepEqual(catalog.incompleteBaseKeys, ['p/bases/0000000000000009.db.gz']);
  const chain = segmentChain(catalog, 4);
  assert.deepEqual(
    chain.segments.map((segment) => [segment.firstIndex, segment.lastIndex]),
    [
      [5, 9],
      [8, 12],
    ],
  );
  assert.equal(chain.endIndex, 12, 'index 13 is missing: the chain stops before 14..20');
  assert.equal(segmentChain(catalog, 4, 6).endIndex, 9);
  const plan = planRetention(catalog, new Map([[4, 100]]), 200, 100);
  assert.deepEqual(plan, { keptFromIndex: 4, deleteKeys: [] });
});

test('segments: entries round-trip; damaged ones are refused', () => {
  const entries = [
    { index: 3, term: 1, type: 'normal' as const, timeMs: 17, data: new Uint8Array([0x51, 1, 2]) },
    { index: 4, term: 2, type: 'conf-change' as const, timeMs: null, data: new Uint8Array([9]) },
  ];
  assert.deepEqual(decodeSegment(encodeSegment(entries), 'k'), entries);
  assert.throws(() => decodeSegment(new Uint8Array([1, 2, 3]), 'k'), /k: not a gzip file/);
  const gzip = encodeSegment([entries[0] as never, { ...entries[1], index: 5 } as never]);
  assert.throws(() => decodeSegment(gzip, 'k'), /k: entry 4 is missing or malformed/);
});
