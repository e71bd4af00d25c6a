/**
 * The transaction workload's commit, as one log entry: the simulator's twin of an
 * interactive transaction's commit (src/state-machine transaction-commit.ts). The client
 * read a snapshot and buffered its writes; the entry carries its idempotency key, every
 * value it read and its writes. Every node applies it the same way: a commit whose key is
 * already recorded is a duplicate (a retry after a lost reply) and answers the recorded
 * outcome without applying anything; otherwise each read is compared with the value the
 * key holds now, at this log position, and only if every one is unchanged are the writes
 * applied (committed); one differs and nothing is applied (conflict). The real commit
 * compares result hashes; the twin compares the values themselves, which is the same test
 * for a key-value read.
 *
 * Values are decimal integers as strings ('' for a key never written, read as 0).
 */
import assert from 'node:assert/strict';

/** `put` stores a value computed from what the transaction read; `add` adds to whatever the key holds at apply (an `UPDATE … SET v = v + 1`). */
export type TransactionWrite =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'add'; readonly key: string; readonly delta: number };

export interface TransactionCommand {
  /** The idempotency key: every attempt to commit the transaction carries the same one. */
  readonly transactionId: string;
  /** What the transaction read: [key, value] in the order it read them. */
  readonly reads: readonly (readonly [string, string])[];
  readonly writes: readonly TransactionWrite[];
}

/** What applying a commit did: applied, rejected as a conflict, or answered as a duplicate of an earlier commit with the same key. */
export type TransactionApplyOutcome = 'committed' | 'conflict' | 'duplicate';

/**
 * Planted transaction bugs (every node alike, so replicas agree and only the
 * serializability checker can tell): a commit applied without validating its reads, a
 * retried commit applied again instead of answered from the recorded outcome, or a
 * retried commit answered as committed whatever the recorded outcome (the replica
 * applies and reports correctly; only what the client is told is wrong).
 */
export type TransactionFault = 'skip-read-validation' | 'reapply-retried-commits' | 'answer-retries-as-committed';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** A transaction command is a JSON object (a key-value command is an array): the first byte tells them apart. */
const objectOpeningByte = '{'.charCodeAt(0);

export function encodeTransactionCommand(command: TransactionCommand): Uint8Array {
  return encoder.encode(JSON.stringify({ tx: command.transactionId, reads: command.reads, writes: command.writes }));
}

export function isTransactionCommand(data: Uint8Array): boolean {
  return data[0] === objectOpeningByte;
}

export function decodeTransactionCommand(data: Uint8Array): TransactionCommand {
  const parsed = JSON.parse(decoder.decode(data)) as { tx?: unknown; reads?: unknown; writes?: unknown };
  assert.ok(typeof parsed.tx === 'string' && parsed.tx.length > 0, 'a transaction command has an idempotency key');
  assert.ok(Array.isArray(parsed.reads) && Array.isArray(parsed.writes), 'a transaction command has reads and writes');
  for (const read of parsed.reads as unknown[]) {
    assert.ok(Array.isArray(read) && read.length === 2 && typeof read[0] === 'string' && typeof read[1] === 'string', 'a read is [key, value]');
  }
  for (const write of parsed.writes as { kind?: unknown; key?: unknown; value?: unknown; delta?: unknown }[]) {
    assert.ok(typeof write.key === 'string', 'a write names its key');
    assert.ok(
      (write.kind === 'put' && typeof write.value === 'string') || (write.kind === 'add' && Number.isSafeInteger(write.delta)),
      `a write is a put of a value or an add of an integer, got ${JSON.stringify(write)}`,
    );
  }
  return { transactionId: parsed.tx, reads: parsed.reads as [string, string][], writes: parsed.writes as TransactionWrite[] };
}

/** A key's value after `write`, given what it holds now. */
function writtenValue(current: string, write: TransactionWrite): string {
  return write.kind === 'put' ? write.value : String(integerValue(current) + write.delta);
}

/** The integer a value stands for ('' is 0). */
export function integerValue(value: string): number {
  const parsed = value === '' ? 0 : Number(value);
  assert.ok(Number.isSafeInteger(parsed), `a workload value is an integer, got ${JSON.stringify(value)}`);
  return parsed;
}

/** A replica's side of the commit: the values it holds and the outcomes it recorded, by idempotency key. */
export interface TransactionTarget {
  get(key: string): string;
  set(key: string, value: string): void;
  readonly recordedOutcomes: Map<string, 'committed' | 'conflict'>;
}

/**
 * Applies `command` at this log position (see the file's comment): what it did, and what
 * its client is told (a duplicate answers the recorded outcome). `fault` plants a bug.
 */
export function applyTransactionCommand(
  target: TransactionTarget,
  command: TransactionCommand,
  fault: TransactionFault | undefined,
): { readonly outcome: TransactionApplyOutcome; readonly answer: 'committed' | 'conflict' } {
  const recorded = target.recordedOutcomes.get(command.transactionId);
  if (recorded !== undefined && fault !== 'reapply-retried-commits') {
    return { outcome: 'duplicate', answer: fault === 'answer-retries-as-committed' ? 'committed' : recorded };
  }
  const readsHold = fault === 'skip-read-validation' || command.reads.every(([key, value]) => target.get(key) === value);
  if (!readsHold) {
    target.recordedOutcomes.set(command.transactionId, 'conflict');
    return { outcome: 'conflict', answer: 'conflict' };
  }
  for (const write of command.writes) target.set(write.key, writtenValue(target.get(write.key), write));
  target.recordedOutcomes.set(command.transactionId, 'committed');
  return { outcome: 'committed', answer: 'committed' };
}
