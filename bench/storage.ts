/**
 * Storage benchmark: 100-byte entries appended through DurableStorage.save() at batch
 * sizes 1, 16 and 256, next to the raw limit of this disk measured in the same run
 * (4 KiB write + fdatasync from Node, one at a time) and to the same batches written to
 * a SQLite WAL database with synchronous=FULL (the alternative log store). Prints one
 * table; ratios compare within this run. Bounded per row by a count and a time budget.
 *
 *   npm run bench:storage            (BENCH_SECONDS_PER_ROW=1.5 by default)
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { DurableStorage } from '../src/storage/durable-storage.js';
import { dataSync, openFile, closeFile, writeFully } from '../src/storage/file-io.js';
import type { Entry } from '../src/raft/types.js';

const SECONDS_PER_ROW = Number(process.env.BENCH_SECONDS_PER_ROW ?? 1.5);
const OPERATIONS_PER_ROW_MAX = 5000;
const ENTRY_BYTES = 100;
const BATCH_SIZES = [1, 16, 256];
const CONCURRENT_WRITERS = 8;

interface Row {
  readonly name: string;
  readonly batchSize: number;
  readonly entriesPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
}

function percentile(sorted: readonly number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * fraction))] ?? NaN;
}

/** Runs `operation` back to back until the count or time bound; returns latencies in ms. */
async function timeLoop(operation: (iteration: number) => Promise<void> | void): Promise<{ latencies: number[]; seconds: number }> {
  const latencies: number[] = [];
  const started = performance.now();
  for (let iteration = 0; iteration < OPERATIONS_PER_ROW_MAX; iteration++) {
    const before = performance.now();
    await operation(iteration);
    latencies.push(performance.now() - before);
    if (performance.now() - started > SECONDS_PER_ROW * 1000) break;
  }
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

function toRow(name: string, batchSize: number, result: { latencies: number[]; seconds: number }, entriesDone?: number): Row {
  const sorted = [...result.latencies].sort((a, b) => a - b);
  const entries = entriesDone ?? result.latencies.length * batchSize;
  return { name, batchSize, entriesPerSecond: entries / result.seconds, p50Ms: percentile(sorted, 0.5), p99Ms: percentile(sorted, 0.99) };
}

async function rawFsync(directory: string): Promise<Row> {
  const fd = await openFile(join(directory, 'raw'), 'w+');
  const block = Buffer.alloc(4096, 7);
  try {
    const result = await timeLoop(async (iteration) => {
      await writeFully(fd, block, iteration * block.length);
      await dataSync(fd);
    });
    return toRow('raw 4 KiB write + fdatasync', 1, result);
  } finally {
    await closeFile(fd);
  }
}

function makeBatch(firstIndex: number, count: number, payload: Uint8Array): Entry[] {
  const entries: Entry[] = [];
  for (let offset = 0; offset < count; offset++) entries.push({ index: firstIndex + offset, term: 1, type: 'normal', data: payload });
  return entries;
}

async function storageSequential(directory: string, batchSize: number): Promise<Row> {
  const store = await DurableStorage.open(join(directory, `sequential-${batchSize}`));
  const payload = new Uint8Array(ENTRY_BYTES).fill(1);
  let next = 1;
  try {
    const result = await timeLoop(async () => {
      await store.save({ entries: makeBatch(next, batchSize, payload), hardState: { term: 1, vote: '', commit: next - 1 } });
      next += batchSize;
    });
    return toRow('quorumlite save(), 1 in flight', batchSize, result);
  } finally {
    await store.close();
  }
}

/** Several writers each awaiting their own save: group commit coalesces them. */
async function storageConcurrent(directory: string, batchSize: number): Promise<Row> {
  const store = await DurableStorage.open(join(directory, `concurrent-${batchSize}`));
  const payload = new Uint8Array(ENTRY_BYTES).fill(2);
  let next = 1;
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + SECONDS_PER_ROW * 1000;
  const writer = async (): Promise<void> => {
    for (let iteration = 0; iteration < OPERATIONS_PER_ROW_MAX && performance.now() < deadline; iteration++) {
      const before = performance.now();
      const first = next;
      next += batchSize;
      await store.save({ entries: makeBatch(first, batchSize, payload) });
      latencies.push(performance.now() - before);
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENT_WRITERS }, writer));
    const seconds = (performance.now() - started) / 1000;
    const flushes = store.stats().flushCount;
    const row = toRow(`quorumlite save(), ${CONCURRENT_WRITERS} writers (${(latencies.length / flushes).toFixed(1)} saves/flush)`, batchSize, { latencies, seconds });
    return row;
  } finally {
    await store.close();
  }
}

function sqliteSequential(directory: string, batchSize: number): Promise<Row> {
  const database = new Database(join(directory, `sqlite-${batchSize}.db`));
  database.pragma('journal_mode = WAL');
  database.pragma('synchronous = FULL');
  database.exec('CREATE TABLE log (entry_index INTEGER PRIMARY KEY, term INTEGER NOT NULL, data BLOB NOT NULL)');
  const insert = database.prepare('INSERT INTO log (entry_index, term, data) VALUES (?, ?, ?)');
  const payload = Buffer.alloc(ENTRY_BYTES, 3);
  let next = 1;
  const appendBatch = database.transaction((count: number) => {
    for (let offset = 0; offset < count; offset++) insert.run(next + offset, 1, payload);
    next += count;
  });
  return timeLoop(() => appendBatch(batchSize))
    .then((result) => toRow('SQLite WAL synchronous=FULL (blocks the event loop)', batchSize, result))
    .finally(() => database.close());
}

function printTable(rows: readonly Row[], raw: Row): void {
  const header = ['store', 'batch', 'entries/s', 'p50 ms', 'p99 ms', 'p50 / raw fsync p50'];
  const lines = rows.map((row) => [
    row.name,
    String(row.batchSize),
    Math.round(row.entriesPerSecond).toLocaleString('en-US'),
    row.p50Ms.toFixed(3),
    row.p99Ms.toFixed(3),
    `${(row.p50Ms / raw.p50Ms).toFixed(2)}x`,
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  const format = (cells: readonly string[]): string => cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!))).join('  ');
  console.log(format(header));
  console.log(widths.map((width) => '-'.repeat(width)).join('  '));
  for (const line of lines) console.log(format(line));
}

async function main(): Promise<void> {
  const directory = fs.mkdtempSync(join(tmpdir(), 'quorumlite-bench-storage-'));
  try {
    console.log(`storage benchmark in ${directory}: ${ENTRY_BYTES}-byte entries, up to ${SECONDS_PER_ROW}s or ${OPERATIONS_PER_ROW_MAX} operations per row\n`);
    const raw = await rawFsync(directory);
    const rows: Row[] = [raw];
    for (const batchSize of BATCH_SIZES) {
      rows.push(await storageSequential(directory, batchSize));
      rows.push(await storageConcurrent(directory, batchSize));
      rows.push(await sqliteSequential(directory, batchSize));
    }
    printTable(rows, raw);
    const batchOne = rows.find((row) => row.batchSize === 1 && row.name.includes('1 in flight'))!;
    const batch256 = rows.find((row) => row.batchSize === 256 && row.name.includes('1 in flight'))!;
    console.log(`\ntargets: batch 1 p50 within 1.3x of raw fsync: ${(batchOne.p50Ms / raw.p50Ms).toFixed(2)}x; batch 256 at least 100,000 entries/s: ${Math.round(batch256.entriesPerSecond).toLocaleString('en-US')}`);
  } finally {
    fs.rmSync(directory, { recursive: true, force: true });
  }
}

await main();
