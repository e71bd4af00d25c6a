/**
 * What runs inside one entry's transaction: the request-id dedup lookup and record, the
 * entry's own time and seed for random() and 'now', all-or-nothing `transaction`
 * commands, and ROLLBACK conflict resolution turned into deterministic results. The
 * state machine owns the transaction around it (begin, commit, halt, recover).
 */
import { resetConnectionState, type Connections } from './connections.js';
import { EntrySource, type DeterministicFunctions, type TimeAndRandomSource } from './deterministic-functions.js';
import { rollbackQuietly } from './machine-connections.js';
import { decodeResults, encodeResults } from './result-codec.js';
import type { ApplyOutcome, Command, StatementResult } from './types.js';

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
    this.#functions?.begin(this.#sourceFor(command));
    let results: StatementResult[];
    try {
      results = command.transaction ? this.#runTransaction(connections, command, batching) : this.#runEach(connections, command, batching);
    } finally {
      this.#functions?.end();
    }
    if (requestId !== undefined) this.#recordRequest(connections, index, requestId, command.timestampMs, results);
    return { entryIndex: index, results, deduplicated: false, skipped: false };
  }

  #runEach(connections: Connections, command: Command, batching: boolean): StatementResult[] {
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
  #runTransaction(connections: Connections, command: Command, batching: boolean): StatementResult[] {
    const results: StatementResult[] = [];
    if (batching) connections.control.savepoint.run();
    for (const statement of command.statements) {
      const result = connections.applyRunner.run(statement, this.#settings.timings, command.qualifyColumns);
      results.push(result);
      if (result.kind !== 'error') continue;
      if (!connections.apply.inTransaction) {
        restartAfterRollback(connections, results, batching);
        return results;
      }
      if (batching) {
        connections.control.rollbackToSavepoint.run();
        connections.control.releaseSavepoint.run();
      } else {
        connections.control.rollback.run();
        beginEntryTransaction(connections);
      }
      return results;
    }
    if (batching) connections.control.releaseSavepoint.run();
    return results;
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
  beginEntryTransaction(connections);
}
