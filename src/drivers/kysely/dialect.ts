/**
 * A Kysely dialect for quorumlite: Kysely's own SQLite query compiler and introspector
 * (quorumlite runs SQLite), this package's driver over the quorumlite client, and an
 * adapter whose migration lock holds across a cluster (migration-lock.ts).
 *
 * ```ts
 * const db = new Kysely<Database>({ dialect: new QuorumliteDialect({ client: createClient({ nodes }) }) });
 * ```
 */
import {
  type DatabaseIntrospector,
  type Dialect,
  type DialectAdapter,
  type Driver,
  type Kysely,
  type QueryCompiler,
  SqliteIntrospector,
  SqliteQueryCompiler,
} from 'kysely';
import type { ClientPort } from '../client-port.js';
import { QuorumliteDriver } from './driver.js';
import { type MigrationLockConfig, QuorumliteAdapter } from './migration-lock.js';

export interface QuorumliteDialectConfig extends MigrationLockConfig {
  /** A quorumlite client (`createClient`); the dialect uses it and never closes it. */
  readonly client: ClientPort;
}

export class QuorumliteDialect implements Dialect {
  readonly #config: QuorumliteDialectConfig;

  constructor(config: QuorumliteDialectConfig) {
    this.#config = config;
  }

  createDriver(): Driver {
    return new QuorumliteDriver(this.#config.client);
  }

  createQueryCompiler(): QueryCompiler {
    return new SqliteQueryCompiler();
  }

  createAdapter(): DialectAdapter {
    return new QuorumliteAdapter(this.#config);
  }

  createIntrospector(db: Kysely<unknown>): DatabaseIntrospector {
    return new SqliteIntrospector(db);
  }
}
