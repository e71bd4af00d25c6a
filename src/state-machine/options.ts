/** The state machine's options, their defaults, and the settings they resolve to. */
import type { ChangeCapture } from './change-capture.js';

/** Test-only modes replace the entry's time and seed with a local clock, or with SQLite's own functions. */
export type DeterminismMode = 'entry' | 'local-clock' | 'sqlite-builtin';

export interface StateMachineOptions {
  /** The database file. Created if missing. */
  readonly path: string;
  /** Entries may skip indexes (a database of several gets only its own: database-catalog.ts); default false. */
  readonly sparseEntries?: boolean;
  /** Prepared statements cached on each connection. */
  readonly statementCacheCountMax?: number;
  /** Request ids remembered; the oldest is forgotten beyond this. Must be equal on every node. */
  readonly dedupRequestCountMax?: number;
  /** A request id is forgotten once an entry's timestamp is this much newer. Must be equal on every node. */
  readonly dedupWindowMs?: number;
  /**
   * Enforce foreign key constraints (rqlite's -fk); off by default, as in SQLite and rqlite.
   * Must be equal on every node: it decides whether a write fails.
   */
  readonly foreignKeys?: boolean;
  /** Rows one statement's result may hold; more is an error result. Must be equal on every node. */
  readonly resultRowCountMax?: number;
  /** Fill `timeSeconds` in apply() results (the answer to the client; stored results never carry it). */
  readonly timings?: boolean;
  /** How long a read waits for a lock. */
  readonly readerBusyTimeoutMs?: number;
  /** Test-only: anything but 'entry' breaks replication. */
  readonly determinism?: DeterminismMode;
  /** Test-only, with determinism 'local-clock': this node's clock and process seed. */
  readonly localClock?: () => number;
  readonly localSeed?: bigint;
  /**
   * SQLite extensions (shared libraries) loaded into every connection, before anything
   * else runs on it. Every node must load the same ones (rqlited's -extensions-path).
   */
  readonly extensionPaths?: readonly string[];
  /**
   * SQLite's page size for a database this state machine creates (and its internal store);
   * an existing database keeps its own. A power of two from 512 to 65536; default 4096,
   * SQLite's. Smaller pages write fewer bytes per small row (bench/README.md, "The SQLite
   * page size"), larger rows read and write faster with larger pages. Nodes may differ:
   * no replicated result depends on it (writes may not read the page size or the file's
   * layout: sql-policy.ts).
   */
  readonly pageSize?: number;
  /** Change data capture: every entry's row changes go to its sink before the entry commits (change-capture.ts). */
  readonly changeCapture?: ChangeCapture;
  /** Test-only: called after each durable step of restore(), to crash there. */
  readonly onRestoreStep?: (step: RestoreStep) => void;
  /** Test-only: called after each of an entry transaction's two commits, to crash there. */
  readonly onCommitStep?: (step: CommitStep) => void;
  /** Test-only: called after each step of a snapshot capture that changes the live files, to crash there. */
  readonly onSnapshotStep?: (step: SnapshotStep) => void;
}

/**
 * The steps of captureSnapshot() (snapshot-capture.ts) that touch the live database or
 * finish a file: a crash after any of them leaves the database as it was, and the
 * snapshot store without the new snapshot (the node stores it only after the capture).
 */
export type SnapshotStep = 'delta-copied' | 'checkpointed' | 'generation-marked' | 'base-copied' | 'exported';

/** An entry transaction commits the internal store, then the database (internal-store.ts says why). */
export type CommitStep = 'store-committed' | 'database-committed';

/** The steps of restore(), in order; a crash after any of them leaves the old or the new database. */
export type RestoreStep = 'staged' | 'closed' | 'wal-removed' | 'renamed';

const stateMachineDefaults = {
  statementCacheCountMax: 256,
  dedupRequestCountMax: 100_000,
  dedupWindowMs: 60 * 60 * 1000,
  readerBusyTimeoutMs: 5_000,
  resultRowCountMax: 1_000_000,
} as const;

/** The options with every default filled in (the test-only hooks and the path stay on the options). */
export type StateMachineSettings = Required<
  Omit<StateMachineOptions, 'localClock' | 'localSeed' | 'path' | 'onRestoreStep' | 'onCommitStep' | 'onSnapshotStep' | 'changeCapture' | 'sparseEntries'>
>;

/** SQLite's default page size. */
export const defaultPageSize = 4096;
export const pageSizeMin = 512;
export const pageSizeMax = 65_536;

/** Whether `value` is a page size SQLite takes: a power of two from 512 to 65536. */
export function isPageSize(value: number): boolean {
  return Number.isInteger(value) && value >= pageSizeMin && value <= pageSizeMax && (value & (value - 1)) === 0;
}

function checkedPageSize(value: number): number {
  // SQLite ignores a page size it does not take, silently: refuse it here instead.
  if (!isPageSize(value)) throw new RangeError(`page size ${value}: a power of two from ${pageSizeMin} to ${pageSizeMax}`);
  return value;
}

export function resolveSettings(options: StateMachineOptions): StateMachineSettings {
  return {
    statementCacheCountMax: options.statementCacheCountMax ?? stateMachineDefaults.statementCacheCountMax,
    dedupRequestCountMax: options.dedupRequestCountMax ?? stateMachineDefaults.dedupRequestCountMax,
    dedupWindowMs: options.dedupWindowMs ?? stateMachineDefaults.dedupWindowMs,
    readerBusyTimeoutMs: options.readerBusyTimeoutMs ?? stateMachineDefaults.readerBusyTimeoutMs,
    resultRowCountMax: options.resultRowCountMax ?? stateMachineDefaults.resultRowCountMax,
    foreignKeys: options.foreignKeys ?? false,
    determinism: options.determinism ?? 'entry',
    timings: options.timings ?? false,
    extensionPaths: options.extensionPaths ?? [],
    pageSize: checkedPageSize(options.pageSize ?? defaultPageSize),
  };
}
