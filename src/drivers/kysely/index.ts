/**
 * quorumlite/kysely — a Kysely dialect over the quorumlite client. Needs the optional peer
 * dependency `kysely`. See docs/ORM.md.
 */
export { QuorumliteDialect, type QuorumliteDialectConfig } from './dialect.js';
export { QuorumliteDriver } from './driver.js';
export { QuorumliteAdapter, type MigrationLockConfig } from './migration-lock.js';
export { isConflict, retryOnConflict, type ConflictRetryOptions } from '../../client/conflict-retry.js';
export type { ClientPort, InteractiveTransactionPort, StatementOptions, StatementPort } from '../client-port.js';
