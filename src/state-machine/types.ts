/**
 * The shapes that cross the state machine's boundary: statements going in (parsed by
 * the HTTP layer, encoded into Raft entries), results coming out (turned into rqlite
 * JSON by the HTTP layer). Plain data only.
 */
import type { SqlReal } from '../common/real-values.js';

/**
 * A value bound to a statement parameter. Booleans bind as 1 / 0. A `number` that is a
 * safe integer binds as INTEGER, any other `number` as REAL; a `bigint` is an INTEGER.
 * A REAL with a whole-number value within 2^53 (a JSON `2.0`, `1e2`, `-0.0`) is a
 * `SqlReal` (src/common/real-values.ts), so that it stays REAL: such values are rare, so
 * the common ones stay plain and cheap.
 */
export type SqlValue = null | number | bigint | string | Uint8Array | boolean | SqlReal;

/** A value as SQLite returns it (no booleans). Integers beyond 2^53 come back as bigint. */
export type SqlResultValue = null | number | bigint | string | Uint8Array;

export interface Statement {
  readonly sql: string;
  /** Positional parameters (`?`, `?NNN`), in order. */
  readonly positional: readonly SqlValue[];
  /** Named parameters (`:name`, `@name`, `$name`), keys without the prefix. */
  readonly named: Readonly<Record<string, SqlValue>>;
}

/** One replicated write: what a Raft entry's data decodes to. */
export interface Command {
  readonly statements: readonly Statement[];
  /** All statements commit or none; processing stops at the first error. */
  readonly transaction: boolean;
  /** The leader's clock when it proposed the entry: what 'now' means while applying it. */
  readonly timestampMs: number;
  /** Seeds random() and randomblob() while applying the entry. 64-bit. */
  readonly seed: bigint;
  /** A client's idempotency key: a repeat returns the first result and applies nothing. */
  readonly requestId?: string;
  /** rqlite's `qualify`: rows name their columns `table.column`. Changes results, never the database. */
  readonly qualifyColumns?: boolean;
  /**
   * Queued writes (`?queue`): many clients' requests carried by one entry and run in order.
   * `statements` is then empty; `transaction` makes the whole batch one transaction
   * (rqlite's `-write-queue-tx`), else each request keeps its own `transaction`; and
   * `requestId` names the batch, so a batch sent again after an unknown outcome applies once.
   */
  readonly queued?: readonly QueuedRequest[];
  /**
   * An interactive transaction's commit (transaction-commit.ts): `statements` replayed in
   * one transaction, each result compared with the hash the leader's preview recorded;
   * any difference rolls everything back with a conflict result.
   */
  readonly interactive?: InteractiveCommit;
}

/** What an interactive transaction's commit carries besides its statements. */
export interface InteractiveCommit {
  /** The transaction's own 'now' (its start on the leader): every statement's date/time functions see it. */
  readonly timestampMs: number;
  /** One hash per statement (transaction-replay.ts), of the result the transaction saw. */
  readonly resultHashes: readonly Uint8Array[];
  /**
   * A retried commit of a transaction this leader does not know: applies nothing and
   * records the request id, so the reply is the first commit's result if that one applied,
   * and "not found" otherwise (and then for good: the first can no longer apply after it).
   */
  readonly missing: boolean;
}

/** One client's request inside a queued batch: its statements, its `?transaction`, its idempotency key. */
export interface QueuedRequest {
  readonly statements: readonly Statement[];
  readonly transaction: boolean;
  readonly requestId?: string;
}

export type StatementResult =
  | {
      readonly kind: 'write';
      readonly lastInsertId: number | bigint;
      readonly rowsAffected: number;
      readonly timeSeconds?: number;
    }
  | {
      readonly kind: 'rows';
      readonly columns: readonly string[];
      /** Declared column types, lower-cased; for a column without one, the first row's storage class (result-types.ts). */
      readonly types: readonly string[];
      readonly rows: readonly (readonly SqlResultValue[])[];
      readonly timeSeconds?: number;
    }
  /** DDL and other statements that neither change rows nor return any. */
  | { readonly kind: 'empty'; readonly timeSeconds?: number }
  /**
   * A SQL error: deterministic, identical on every node, a result rather than a failure.
   * `sqliteCode` names SQLite's extended result code (`SQLITE_CONSTRAINT_UNIQUE`) when
   * SQLite reported the error; quorumlite's own errors have none.
   */
  | { readonly kind: 'error'; readonly error: string; readonly sqliteCode?: string; readonly timeSeconds?: number };

/** What applying one entry did. */
export interface ApplyOutcome {
  readonly entryIndex: number;
  /** One per statement that ran (a transaction stops at its first error). */
  readonly results: readonly StatementResult[];
  /** The request id was seen before: these are the first execution's results; nothing ran. */
  readonly deduplicated: boolean;
  /** The entry was at or below the applied index (replay after a crash): nothing ran. */
  readonly skipped: boolean;
}

/** What status() reports of a state machine. */
export interface StateMachineStatus {
  readonly path: string;
  readonly sqliteVersion: string;
  readonly appliedIndex: number;
  readonly healthy: boolean;
  /** Why the machine halted, while it is unhealthy. */
  readonly haltReason: string | undefined;
}
