/**
 * The drizzle session: sqlite-proxy's, whose query mapping is drizzle's own public code,
 * with transactions replaced. sqlite-proxy would send `begin` and `commit` as statements
 * through the one shared callback, where concurrent queries of other callers would join
 * the transaction; here a transaction is an interactive transaction with its own
 * session, whose callback sends every statement to that transaction only.
 */
import { entityKind, type RelationalSchemaConfig, type TablesRelationalConfig } from 'drizzle-orm';
import type { Logger } from 'drizzle-orm/logger';
import { SQLiteProxyTransaction, SQLiteRemoteSession } from 'drizzle-orm/sqlite-proxy';
import type { SQLiteAsyncDialect, SQLiteTransactionConfig } from 'drizzle-orm/sqlite-core';
import { beginInteractive, type ClientPort, commitOrRelease } from '../client-port.js';
import { remoteBatchCallback, remoteCallback } from './remote-callbacks.js';

interface SessionOptions {
  readonly logger?: Logger;
}

export class QuorumliteSession<TFullSchema extends Record<string, unknown>, TSchema extends TablesRelationalConfig> extends SQLiteRemoteSession<
  TFullSchema,
  TSchema
> {
  static override readonly [entityKind]: string = 'QuorumliteSession';
  readonly #client: ClientPort;
  readonly #dialect: SQLiteAsyncDialect;
  readonly #schema: RelationalSchemaConfig<TSchema> | undefined;
  readonly #options: SessionOptions;

  constructor(client: ClientPort, dialect: SQLiteAsyncDialect, schema: RelationalSchemaConfig<TSchema> | undefined, options: SessionOptions) {
    super(remoteCallback(client), dialect, schema, remoteBatchCallback(client), toRemoteOptions(options));
    this.#client = client;
    this.#dialect = dialect;
    this.#schema = schema;
    this.#options = options;
  }

  /**
   * Runs `work` in an interactive transaction: commit when it returns, rollback when it
   * throws (tx.rollback() included). A commit that conflicts throws TX_CONFLICT and
   * applied nothing: wrap the call in retryOnConflict to run it again.
   */
  override async transaction<Result>(
    work: (transaction: SQLiteProxyTransaction<TFullSchema, TSchema>) => Promise<Result>,
    config?: SQLiteTransactionConfig,
  ): Promise<Result> {
    if (config?.behavior !== undefined && config.behavior !== 'deferred') {
      // Optimistic transactions take no lock, so IMMEDIATE and EXCLUSIVE cannot mean what SQLite means by them.
      throw new Error(`quorumlite transactions are optimistic: behavior '${config.behavior}' is not available`);
    }
    const interactive = await beginInteractive(this.#client);
    const session = new SQLiteRemoteSession<TFullSchema, TSchema>(
      remoteCallback(interactive),
      this.#dialect,
      this.#schema,
      undefined,
      toRemoteOptions(this.#options),
    );
    const transaction = new QuorumliteTransaction<TFullSchema, TSchema>('async', this.#dialect, session, this.#schema);
    let result: Result;
    try {
      result = await work(transaction);
    } catch (error) {
      await interactive.rollback().catch(() => undefined);
      throw error;
    }
    await commitOrRelease(interactive);
    return result;
  }
}

function toRemoteOptions(options: SessionOptions): { logger?: Logger } {
  return options.logger === undefined ? {} : { logger: options.logger };
}

/**
 * sqlite-proxy's transaction, without nesting: a nested `tx.transaction()` would send
 * SAVEPOINT statements, which an interactive transaction refuses with a message about
 * requests; this says what is missing instead, before anything is sent.
 */
class QuorumliteTransaction<TFullSchema extends Record<string, unknown>, TSchema extends TablesRelationalConfig> extends SQLiteProxyTransaction<
  TFullSchema,
  TSchema
> {
  static override readonly [entityKind]: string = 'QuorumliteTransaction';

  override async transaction<Result>(_work: (transaction: SQLiteProxyTransaction<TFullSchema, TSchema>) => Promise<Result>): Promise<Result> {
    throw new Error('nested transactions need savepoints, which quorumlite interactive transactions do not take');
  }
}
