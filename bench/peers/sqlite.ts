/**
 * The floor: raw durable SQLite in this process (better-sqlite3, WAL, synchronous=FULL),
 * one row per transaction and 100 rows per transaction, point reads, and this disk's raw
 * 4 KiB write + fdatasync rate. No replication, no network.
 */
import Database from 'better-sqlite3';
import { closeSync, fdatasyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchKey, benchValue, summarise, type LoadBounds, type LoadResult, type LoadSamples } from '../lib/measure.js';

export const fsyncBlockBytes = 4096;

/** Runs a synchronous operation until the count or the time bound; one round of samples. */
export function collectSynchronous(operation: (sequenceNumber: number) => void, bounds: LoadBounds): LoadSamples {
  const latenciesMs: number[] = [];
  const startedMs = performance.now();
  const deadlineMs = startedMs + bounds.durationMsMax;
  for (let sequenceNumber = 1; sequenceNumber <= bounds.operationCountMax && performance.now() < deadlineMs; sequenceNumber += 1) {
    const operationStartedMs = performance.now();
    operation(sequenceNumber);
    latenciesMs.push(performance.now() - operationStartedMs);
  }
  return { latenciesMs, failedCount: 0, elapsedMs: performance.now() - startedMs };
}

export function runSynchronous(operation: (sequenceNumber: number) => void, bounds: LoadBounds): LoadResult {
  return summarise([collectSynchronous(operation, bounds)]);
}

export interface SqliteResults {
  readonly sequentialWrites: LoadResult;
  /** Transactions of `rowsPerBatch` rows; rows/s = operationsPerSecond × rowsPerBatch. */
  readonly batchedWrites: LoadResult;
  readonly reads: LoadResult;
  readonly fsync: LoadResult;
}

/**
 * One durable SQLite database in this process, open for the whole run so its workloads
 * can be interleaved in rounds with the clusters'.
 */
export class SqliteBench {
  readonly directory = mkdtempSync(join(tmpdir(), 'quorumlite-compare-sqlite-'));
  readonly #database = new Database(join(this.directory, 'bench.db'));
  readonly #insert: Database.Statement<[string, string]>;
  readonly #select: Database.Statement<[string]>;
  /** Rows in one transaction: `#insert` is prepared in the constructor, before any call. */
  readonly #insertMany = this.#database.transaction((rows: ReadonlyArray<readonly [string, string]>) => {
    for (const [key, value] of rows) this.#insert.run(key, value);
  });

  constructor() {
    this.#database.pragma('journal_mode = WAL');
    this.#database.pragma('synchronous = FULL');
    this.#database.exec('CREATE TABLE kv (k TEXT PRIMARY KEY, v TEXT NOT NULL)');
    this.#insert = this.#database.prepare('INSERT OR REPLACE INTO kv(k, v) VALUES(?, ?)');
    this.#select = this.#database.prepare('SELECT v FROM kv WHERE k = ?');
  }

  /** One row per transaction (autocommit), keys from keyOffset + 1. */
  sequentialWrites(bounds: LoadBounds, keyOffset: number): LoadSamples {
    return collectSynchronous((sequenceNumber) => this.#insert.run(benchKey(keyOffset + sequenceNumber), benchValue(sequenceNumber)), bounds);
  }

  batchedWrites(bounds: LoadBounds, rowsPerBatch: number, keyOffset: number): LoadSamples {
    const insertMany = this.#database.transaction((first: number) => {
      for (let offset = 0; offset < rowsPerBatch; offset += 1) this.#insert.run(benchKey(first + offset), benchValue(first + offset));
    });
    return collectSynchronous((sequenceNumber) => insertMany(keyOffset + sequenceNumber * rowsPerBatch), bounds);
  }

  /** `rows` in one transaction (one fsync): for a caller that makes its own rows (bench/write-floor.ts). */
  insertBatch(rows: ReadonlyArray<readonly [string, string]>): void {
    this.#insertMany(rows);
  }

  /** Point reads of keys 1..writtenCount; a missing row is an error, not a read. */
  reads(bounds: LoadBounds, writtenCount: number): LoadSamples {
    return collectSynchronous((sequenceNumber) => {
      const row = this.#select.get(benchKey(1 + (sequenceNumber % writtenCount)));
      if (row === undefined) throw new Error('sqlite: a written row is missing');
    }, bounds);
  }

  fsync(bounds: LoadBounds): LoadSamples {
    return collectFsync(this.directory, bounds);
  }

  close(): void {
    this.#database.close();
    rmSync(this.directory, { recursive: true, force: true });
  }
}

export function collectFsync(directory: string, bounds: LoadBounds): LoadSamples {
  const block = Buffer.alloc(fsyncBlockBytes, 0x61);
  const descriptor = openSync(join(directory, 'fsync-probe'), 'w');
  try {
    return collectSynchronous(() => {
      writeSync(descriptor, block, 0, block.length, 0);
      fdatasyncSync(descriptor);
    }, bounds);
  } finally {
    closeSync(descriptor);
  }
}
