/**
 * What runs inside one entry's transaction: the request-id dedup lookup and record, the
 * entry's own time and seed for random() and 'now', all-or-nothing `transaction`
 * commands, queued batches (many clients' requests in one entry), and ROLLBACK conflict
 * resolution turned into deterministic results. The state machine owns the transaction
 * around it (begin, commit, halt, recover).
 */
import { resetConnectionState, type Connections } from './connections.js';
import { EntrySource, type DeterministicFunctions, type TimeAndRandomSource } from './deterministic-functions.js';
import { rollbackQuietly } from './machine-connections.js';
import { decodeResults, encodeResults } from './result-codec.js';
import { applyInteractiveCommit, transactionEnded } from './transaction-commit.js';
import { conflictResult } from './transaction-replay.js';
import type { ApplyOutcome, Command, QueuedRequest, Statement, StatementResult } from './types.js';

/** What runs as one request: a command's statements, or one request's inside a queued batch. */
type StatementList = Pick<Command, 'statements' | 'qualifyColumns'>;

const deferredViolationMessage = 'FOREIGN KEY or other deferred constraint failed at commit: every statement of this request was rolled back';

/** Thrown inside a batch when a statement's ROLLBACK ended the shared transaction, or its COMMIT hit a deferred violation. */
export class TransactionLostError extends Error {}

interface EntryExecutionSettings {
  /** Fill `timeSeconds` in results. */
  readonly timings: boolean;
  readonly dedupRequestCountMax: number;
  readonly dedupWindowMs: number;
}

export class EntryExecutor {
  readonly #settings: EntryExecutionSettings;
  /** The deterministic random() and 'now' (absent with determinism 'sqlite-builtin'). */
  readonly #functions: DeterministicFunctions | undefined;
  /** Test-only (determinism 'local-clock'): this node's clock and seed instead of the entry's. */
  readonly #localSource: TimeAndRandomSource | undefined;

  constructor(settings: EntryExecutionSettings, functions: DeterministicFunctions | undefined, localSource: TimeAndRandomSource | undefined) {
    this.#settings = settings;
    this.#functions = functions;
    this.#localSource = localSource;
  }

  /**
   * The entry's statements broke a deferred constraint, detected only at COMMIT: the entry's
   * statements are undone and every one reports it (SQLite cannot say which one did it).
   */
  deferredViolation(connections: Connections, index: number, command: Command): ApplyOutcome {
    // A queued batch reports no results; none of its requests applied, so none is recorded.
    const results: StatementResult[] = command.statements.map(() => ({ kind: 'error', error: deferredViolationMessage }));
    if (command.requestId !== undefined) this.#recordRequest(connections, index, command.requestId, command.timestampMs, results);
    return { entryIndex: index, results, deduplicated: false, skipped: false };
  }

  #sourceFor(command: Command): TimeAndRandomSource {
    if (this.#localSource !== undefined) return this.#localSource;
    return new EntrySource(command.timestampMs, command.seed);
  }

  /** Runs `command` as entry `index` in its open transaction; `batching`: earlier entries of a batch share it. */
  execute(connections: Connections, index: number, command: Command, batching: boolean): ApplyOutcome {
    const requestId = command.requestId;
    if (requestId !== undefined) {
      const stored = this.#lookupRequest(connections, requestId, command.timestampMs);
      if (stored !== undefined) return { entryIndex: index, results: stored, deduplicated: true, skipped: false };
    }
    connections.applyRunner.beginEntry();
    if (command.interactive !== undefined) {
      const results = this.#runInteractive(connections, command, batching);
      if (requestId !== undefined) this.#recordRequest(connections, index, requestId, command.timestampMs, results);
      return { entryIndex: index, results, deduplicated: false, skipped: false };
    }
    this.#functions?.begin(this.#sourceFor(command));
    let results: StatementResult[];
    try {
      if (command.queued !== undefined) {
        this.#runQueued(connections, index, command, command.queued, batching);
        results = []; // queued writes report no results (as rqlite's)
      } else {
        results = command.transaction ? this.#runTransaction(connections, command, batching) : this.#runEach(connections, command, batching);
      }
    } finally {
      this.#functions?.end();
    }
    if (requestId !== undefined) this.#recordRequest(connections, index, requestId, command.timestampMs, results);
    return { entryIndex: index, results, deduplicated: false, skipped: false };
  }

  /** An interactive transaction's commit (transaction-commit.ts): applied whole, or a conflict. */
  #runInteractive(connections: Connections, command: Command, batching: boolean): StatementResult[] {
    const outcome = applyInteractiveCommit(connections, command, command.interactive as NonNullable<Command['interactive']>, this.#functions);
    if (outcome !== transactionEnded) return outcome;
    // A ROLLBACK conflict resolution ended the entry's transaction: as for any entry, start over.
    if (batching) throw new TransactionLostError();
    beginEntryTransaction(connections);
    return [conflictResult(command.statements.length)];
  }

  #runEach(connections: Connections, command: StatementList, batching: boolean): StatementResult[] {
    const results: StatementResult[] = [];
    for (const statement of command.statements) {
      const result = connections.applyRunner.run(statement, this.#settings.timings, command.qualifyColumns);
      results.push(result);
      // Only a failing statement can end the transaction (ROLLBACK conflict resolution).
      if (result.kind === 'error' && !connections.apply.inTransaction) restartAfterRollback(connections, results, batching);
    }
    return results;
  }

  /**
   * Runs a `transaction` command: all of its statements or none. In a batch, earlier
   * entries share the SQLite transaction, so a savepoint marks where this entry starts.
   * Alone (apply()), the entry's transaction holds only its connection-state reset before
   * these statements, so a failing statement rolls the whole transaction back and starts
   * it again: the same database, without two savepoint statements on every entry.
   */
  #runTransaction(connections: Connections, command: StatementList, batching: boolean, savepoint = batching): StatementResult[] {
    const results: StatementResult[] = [];
    if (savepoint) connections.control.savepoint.run();
    for (const statement of command.statements) {
      const result = connections.applyRunner.run(statement, this.#settings.timings, command.qualifyColumns);
      results.push(result);
      if (result.kind !== 'error') continue;
      if (!connections.apply.inTransaction) {
        restartAfterRollback(connections, results, batching);
        return results;
      }
      if (savepoint) {
        connections.control.rollbackToSavepoint.run();
        connections.control.releaseSavepoint.run();
      } else {
        connections.control.rollback.run();
        beginEntryTransaction(connections);
      }
      return results;
    }
    if (savepoint) connections.control.releaseSavepoint.run();
    return results;
  }

  /**
   * Runs a queued batch: each request in order, a request whose idempotency key was seen
   * before is skipped, and each keyed request is recorded as it completes (so a key
   * repeated within the batch applies once). Earlier requests share the transaction, so a
   * `transaction` request marks its start with a savepoint. With the batch's own
   * `transaction` (rqlite's -write-queue-tx) the whole batch is one transaction: the
   * first failing statement undoes every request of the batch.
   */
  #runQueued(connections: Connections, index: number, command: Command, queued: readonly QueuedRequest[], batching: boolean): void {
    if (command.transaction) {
      this.#runQueuedTransaction(connections, index, command, queued, batching);
      return;
    }
    for (const request of queued) {
      if (this.#seenBefore(connections, request, command.timestampMs)) continue;
      const results = request.transaction ? this.#runTransaction(connections, request, batching, true) : this.#runEach(connections, request, batching);
      if (request.requestId !== undefined) this.#recordRequest(connections, index, request.requestId, command.timestampMs, results);
    }
  }

  /**
   * The batch as one transaction. Its records wait for the batch to succeed: they go to the
   * internal store, a file of its own that the database's savepoint cannot undo, so a
   * failing request must find nothing of the batch recorded there.
   */
  #runQueuedTransaction(connections: Connections, index: number, command: Command, queued: readonly QueuedRequest[], batching: boolean): void {
    const recorded = new Map<string, StatementResult[]>();
    connections.control.savepoint.run();
    for (const request of queued) {
      if (request.requestId !== undefined && recorded.has(request.requestId)) continue;
      if (this.#seenBefore(connections, request, command.timestampMs)) continue;
      const results = this.#runUntilError(connections, request.statements);
      if (results === undefined) {
        this.#undoQueuedTransaction(connections, batching);
        return;
      }
      if (request.requestId !== undefined) recorded.set(request.requestId, results);
    }
    connections.control.releaseSavepoint.run();
    for (const [requestId, results] of recorded) this.#recordRequest(connections, index, requestId, command.timestampMs, results);
  }

  /** Runs `statements` in order; undefined when one failed (the rest do not run). */
  #runUntilError(connections: Connections, statements: readonly Statement[]): StatementResult[] | undefined {
    const results: StatementResult[] = [];
    for (const statement of statements) {
      const result = connections.applyRunner.run(statement, this.#settings.timings);
      if (result.kind === 'error') return undefined;
      results.push(result);
    }
    return results;
  }

  /** A statement of a one-transaction batch failed: every request of the batch is undone (none was recorded yet). */
  #undoQueuedTransaction(connections: Connections, batching: boolean): void {
    if (connections.apply.inTransaction) {
      connections.control.rollbackToSavepoint.run();
      connections.control.releaseSavepoint.run();
      return;
    }
    // ROLLBACK conflict resolution ended the transaction: the whole entry is undone.
    if (batching) throw new TransactionLostError();
    beginEntryTransaction(connections);
  }

  #seenBefore(connections: Connections, request: QueuedRequest, timestampMs: number): boolean {
    return request.requestId !== undefined && this.#lookupRequest(connections, request.requestId, timestampMs) !== undefined;
  }

  #lookupRequest(connections: Connections, requestId: string, timestampMs: number): StatementResult[] | undefined {
    const stored = connections.store.lookup(requestId);
    if (stored === undefined) return undefined;
    if (stored.timestampMs < timestampMs - this.#settings.dedupWindowMs) return undefined;
    return decodeResults(stored.result);
  }

  #recordRequest(connections: Connections, index: number, requestId: string, timestampMs: number, results: readonly StatementResult[]): void {
    connections.store.record(requestId, index, timestampMs, encodeResults(results), this.#settings);
  }
}

/** BEGIN on the database and the connection state reset, first in every entry's transaction. */
export function beginEntryTransaction(connections: Connections): void {
  connections.control.begin.run();
  resetConnectionState(connections);
}

/**
 * COMMIT, or — when a DEFERRABLE INITIALLY DEFERRED constraint is violated at commit, a
 * deterministic SQL outcome — roll back and return false. Anything else propagates.
 */
export function commitUnlessDeferredViolation(connections: Connections): boolean {
  try {
    connections.control.commit.run();
    return true;
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (!(error instanceof Error) || error.name !== 'SqliteError' || typeof code !== 'string' || !code.startsWith('SQLITE_CONSTRAINT')) throw error;
    rollbackQuietly(connections);
    return false;
  }
}

/**
 * A statement's ROLLBACK conflict resolution (from a schema created before quorumlite
 * refused it) ended the entry's transaction. Deterministically: everything before it is
 * undone and reported so, and the entry continues in a new transaction.
 */
function restartAfterRollback(connections: Connections, results: StatementResult[], batching: boolean): void {
  if (batching) throw new TransactionLostError();
  const failedPosition = results.length - 1;
  for (let position = 0; position < failedPosition; position++) {
    results[position] = { kind: 'error', error: `rolled back by statement ${failedPosition}'s ROLLBACK conflict resolution` };
  }
  // The entry starts over: what it recorded in the internal store (earlier requests of a
  // queued batch, whose effects the ROLLBACK just undid) goes too.
  connections.store.undoEntryWrites();
  beginEntryTransaction(connections);
}
