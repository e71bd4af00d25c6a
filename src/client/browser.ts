/**
 * quorumlite/client for browsers and other fetch-only runtimes: the same API as
 * index.ts, on the fetch transport, with no Node-only import. Browsers hide 301
 * Locations from fetch (opaque redirects), so redirects are off by default here and
 * non-leaders forward instead.
 */
import { Client } from './client.js';
import { QuorumliteError } from './errors.js';
import type { ClientConfig } from './options.js';
import { FetchTransport } from './transport.js';

export function createClient(config: ClientConfig): Client {
  // A browser decides what it trusts; it takes no CA, client certificate or "insecure" from a page.
  if (config.tls !== undefined)
    throw new QuorumliteError('INVALID_ARGUMENT', 'config.tls is not available in a browser: the browser decides which certificates it trusts');
  const transport = config.transport ?? new FetchTransport(config.fetch);
  return new Client({ useRedirects: false, ...config }, transport);
}

export { Client } from './client.js';
export type { BackupOptions, CallOptions, ReadOptions, RequestOptions, ResultOptions, WriteOptions } from './call-options.js';
export { isConflict, retryOnConflict, type ConflictRetryOptions } from './conflict-retry.js';
export type { DatabaseChange, DatabaseList } from './database-calls.js';
export { QuorumliteError, isQuorumliteError } from './errors.js';
export { Transaction } from './interactive-transaction.js';
export type { InteractiveOptions, TransactionStatementOptions } from './interactive-transaction.js';
export type { QuorumliteErrorCode } from './errors.js';
export type { ClientConfig } from './options.js';
export { FetchTransport } from './transport.js';
export type { FetchFunction, HttpRequest, HttpResponse, HttpTransport } from './transport.js';
export type * from './types.js';
