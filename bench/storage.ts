/**
 * Storage benchmark: 100-byte entries appended through DurableStorage.save() at batch
 * sizes 1, 16 and 256, next to the raw limit of this disk measured in the same run
 * (4 KiB and 32 KiB write + fdatasync from Node, one at a time: a 256-entry frame is
 * about 33 KiB) and to the same batches written to
 * a SQLite WAL database with synchronous=FULL (the alternative log store considered).
 *
 * The machine and its disk are shared, so rows are measured in interleaved rounds
 * (every row runs a slice in each round): background load then hits all rows alike and
 * the ratios stay comparable. Bounded by rounds x rows x slice seconds (about 30 s).
 *
 *   npm run bench:storage            (BENCH_ROUNDS=8, BENCH_SLICE_SECONDS=0.35)
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DurableStorage } from '../src/storage/durable-storage.js';
import { closeFile, dataSync, openFile, writeFully } from '../src/storage/file-io.js';
import type { Entry } from '../src/raft/types.js';
import { percentile } from './lib/measure.js';

const roundCount = Number(process.env.BENCH_ROUNDS ?? 8);
const sliceSeconds = Number(process.env.BENCH_SLICE_SECONDS ?? 0.35);
const operationCountPerSliceMax = 20_000;
const entryBytes = 100;
const batchEntryCounts = [1, 16, 256];
const concurrentWriterCount = 8;
const readBackEntryCountMax = 10_000_000;

interface Measurement {
  latencies: number[];
  seconds: number;
  entries: number;
}

interface RowRunner {
  readonly name: string;
  readonly batchSize: number;
  readonly measurement: Measurement;
  /** Runs for about `seconds`, adding to `measurement`. */
  runSlice(seconds: number): Promise<void>;
  close(): Promise<void>;
}

function emptyMeasurement(): Measurement {
  return { latencies: [], seconds: 0, entries: 0 };
}

/** Runs `operation` back to back for a slice; each call appends `batchSize` entries. */
async function timeSlice(measurement: Measurement, seconds: number, batchSize: number, operation: () => Promise<void> | void): Promise<void> {
  const started = performance.now();
  for (let iteration = 0; iteration < operationCountPerSliceMax; iteration++) {
    const before = performance.now();
    await operation();
    measurement.latencies.push(performance.now() - before);
    measurement.entries += batchSize;
    if (performance.now() - started > seconds * 1000) break;
  }
  measurement.seconds += (performance.now() - started) / 1000;
}

/** Raw appends of `blockBytes` + fdatasync: the disk's own limit for a write of that size. */
async function rawFsyncRow(directory: string, blockBytes: number): Promise<RowRunner> {
  const fd = await openFile(join(directory, `raw-${blockBytes}`), 'w+');
  const block = Buffer.alloc(blockBytes, 7);
  let position = 0;
  const measurement = emptyMeasurement();
  return {
    name: `raw ${blockBytes / 1024} KiB write + fdatasync`,
    batchSize: 1,
    measurement,
    runSlice: (seconds) =>
      timeSlice(measurement, seconds, 1, async () => {
        await writeFully(fd, block, position);
        position += block.length;
        await dataSync(fd);
      }),
    close: () => closeFile(fd),
  };
}

function makeBatch(firstIndex: number, count: number, payload: Uint8Array): Entry[] {
  const entries: Entry[] = [];
  for (let offset = 0; offset < count; offset++) entries.push({ index: firstIndex + offset, term: 1, type: 'normal', data: payload });
  return entries;
}

async function sequentialRow(directory: string, batchSize: number): Promise<RowRunner & { store: DurableStorage }> {
  const store = await DurableStorage.open(join(directory, `sequential-${batchSize}`));
  const payload = new Uint8Array(entryBytes).fill(1);
  let next = 1;
  const measurement = emptyMeasurement();
  return {
    name: 'quorumlite save(), 1 in flight',
    batchSize,
    measurement,
    store,
    runSlice: (seconds) =>
      timeSlice(measurement, seconds, batchSize, async () => {
        await store.save({ entries: makeBatch(next, batchSize, payload), hardState: { term: 1, vote: '', commit: next - 1 } });
        next += batchSize;
      }),
    close: () => store.close(),
  };
}

/** Several writers each awaiting their own save: group commit coalesces them into one write + sync. */
async function concurrentRow(directory: string, batchSize: number): Promise<RowRunner> {
  const store = await DurableStorage.open(join(directory, `concurrent-${batchSize}`));
  const payload = new Uint8Array(entryBytes).fill(2);
  let next = 1;
  const measurement = emptyMeasurement();
  const runner = {
    name: `quorumlite save(), ${concurrentWriterCount} writers`,
    batchSize,
    measurement,
    async runSlice(seconds: number): Promise<void> {
      const started = performance.now();
      const deadline = started + seconds * 1000;
      const writer = async (): Promise<void> => {
        for (let iteration = 0; iteration < operationCountPerSliceMax && performance.now() < deadline; iteration++) {
          const before = performance.now();
          const first = next;
          next += batchSize;
          await store.save({ entries: makeBatch(first, batchSize, payload) });
          measurement.latencies.push(performance.now() - before);
          measurement.entries += batchSize;
        }
      };
      await Promise.all(Array.from({ length: concurrentWriterCount }, writer));
      measurement.seconds += (performance.now() - started) / 1000;
      const stats = store.stats();
      runner.name = `quorumlite save(), ${concurrentWriterCount} writers (${(stats.savedCount / stats.flushCount).toFixed(1)} saves/flush)`;
    },
    close: () => store.close(),
  };
  return runner;
}

function sqliteRow(directory: string, batchSize: number): RowRunner {
  const database = new Database(join(directory, `sqlite-${batchSize}.db`));
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.exec('CREATE TABLE log (entry_index INTEGER PRIMARY KEY, term INTEGER NOT NULL, data BLOB NOT NULL)');
  const insert = database.prepare('INSERT INTO log (entry_index, term, data) VALUES (?, ?, ?)');
  const payload = Buffer.alloc(entryBytes, 3);
  let next = 1;
  const appendBatch = database.transaction((count: number) => {
    for (let offset = 0; offset < count; offset++) insert.run(next + offset, 1, payload);
    next += count;
  });
  const measurement = emptyMeasurement();
  return {
    name: 'SQLite WAL synchronous=FULL (blocks the event loop)',
    batchSize,
    measurement,
    runSlice: (seconds) => timeSlice(measurement, seconds, batchSize, () => appendBatch(batchSize)),
    close: async () => {
      database.close();
    },
  };
}

/** entries() over the whole log in calls of up to 1 MiB, as the runtime reads committed entries to apply. */
function measureReadBack(store: DurableStorage): number {
  const started = performance.now();
  let entryCount = 0;
  const last = store.lastIndex();
  for (let low = store.firstIndex(); low <= last && entryCount < readBackEntryCountMax; ) {
    const entries = store.entries(low, last + 1, 1024 * 1024);
    entryCount += entries.length;
    low += entries.length;
  }
  return entryCount / ((performance.now() - started) / 1000);
}

function p50Of(runner: RowRunner): number {
  return percentile(
    [...runner.measurement.latencies].sort((a, b) => a - b),
    0.5,
  );
}

/** The raw row of the same write size: 4 KiB for batches up to 16 entries, 32 KiB for 256. */
function rawReference(runner: RowRunner, raw4: RowRunner, raw32: RowRunner): RowRunner {
  return runner.batchSize >= 256 ? raw32 : raw4;
}

function printTable(runners: readonly RowRunner[], raw4: RowRunner, raw32: RowRunner): void {
  const header = ['store', 'batch', 'entries/s', 'p50 ms', 'p99 ms', 'p50 / raw p50 (same write size)'];
  const lines = runners.map((runner) => {
    const sorted = [...runner.measurement.latencies].sort((a, b) => a - b);
    const p50 = percentile(sorted, 0.5);
    const reference = rawReference(runner, raw4, raw32);
    return [
      runner.name,
      String(runner.batchSize),
      Math.round(runner.measurement.entries / runner.measurement.seconds).toLocaleString('en-US'),
      p50.toFixed(3),
      percentile(sorted, 0.99).toFixed(3),
      reference === runner ? '1.00x' : `${(p50 / p50Of(reference)).toFixed(2)}x (${reference === raw4 ? '4' : '32'} KiB)`,
    ];
  });
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]): string =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  const directory = fs.mkdtempSync(join(tmpdir(), 'quorumlite-bench-storage-'));
  const runners: RowRunner[] = [];
  try {
    console.log(`storage benchmark in ${directory}: ${entryBytes}-byte entries, ${roundCount} interleaved rounds of ${sliceSeconds}s per row\n`);
    const raw4 = await rawFsyncRow(directory, 4096);
    const raw32 = await rawFsyncRow(directory, 32 * 1024);
    runners.push(raw4, raw32);
    const sequential: (RowRunner & { store: DurableStorage })[] = [];
    for (const batchSize of batchEntryCounts) {
      const row = await sequentialRow(directory, batchSize);
      sequential.push(row);
      runners.push(row, await concurrentRow(directory, batchSize), sqliteRow(directory, batchSize));
    }
    for (let round = 0; round < roundCount; round++) {
      for (const runner of runners) await runner.runSlice(sliceSeconds);
    }
    printTable(runners, raw4, raw32);
    const readBackRate = measureReadBack(sequential[sequential.length - 1]!.store);
    const rate = (runner: RowRunner): number => runner.measurement.entries / runner.measurement.seconds;
    console.log(`\nread-back through entries() (1 MiB per call, checksums verified): ${Math.round(readBackRate).toLocaleString('en-US')} entries/s`);
    console.log(`target batch 1, p50 within 1.3x of raw 4 KiB fsync p50: ${(p50Of(sequential[0]!) / p50Of(raw4)).toFixed(2)}x`);
    const entriesPerSecond = (value: number): string => Math.round(value).toLocaleString('en-US');
    const diskRate = `the disk's raw 32 KiB rate is ${entriesPerSecond(rate(raw32) * 256)} entries/s at 256 entries per write`;
    console.log(`target batch 256, at least 100,000 entries/s: ${entriesPerSecond(rate(sequential[2]!))} (${diskRate})`);
  } finally {
    for (const runner of runners) await runner.close();
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

await main();
