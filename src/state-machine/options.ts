/** The state machine's options, their defaults, and the settings they resolve to. */

/** Test-only modes replace the entry's time and seed with a local clock, or with SQLite's own functions. */
export type DeterminismMode = 'entry' | 'local-clock' | 'sqlite-builtin';

export interface StateMachineOptions {
  /** The database file. Created if missing. */
  readonly path: string;
  /** Prepared statements cached on each connection. */
  readonly statementCacheCountMax?: number;
  /** Request ids remembered; the oldest is forgotten beyond this. Must be equal on every node. */
  readonly dedupRequestCountMax?: number;
  /** A request id is forgotten once an entry's timestamp is this much newer. Must be equal on every node. */
  readonly dedupWindowMs?: number;
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
  /** The WAL is checkpointed once it holds about this many bytes (rqlited's -raft-snap-wal-size); default SQLite's 1000 pages. */
  readonly walCheckpointBytes?: number;
  /** Test-only: called after each durable step of restore(), to crash there. */
  readonly onRestoreStep?: (step: RestoreStep) => void;
}

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
export type StateMachineSettings = Required<Omit<StateMachineOptions, 'localClock' | 'localSeed' | 'path' | 'onRestoreStep' | 'walCheckpointBytes'>> & {
  readonly walCheckpointBytes: number | undefined;
};

export function resolveSettings(options: StateMachineOptions): StateMachineSettings {
  return {
    statementCacheCountMax: options.statementCacheCountMax ?? stateMachineDefaults.statementCacheCountMax,
    dedupRequestCountMax: options.dedupRequestCountMax ?? stateMachineDefaults.dedupRequestCountMax,
    dedupWindowMs: options.dedupWindowMs ?? stateMachineDefaults.dedupWindowMs,
    readerBusyTimeoutMs: options.readerBusyTimeoutMs ?? stateMachineDefaults.readerBusyTimeoutMs,
    resultRowCountMax: options.resultRowCountMax ?? stateMachineDefaults.resultRowCountMax,
    determinism: options.determinism ?? 'entry',
    timings: options.timings ?? false,
    extensionPaths: options.extensionPaths ?? [],
    walCheckpointBytes: options.walCheckpointBytes,
  };
}
