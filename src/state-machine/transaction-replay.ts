/**
 * What the leader's preview of an interactive transaction and every node's apply of its
 * commit share, so that both compute the same thing: each statement runs with the
 * transaction's own 'now' and a seed of its own (random() answers the same in the preview
 * and at apply, however many statements ran before), and each result is reduced to a
 * hash of everything a client could observe of it (rows with their exact storage
 * classes, column names and declared types, rowsAffected, lastInsertId, an error's text
 * and code; never the timing). Equal hashes at apply mean the transaction saw, at its
 * log position, exactly what it saw on the leader: serializable.
 */
import { createHash, type Hash } from 'node:crypto';
import { EntrySource, type DeterministicFunctions } from './deterministic-functions.js';
import type { StatementRunner } from './statement-runner.js';
import type { SqlResultValue, Statement, StatementResult } from './types.js';

/** The `sqliteCode` of a commit's result when a statement saw something else at apply: nothing applied (HTTP 409). */
export const transactionConflictCode = 'QUORUMLITE_TX_CONFLICT';
/** The `sqliteCode` of a retried commit whose transaction the leader no longer knew, and that never applied (HTTP 404). */
export const transactionMissingCode = 'QUORUMLITE_TX_NOT_FOUND';

/** Bytes of a result hash: SHA-256 cut to 128 bits (a collision needs 2^64 tries; the client cannot choose what the database answers). */
const resultHashBytes = 16;

/** Statement `position`'s seed, from the transaction's: distinct per statement, the same on every node. */
function statementSeed(seed: bigint, position: number): bigint {
  return (seed + BigInt(position + 1) * 0x9e3779b97f4a7c15n) & 0xffff_ffff_ffff_ffffn;
}

/** The transaction's 'now' and seed, and where its statements run. */
export interface ReplayContext {
  readonly runner: StatementRunner;
  readonly functions: DeterministicFunctions | undefined;
  readonly timestampMs: number;
  readonly seed: bigint;
}

/** Runs the transaction's statement at `position` (never qualified: the hash names columns as SQLite does). */
export function runTransactionStatement(context: ReplayContext, statement: Statement, position: number, timings: boolean): StatementResult {
  context.functions?.begin(new EntrySource(context.timestampMs, statementSeed(context.seed, position)));
  try {
    return context.runner.run(statement, timings, false);
  } finally {
    context.functions?.end();
  }
}

export function resultHash(result: StatementResult): Uint8Array {
  const hash = createHash('sha256');
  switch (result.kind) {
    case 'write':
      hash.update(`w${String(result.lastInsertId)}:${result.rowsAffected}`);
      break;
    case 'empty':
      hash.update('e');
      break;
    case 'error':
      hash.update(`x${JSON.stringify([result.error, result.sqliteCode ?? null])}`);
      break;
    case 'rows':
      hash.update(`r${JSON.stringify([result.columns, result.types])}${result.rows.length}`);
      for (const row of result.rows) for (const value of row) hashValue(hash, value);
      break;
  }
  return new Uint8Array(hash.digest().subarray(0, resultHashBytes));
}

/**
 * A value as the client receives it: a number, text and a blob differ ('1' is not 1), and
 * the declared types are in the hash too; an INTEGER 1 and a REAL 1.0 are both the number 1
 * in a result (statement-runner.ts), so they are equal here as they are to the client.
 */
function hashValue(hash: Hash, value: SqlResultValue): void {
  if (value === null) hash.update('n');
  else if (typeof value === 'bigint' || typeof value === 'number') hash.update(`i${String(value)}|`);
  else if (typeof value === 'string') hash.update(`t${Buffer.byteLength(value)}|`).update(value);
  else hash.update(`b${value.byteLength}|`).update(value);
}

export function sameHash(left: Uint8Array, right: Uint8Array | undefined): boolean {
  return right !== undefined && Buffer.from(left.buffer, left.byteOffset, left.byteLength).equals(right);
}

export function conflictResult(position: number): StatementResult {
  return {
    kind: 'error',
    error: `transaction conflict: statement ${position} of the transaction saw a different result at commit; nothing was applied, retry the transaction`,
    sqliteCode: transactionConflictCode,
  };
}
