/**
 * quorumlite/drizzle — a drizzle-orm driver over the quorumlite client. Needs the optional
 * peer dependency `drizzle-orm`. See docs/ORM.md.
 */
export { drizzle, QuorumliteDatabase, type QuorumliteDrizzleConfig } from './database.js';
export { migrate } from './migrator.js';
export { QuorumliteSession } from './session.js';
export type { QuorumliteRunResult } from './remote-callbacks.js';
export { isConflict, retryOnConflict, type ConflictRetryOptions } from '../../client/conflict-retry.js';
export type { ClientPort, InteractiveTransactionPort, StatementOptions, StatementPort } from '../client-port.js';
