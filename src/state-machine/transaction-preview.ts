/**
 * The leader's preview of an interactive transaction (docs/ARCHITECTURE.md, "Interactive
 * transactions"). Its own connection (never the apply connection: connection state such
 * as last_insert_rowid() must not leak between previews and applied entries), opened on
 * first use, closed before the apply connection closes. A preview runs synchronously, in
 * one event-loop turn: BEGIN IMMEDIATE, replay the transaction's earlier statements and
 * compare each result's hash with the one recorded (a read-only statement is skipped when
 * no other connection committed since the last preview: `PRAGMA data_version`), run the
 * new statements and hash their results, ROLLBACK. A replayed result that differs is a
 * conflict at once: a transaction never reads an inconsistent snapshot.
 *
 * What it must never do to the database, and why it cannot:
 * - write a frame to the WAL: `cache_spill = OFF` keeps a transaction's pages in memory
 *   until commit, and a preview never commits, so snapshot captures (which copy WAL frames,
 *   snapshot-capture.ts) see only what the apply connection committed; rolled-back pages
 *   never reach the file (the transaction bounds keep the memory bounded);
 * - checkpoint: `wal_autocheckpoint = 0` (and it never commits);
 * - wait: `busy_timeout = 0`; a lock held elsewhere (a checkpoint on a worker) fails the
 *   preview at once with BUSY, which the node answers as retryable, never blocking the loop.
 */
import type Database from 'better-sqlite3';
import { openPreviewConnection } from './connections.js';
import type { DeterministicFunctions } from './deterministic-functions.js';
import { StateMachineError } from './errors.js';
import { StatementRunner } from './statement-runner.js';
import { resultHash, runTransactionStatement, sameHash, type ReplayContext } from './transaction-replay.js';
import type { Statement, StatementResult } from './types.js';

/** A statement the transaction ran, with the hash of what it saw. */
export interface PreviewedStatement {
  readonly statement: Statement;
  readonly resultHash: Uint8Array;
  /** Changes nothing (SQLite's judgement): need not run again while the database did not change. */
  readonly readOnly: boolean;
}

/** What a transaction holds between previews (the node's registry keeps it). */
export interface PreviewTransaction {
  readonly timestampMs: number;
  readonly seed: bigint;
  readonly statements: readonly PreviewedStatement[];
  /** The preview connection's generation and data_version at the last preview; null before the first. */
  readonly seen: { readonly generation: number; readonly dataVersion: bigint } | null;
}

export type PreviewOutcome =
  | {
      readonly kind: 'ran';
      readonly results: StatementResult[];
      readonly statements: PreviewedStatement[];
      readonly seen: NonNullable<PreviewTransaction['seen']>;
    }
  /** Statement `position` of the earlier ones saw something else now: the transaction must abort. */
  | { readonly kind: 'conflict'; readonly position: number }
  /** A new statement's ROLLBACK conflict resolution ended the transaction. */
  | { readonly kind: 'ended'; readonly position: number };

interface PreviewSettings {
  readonly foreignKeys: boolean;
  readonly extensionPaths: readonly string[];
  readonly statementCacheCountMax: number;
  readonly resultRowCountMax: number;
}

interface PreviewConnection {
  readonly database: Database.Database;
  readonly runner: StatementRunner;
  readonly begin: Database.Statement;
  readonly rollback: Database.Statement;
  readonly dataVersion: Database.Statement;
  readonly generation: number;
}

/** Generations of preview connections in this process: a data_version means something only on its own connection. */
let generationCount = 0;

export class TransactionPreviews {
  readonly #path: string;
  readonly #settings: PreviewSettings;
  readonly #functions: DeterministicFunctions | undefined;
  #connection: PreviewConnection | undefined;

  constructor(path: string, settings: PreviewSettings, functions: DeterministicFunctions | undefined) {
    this.#path = path;
    this.#settings = settings;
    this.#functions = functions;
  }

  #open(): PreviewConnection {
    if (this.#connection !== undefined) return this.#connection;
    const database = openPreviewConnection(this.#path, this.#settings);
    try {
      this.#functions?.register(database);
      const runner = new StatementRunner(database, {
        purpose: 'write',
        statementCacheCountMax: this.#settings.statementCacheCountMax,
        resultRowCountMax: this.#settings.resultRowCountMax,
      });
      generationCount += 1;
      this.#connection = {
        database,
        runner,
        begin: database.prepare('BEGIN IMMEDIATE'),
        rollback: database.prepare('ROLLBACK'),
        dataVersion: database.prepare('PRAGMA data_version').pluck(),
        generation: generationCount,
      };
      return this.#connection;
    } catch (error) {
      database.close();
      throw error;
    }
  }

  /** Runs `statements` after `transaction`'s earlier ones, all rolled back (see the file comment). */
  run(transaction: PreviewTransaction, statements: readonly Statement[], timings: boolean): PreviewOutcome {
    const connection = this.#open();
    try {
      connection.begin.run();
    } catch (error) {
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') throw new StateMachineError('BUSY', 'the database is busy (a checkpoint holds it): retry');
      throw error;
    }
    try {
      return this.#runInTransaction(connection, transaction, statements, timings);
    } finally {
      if (connection.database.inTransaction) connection.rollback.run();
    }
  }

  #runInTransaction(connection: PreviewConnection, transaction: PreviewTransaction, statements: readonly Statement[], timings: boolean): PreviewOutcome {
    const seen = { generation: connection.generation, dataVersion: BigInt(connection.dataVersion.get() as number | bigint) };
    const unchanged = transaction.seen !== null && transaction.seen.generation === seen.generation && transaction.seen.dataVersion === seen.dataVersion;
    const context: ReplayContext = { runner: connection.runner, functions: this.#functions, timestampMs: transaction.timestampMs, seed: transaction.seed };
    connection.runner.beginEntry();
    for (const [position, earlier] of transaction.statements.entries()) {
      if (unchanged && earlier.readOnly) continue;
      const result = runTransactionStatement(context, earlier.statement, position, false);
      if (!sameHash(resultHash(result), earlier.resultHash)) return { kind: 'conflict', position };
    }
    const results: StatementResult[] = [];
    const previewed: PreviewedStatement[] = [];
    for (const statement of statements) {
      const position = transaction.statements.length + previewed.length;
      const readOnly = connection.runner.isReadOnly(statement.sql);
      const result = runTransactionStatement(context, statement, position, timings);
      if (!connection.database.inTransaction) return { kind: 'ended', position };
      results.push(result);
      previewed.push({ statement, resultHash: resultHash(result), readOnly });
    }
    return { kind: 'ran', results, statements: previewed, seen };
  }

  close(): void {
    const connection = this.#connection;
    this.#connection = undefined;
    connection?.database.close();
  }
}
