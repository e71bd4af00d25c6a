/**
 * `drizzle(client, config?)`: a drizzle database over the quorumlite client. Queries,
 * typed results and relational queries are drizzle's own; `run` answers
 * `{ rows, rowsAffected, lastInsertId }`; `batch([...])` is one atomic request;
 * `transaction(async (tx) => …)` is an interactive transaction (session.ts).
 */
import {
  createTableRelationsHelpers,
  DefaultLogger,
  entityKind,
  extractTablesRelationalConfig,
  type ExtractTablesWithRelations,
  type Logger,
  type Casing,
  type RelationalSchemaConfig,
} from 'drizzle-orm';
import type { BatchItem, BatchResponse } from 'drizzle-orm/batch';
import { BaseSQLiteDatabase, SQLiteAsyncDialect, type SQLiteSession } from 'drizzle-orm/sqlite-core';
import type { ClientPort } from '../client-port.js';
import type { QuorumliteRunResult } from './remote-callbacks.js';
import { QuorumliteSession } from './session.js';

export interface QuorumliteDrizzleConfig<TSchema extends Record<string, unknown> = Record<string, never>> {
  readonly logger?: boolean | Logger;
  readonly schema?: TSchema;
  readonly casing?: Casing;
}

export class QuorumliteDatabase<TSchema extends Record<string, unknown> = Record<string, never>> extends BaseSQLiteDatabase<
  'async',
  QuorumliteRunResult,
  TSchema
> {
  static override readonly [entityKind]: string = 'QuorumliteDatabase';
  /** The client underneath (the migrator sends its batch through it). */
  readonly $client: ClientPort;
  readonly #session: QuorumliteSession<TSchema, ExtractTablesWithRelations<TSchema>>;

  constructor(
    client: ClientPort,
    dialect: SQLiteAsyncDialect,
    session: QuorumliteSession<TSchema, ExtractTablesWithRelations<TSchema>>,
    schema: RelationalSchemaConfig<ExtractTablesWithRelations<TSchema>> | undefined,
  ) {
    // The session answers `run` with QuorumliteRunResult (remote-callbacks.ts), which sqlite-proxy's types call { rows? }.
    super('async', dialect, session as unknown as SQLiteSession<'async', QuorumliteRunResult, TSchema, ExtractTablesWithRelations<TSchema>>, schema);
    this.$client = client;
    this.#session = session;
  }

  /** All queries in one atomic request (`/db/execute?transaction`): every one applies, or none. */
  async batch<Item extends BatchItem<'sqlite'>, Batch extends Readonly<[Item, ...Item[]]>>(batch: Batch): Promise<BatchResponse<Batch>> {
    return (await this.#session.batch(batch)) as BatchResponse<Batch>;
  }
}

export function drizzle<TSchema extends Record<string, unknown> = Record<string, never>>(
  client: ClientPort,
  config: QuorumliteDrizzleConfig<TSchema> = {},
): QuorumliteDatabase<TSchema> {
  const dialect = new SQLiteAsyncDialect(config.casing === undefined ? {} : { casing: config.casing });
  const logger = config.logger === true ? new DefaultLogger() : config.logger === false ? undefined : config.logger;
  let schema: RelationalSchemaConfig<ExtractTablesWithRelations<TSchema>> | undefined;
  if (config.schema !== undefined) {
    const tables = extractTablesRelationalConfig<ExtractTablesWithRelations<TSchema>>(config.schema, createTableRelationsHelpers);
    schema = { fullSchema: config.schema, schema: tables.tables, tableNamesMap: tables.tableNamesMap };
  }
  const session = new QuorumliteSession<TSchema, ExtractTablesWithRelations<TSchema>>(client, dialect, schema, logger === undefined ? {} : { logger });
  return new QuorumliteDatabase<TSchema>(client, dialect, session, schema);
}
