/**
 * Interactive transactions (docs/ARCHITECTURE.md, "Interactive transactions"): a
 * transaction that spans several requests, held by the leader. `Client.begin()` opens
 * one; each call carries its id (`?tx=`); `commit()` is one log entry applied only if
 * everything the transaction read and wrote is still what it saw, else it fails with
 * TX_CONFLICT. `Client.interactive()` runs a function in a transaction and runs it
 * again on TX_CONFLICT or TX_NOT_FOUND (the transaction was lost with its leader), with
 * full-jitter backoff, a bounded number of times.
 *
 * Every call sends an idempotency key, so a call the call runner retries after a lost
 * reply runs once inside the transaction (the leader answers a repeat of the last key
 * with the first answer), and a commit retried after a lost reply is applied once.
 */
import type { CallOptions, ResultOptions } from './call-options.js';
import { retryOnConflict, type ConflictRetryOptions, type ConflictRetryTools } from './conflict-retry.js';
import type { InStatement, Reply, Value } from './types.js';

/** What a transaction's statement call is: which endpoint, and its options. */
export type TransactionCallKind = 'query' | 'execute' | 'request';

/** The client's side of the wire, given to each Transaction (the client keeps its internals private). */
export interface TransactionWire {
  statements<Row>(
    kind: TransactionCallKind,
    transactionId: string,
    statements: InStatement | readonly InStatement[],
    options: ResultOptions,
  ): Promise<Reply<Row>>;
  end(action: 'commit' | 'rollback', transactionId: string, options: CallOptions): Promise<{ readonly raftIndex: number | undefined }>;
}

/** Options of one statement call inside a transaction (consistency levels do not apply: the leader answers). */
export type TransactionStatementOptions = ResultOptions;

export class Transaction {
  readonly id: string;
  readonly #wire: TransactionWire;
  #ended = false;

  constructor(id: string, wire: TransactionWire) {
    this.id = id;
    this.#wire = wire;
  }

  /** True once commit() or rollback() was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /** Reads inside the transaction: its snapshot plus its own writes. */
  async query<Row = Record<string, Value>>(statements: InStatement | readonly InStatement[], options: TransactionStatementOptions = {}): Promise<Reply<Row>> {
    return this.#wire.statements<Row>('query', this.id, statements, options);
  }

  /** Writes inside the transaction (buffered until commit); rowsAffected and lastInsertId as seen inside it. */
  async execute<Row = Record<string, Value>>(statements: InStatement | readonly InStatement[], options: TransactionStatementOptions = {}): Promise<Reply<Row>> {
    return this.#wire.statements<Row>('execute', this.id, statements, options);
  }

  /** Reads and writes mixed, inside the transaction. */
  async request<Row = Record<string, Value>>(statements: InStatement | readonly InStatement[], options: TransactionStatementOptions = {}): Promise<Reply<Row>> {
    return this.#wire.statements<Row>('request', this.id, statements, options);
  }

  /** Commits: one log entry. Throws TX_CONFLICT when something it read or wrote changed meanwhile (nothing applied). */
  async commit(options: CallOptions = {}): Promise<{ readonly raftIndex: number | undefined }> {
    this.#ended = true;
    return this.#wire.end('commit', this.id, options);
  }

  /** Rolls back: the leader forgets the transaction. */
  async rollback(options: CallOptions = {}): Promise<void> {
    this.#ended = true;
    await this.#wire.end('rollback', this.id, options);
  }
}

/** The call's options, and how often and after what backoff a conflict reruns the function (conflict-retry.ts). */
export interface InteractiveOptions extends CallOptions, ConflictRetryOptions {}

interface InteractiveRunner extends ConflictRetryTools {
  begin(options: CallOptions): Promise<Transaction>;
}

/**
 * Runs `body` in a transaction and commits it; on TX_CONFLICT or TX_NOT_FOUND runs it
 * again in a new transaction, after a full-jitter backoff, at most `attemptsMax` times.
 * Any other error rolls the transaction back (best effort) and is thrown as it is.
 */
export async function runInteractive<Result>(
  runner: InteractiveRunner,
  body: (transaction: Transaction) => Promise<Result>,
  options: InteractiveOptions,
): Promise<Result> {
  const callOptions: CallOptions = pickCallOptions(options);
  const runOnce = async (): Promise<Result> => {
    const transaction = await runner.begin(callOptions);
    try {
      const result = await body(transaction);
      if (!transaction.ended) await transaction.commit(callOptions);
      return result;
    } catch (error) {
      if (!transaction.ended) await transaction.rollback(callOptions).catch(() => undefined);
      throw error;
    }
  };
  return retryOnConflict(runOnce, options, runner);
}

function pickCallOptions(options: CallOptions): CallOptions {
  return {
    ...(options.signal === undefined ? {} : { signal: options.signal }),
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.deadlineMs === undefined ? {} : { deadlineMs: options.deadlineMs }),
  };
}

/** Which statement endpoint a kind calls. */
export function transactionPath(kind: TransactionCallKind): string {
  return `/db/${kind}`;
}
