/**
 * drizzle-kit migrations on a cluster: drizzle's sqlite-proxy migrator reads the
 * migrations folder and picks those newer than the last applied; this sends them, with
 * their bookkeeping rows, as one atomic request. A failing migration applies nothing, and
 * of two migrators racing, the second's batch fails on the first's schema (CREATE TABLE
 * of a table that exists) and applies nothing either.
 */
import type { MigrationConfig } from 'drizzle-orm/migrator';
import { migrate as migrateThroughProxy } from 'drizzle-orm/sqlite-proxy/migrator';
import type { SqliteRemoteDatabase } from 'drizzle-orm/sqlite-proxy';
import type { QuorumliteDatabase } from './database.js';

export async function migrate<TSchema extends Record<string, unknown>>(db: QuorumliteDatabase<TSchema>, config: MigrationConfig): Promise<void> {
  const client = db.$client;
  // The proxy migrator only calls run and values, which this database serves as sqlite-proxy's does.
  await migrateThroughProxy(
    db as unknown as SqliteRemoteDatabase<TSchema>,
    async (statements) => {
      if (statements.length > 0) await client.transaction(statements);
    },
    config,
  );
}
