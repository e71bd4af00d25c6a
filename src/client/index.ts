/**
 * quorumlite/client — the Node entry point. `createClient` uses undici keep-alive
 * pools unless `fetch` or `transport` is given. For a browser build import
 * `./browser.js`, which has the same API on fetch and no Node-only import.
 */
import { Client } from './client.js';
import type { ClientConfig } from './options.js';
import { pickTransport } from './transport-choice.js';

export function createClient(config: ClientConfig): Client {
  return new Client(config, pickTransport(config));
}

export { Client } from './client.js';
export type { BackupOptions, CallOptions, ReadOptions, RequestOptions, ResultOptions, WriteOptions } from './call-options.js';
export { isConflict, retryOnConflict, type ConflictRetryOptions } from './conflict-retry.js';
export type { DatabaseChange, DatabaseList } from './database-calls.js';
export { QuorumliteError, isQuorumliteError } from './errors.js';
export { Transaction } from './interactive-transaction.js';
export type { InteractiveOptions, TransactionStatementOptions } from './interactive-transaction.js';
export type { QuorumliteErrorCode, QuorumliteErrorOptions } from './errors.js';
export type { ClientConfig, ClientTlsOptions } from './options.js';
export { defaultRetryPolicyConfig, RetryPolicy, runWithRetries } from './retry-policy.js';
export type { Clock, RandomSource, RetryDecision, RetryPolicyConfig, RetryQuestion, RetryRun, RetryStopReason, Sleep } from './retry-policy.js';
export { FetchTransport } from './transport.js';
export type { FetchFunction, HttpRequest, HttpResponse, HttpTransport } from './transport.js';
export { UndiciTransport, type UndiciTransportOptions } from './undici-transport.js';
export type { JsonValue } from './json-parse.js';
export type * from './types.js';
