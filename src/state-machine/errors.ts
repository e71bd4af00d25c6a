/**
 * Errors the state machine throws. Callers branch on `code`; the halted error is its own
 * class because the runtime must stop applying (never skip) when it sees one.
 */
import type { ApplyOutcome } from './types.js';

type StateMachineErrorCode =
  /** A command's bytes are not a valid command (bad version, truncated, over a bound). */
  | 'BAD_COMMAND'
  /** A command to encode breaks a bound or holds a value that cannot be encoded. */
  | 'COMMAND_TOO_LARGE'
  | 'INVALID_VALUE'
  /** SQL that quorumlite refuses to replicate (PRAGMA, ATTACH, BEGIN, internal tables, …). */
  | 'REFUSED_SQL'
  /** A file handed to restore() is not a usable quorumlite database. */
  | 'BAD_SNAPSHOT'
  /**
   * The disk or the system refused file work on a worker thread (no space, an I/O error):
   * nothing is wrong with the files; the same call may succeed later, so the node halts and retries it.
   */
  | 'ENVIRONMENT'
  /** The process does not run with TZ=UTC. */
  | 'BAD_ENVIRONMENT'
  /** The database file was written by quorumlite but its internal store is missing: refused rather than reused. */
  | 'INTERNAL_STATE_MISSING'
  /** A read or write names a database that was never created, or was dropped (database-catalog.ts). */
  | 'NO_DATABASE'
  /** A snapshot was asked for while a load is staged (a snapshot must not fall inside one). */
  | 'LOAD_IN_PROGRESS'
  /** Readers kept a snapshot's checkpoint from completing; the snapshot is tried again later. */
  | 'BUSY'
  /** Used after close(). */
  | 'CLOSED'
  /** The database could not be reopened after a halt; apply() retries the reopen. */
  | 'UNAVAILABLE';

/** Codes that say the disk or the system refused (Node's file-system codes, SQLite's), not that a file or a statement is bad. */
const refusalFileCodes = new Set(['ENOSPC', 'EDQUOT', 'EIO', 'EROFS', 'EMFILE', 'ENFILE', 'ENOMEM']);
const refusalSqliteCodePrefixes = ['SQLITE_FULL', 'SQLITE_IOERR', 'SQLITE_NOMEM'];

export function isRefusalCode(code: string): boolean {
  return refusalFileCodes.has(code) || refusalSqliteCodePrefixes.some((prefix) => code.startsWith(prefix));
}

/** `error` as ENVIRONMENT when its code is a refusal (isRefusalCode), else unchanged: file work a node halts on and retries. */
export function asEnvironmentFailure(error: unknown): unknown {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (error instanceof StateMachineError || typeof code !== 'string' || !isRefusalCode(code)) return error;
  return new StateMachineError('ENVIRONMENT', error instanceof Error ? error.message : String(error), { cause: error });
}

export class StateMachineError extends Error {
  readonly code: StateMachineErrorCode;

  constructor(code: StateMachineErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StateMachineError';
    this.code = code;
  }
}

/**
 * An environmental failure (disk full, I/O error, corruption, out of memory, read-only
 * file) while applying an entry. The entry was not applied; the state machine reports
 * unhealthy; applying the same entry again later may succeed. Never skip the entry.
 */
export class StateMachineHaltedError extends Error {
  /**
   * SQLite's extended result code name (`SQLITE_FULL`, `SQLITE_IOERR_WRITE`, …), or
   * `BAD_COMMAND` when the entry's bytes cannot be decoded by this build (a newer command
   * version during a rolling upgrade): stop, upgrade, retry — never skip.
   */
  readonly code: string;
  readonly entryIndex: number;
  /** applyBatch only: outcomes of the entries before `entryIndex` that were applied. */
  outcomesBefore: readonly ApplyOutcome[] = [];

  constructor(entryIndex: number, code: string, detail: string, options?: { cause?: unknown }) {
    super(`state machine halted at entry ${entryIndex}: ${code}: ${detail}`, options);
    this.name = 'StateMachineHaltedError';
    this.code = code;
    this.entryIndex = entryIndex;
  }
}
