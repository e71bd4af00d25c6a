/**
 * The floor: raw durable SQLite in this process (better-sqlite3, WAL, synchronous=FULL),
 * one row per transaction and 100 rows per transaction, point reads, and this disk's raw
 * 4 KiB write + fdatasync rate. No replication, no network.
 */
import Database from 'better-sqlite3';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchKey, benchValue, percentile, type LoadBounds, type LoadResult } from '../lib/measure.js';

export const fsyncBlockBytes = 4096;

/** Runs a synchronous operation until the count or the time bound; same result shape as runLoad. */
export function runSynchronous(operation: (sequenceNumber: number) => void, bounds: LoadBounds): LoadResult {
  const latenciesMs: number[] = [];
  const startedMs = performance.now();
  const deadlineMs = startedMs + bounds.durationMsMax;
  for (let sequenceNumber = 1; sequenceNumber <= bounds.operationCountMax && performance.now() < deadlineMs; sequenceNumber += 1) {
    const operationStartedMs = performance.now();
    operation(sequenceNumber);
    latenciesMs.push(performance.now() - operationStartedMs);
  }
  const elapsedMs = performance.now() - startedMs;
  latenciesMs.sort((left, right) => left - right);
  return {
    acknowledgedCount: latenciesMs.length,
    failedCount: 0,
    elapsedMs,
    operationsPerSecond: elapsedMs > 0 ? (latenciesMs.length * 1000) / elapsedMs : 0,
    p50Ms: percentile(latenciesMs, 0.5),
    p99Ms: percentile(latenciesMs, 0.99),
  };
}

export interface SqliteResults {
  readonly sequentialWrites: LoadResult;
  /** Transactions of `rowsPerBatch` rows; rows/s = operationsPerSecond × rowsPerBatch. */
  readonly batchedWrites: LoadResult;
  readonly reads: LoadResult;
  readonly fsync: LoadResult;
}

export interface SqliteBounds {
  readonly writes: LoadBounds;
  readonly batches: LoadBounds;
  readonly reads: LoadBounds;
  readonly fsyncs: LoadBounds;
  readonly rowsPerBatch: number;
}

export function measureFsync(directory: string, bounds: LoadBounds): LoadResult {
  const block = Buffer.alloc(fsyncBlockBytes, 0x61);
  const descriptor = openSync(join(directory, 'fsync-probe'), 'w');
  try {
    return runSynchronous(() => {
      writeSync(descriptor, block, 0, block.length, 0);
      fdatasyncSync(descriptor);
    }, bounds);
  } finally {
    closeSync(descriptor);
  }
}

export function measureSqlite(bounds: SqliteBounds): SqliteResults {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-sqlite-'));
  const database = new Database(join(directory, 'bench.db'));
  try {
    database.pragma('journal_mode = WAL');
    database.pragma('synchronous = FULL');
    database.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    const insert = database.prepare('INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)');
    const select = database.prepare('SELECT v FROM kv WHERE k = ?');
    const sequentialWrites = runSynchronous((sequenceNumber) => insert.run(benchKey(sequenceNumber), benchValue(sequenceNumber)), bounds.writes);
    const insertMany = database.transaction((first: number) => {
      for (let offset = 0; offset < bounds.rowsPerBatch; offset += 1) insert.run(benchKey(first + offset), benchValue(first + offset));
    });
    const batchedWrites = runSynchronous((sequenceNumber) => insertMany(1_000_000 + sequenceNumber * bounds.rowsPerBatch), bounds.batches);
    const writtenCount = Math.max(1, sequentialWrites.acknowledgedCount);
    const reads = runSynchronous((sequenceNumber) => {
      const row = select.get(benchKey(1 + (sequenceNumber % writtenCount)));
      if (row === undefined) throw new Error('sqlite: a written row is missing');
    }, bounds.reads);
    const fsync = measureFsync(directory, bounds.fsyncs);
    return { sequentialWrites, batchedWrites, reads, fsync };
  } finally {
    database.close();
    rmSync(directory, { recursive: true, force: true });
  }
}
