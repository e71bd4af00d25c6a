/**
 * The shapes every part of the fault suite shares: what a client did (one record per
 * operation, written as JSON lines to the history file), what the nemesis did, and what a
 * checker concludes. Times are milliseconds since the run began, from one monotonic clock
 * in the one process that runs every client, so "completed before invoked" is exact.
 */

/**
 * ok: the operation took effect and `output` says what it saw. fail: it definitely did not
 * take effect (the node refused it before it reached the log). info: unknown (timeout,
 * connection lost, node killed): it may take effect at any later time, or never.
 */
export type Outcome = 'ok' | 'fail' | 'info';

export interface OperationRecord<Function extends string = string, Input = unknown, Output = unknown> {
  /** Unique, increasing in invocation order. */
  readonly id: number;
  /** The client that ran it; a client runs one operation at a time. */
  readonly process: number;
  readonly f: Function;
  readonly input: Input;
  readonly outcome: Outcome;
  /** Present exactly when outcome is 'ok'. */
  readonly output?: Output;
  readonly invokeMs: number;
  /** When the client learned the outcome (for info: when it gave up). */
  readonly completeMs: number;
  /** The node (HTTP base URL) the client addressed. */
  readonly node: string;
  /** For fail and info: why, as a short stable text (the error code when there is one). */
  readonly error?: string;
  /** For reads: the consistency level asked for (rqlite's `level`). */
  readonly level?: string;
}

// ---- register: one integer register per key, read / write / compare-and-set ----

export type RegisterFunction = 'read' | 'write' | 'cas';
export type RegisterInput =
  | { readonly key: number }
  | { readonly key: number; readonly value: number }
  | { readonly key: number; readonly from: number; readonly to: number };
/** read: the value (null before any write); write: nothing; cas: whether it swapped. */
export type RegisterOutput = { readonly value: number | null } | { readonly applied: boolean } | Record<string, never>;
export type RegisterOperation = OperationRecord<RegisterFunction, RegisterInput, RegisterOutput>;

// ---- list-append: transactions of appends to and reads of lists, one list per key ----

/** ['append', key, element] or ['r', key, list read (null in the input)]. */
export type MicroOperation = readonly ['append', number, number] | readonly ['r', number, readonly number[] | null];
export type ListAppendOperation = OperationRecord<'txn', readonly MicroOperation[], readonly MicroOperation[]>;

// ---- bank: transfers between accounts; every read sees the same total ----

export interface TransferInput {
  readonly from: number;
  readonly to: number;
  readonly amount: number;
}
/** transfer: whether it moved money (false: the source had too little); read: balance per account. */
export type BankOperation =
  | OperationRecord<'transfer', TransferInput, { readonly applied: boolean }>
  | OperationRecord<'read', null, Readonly<Record<string, number>>>;

// ---- nemesis ----

export type NemesisKind = 'kill' | 'pause' | 'partition' | 'clock' | 'disk' | 'membership' | 'etcd' | 'etcd-partition';

/** One fault, from when it began to when it was healed (endMs undefined: never healed). */
export interface NemesisEvent {
  readonly kind: NemesisKind;
  /** Short, e.g. 'kill leader n2', 'partition majority n1,n2,n3 | n4,n5'. */
  readonly description: string;
  /** Node names (n1…) the fault touched. */
  readonly targets: readonly string[];
  readonly startMs: number;
  readonly endMs?: number;
  /** The fault hit the node that led when it began (killed, paused, cut off or removed it): failover time is measured after these. */
  readonly leaderAffected?: boolean;
}

// ---- checker verdicts ----

export interface Anomaly {
  /** A stable name: 'G0', 'G1a', 'G1c', 'G2', 'nonlinearizable', 'wrong-total', 'lost-write', … */
  readonly type: string;
  /** What went wrong, in a few lines a person can follow. */
  readonly explanation: string;
  /** The operations that show it (ids of OperationRecord). */
  readonly operationIds: readonly number[];
}

export interface CheckerVerdict {
  /** 'unknown' when a bound stopped the search: never a guess. */
  readonly valid: true | false | 'unknown';
  readonly checker: string;
  readonly anomalies: readonly Anomaly[];
  /** Counts worth reporting (operations checked, keys, cycles searched…). */
  readonly stats: Readonly<Record<string, number>>;
  /**
   * Reported, not required: the verdict is shown but does not decide the run (reads at
   * `weak` and `none` promise no linearizability, so what they give is only reported).
   */
  readonly informational?: boolean;
}
