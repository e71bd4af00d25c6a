/** The options of one client call, besides its statements: per-call overrides of the client's settings. */
import type { BigIntMode, ConsistencyLevel, RowMode, SqlErrorMode } from './types.js';

export interface CallOptions {
  readonly signal?: AbortSignal;
  /** Overrides the client's per-attempt timeout. */
  readonly timeoutMs?: number;
  /** Overrides the client's per-call deadline. */
  readonly deadlineMs?: number;
}

export interface ResultOptions extends CallOptions {
  readonly rowMode?: RowMode;
  readonly bigint?: BigIntMode;
  readonly sqlErrors?: SqlErrorMode;
}

export interface ReadOptions extends ResultOptions {
  readonly consistency?: ConsistencyLevel;
  /** With 'none': a node that has not heard from the leader for longer refuses ("stale read"). */
  readonly freshness?: string | number;
  readonly freshnessStrict?: boolean;
  /** Wait until the serving node applied this index (default: this client's last write). */
  readonly appliedIndexMin?: number;
}

export interface WriteOptions extends ResultOptions {
  /** Reuse a key across calls (e.g. across process restarts); default: a fresh random key per call. */
  readonly idempotencyKey?: string;
  /** Run all statements in one transaction; stop at the first error (`?transaction`). */
  readonly transaction?: boolean;
}

export interface RequestOptions extends WriteOptions {
  readonly consistency?: ConsistencyLevel;
  readonly freshness?: string | number;
}

export interface BackupOptions extends CallOptions {
  /** 'binary' (SQLite file, default) or 'sql' (a dump). */
  readonly format?: 'binary' | 'sql';
  /** Only these tables (sql format). */
  readonly tables?: readonly string[];
}
