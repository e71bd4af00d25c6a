/** The HTTP server's bounds and settings, each with its unit last. */
import type { AccessControl } from '../service/access-control.js';

interface HttpLogger {
  error(object: unknown, message: string): void;
}

/**
 * HTTPS instead of plain HTTP (rqlited's -http-cert, -http-key, -http-ca-cert,
 * -http-verify-client, -http-verify-common-name). The PEM contents are given; the
 * file names are only reported by /status, as rqlite does.
 */
export interface HttpsOptions {
  readonly cert: Buffer;
  readonly key: Buffer;
  /** Verifies client certificates (with verifyClient); Node's bundled roots without it. */
  readonly ca: Buffer | undefined;
  /** Mutual TLS: a client without a certificate signed by `ca` is refused at the handshake. */
  readonly verifyClient: boolean;
  /** With verifyClient: the Common Name the client certificate must have; undefined: any. */
  readonly clientCommonName: string | undefined;
  readonly certFile: string;
  readonly keyFile: string;
  readonly caFile: string;
}

export interface HttpServerOptions {
  /** Largest request body of a data endpoint; one byte more is 413. */
  readonly bodyBytesMax: number;
  /** Largest body of a control endpoint (`/leader`, `/remove`). */
  readonly controlBodyBytesMax: number;
  /** Largest body of `/db/load` and `/boot` (a whole database, streamed, never held in memory); one byte more is 413. */
  readonly loadBodyBytesMax: number;
  /** Most statements in one request; more is 413. */
  readonly statementCountMax: number;
  /** Longest request target (path and query); longer is 414. */
  readonly urlBytesMax: number;
  /** Largest request head as Node counts it: the request target plus every header name and value (431 beyond it). */
  readonly headerBytesMax: number;
  /** Longest `Idempotency-Key` header. */
  readonly idempotencyKeyBytesMax: number;
  /** Most open client connections; more are refused by the socket layer. */
  readonly connectionCountMax: number;
  /** `timeout` when the client gives none (rqlite: 30 s). */
  readonly defaultTimeoutMs: number;
  /** `linearizable_timeout` when the client gives none (rqlite: 10 s). */
  readonly defaultLinearizableTimeoutMs: number;
  /** Largest duration a client may ask for in any duration parameter. */
  readonly timeoutMsMax: number;
  /** How long past a request's own timeout the HTTP layer waits for the service. */
  readonly serviceGraceMs: number;
  /** Time allowed to receive the request headers. */
  readonly headersTimeoutMs: number;
  /** Time allowed to receive a whole request (headers and body). */
  readonly requestTimeoutMs: number;
  /** How often Node checks connections for the headers and request timeouts. */
  readonly connectionsCheckingIntervalMs: number;
  /** How long an idle keep-alive connection stays open. */
  readonly keepAliveTimeoutMs: number;
  /** How long a response may wait for a client that reads none of it before the connection is closed. */
  readonly responseStallTimeoutMs: number;
  /** How long `close()` waits for requests in flight before cutting connections. */
  readonly closeTimeoutMs: number;
  /** Response bodies are written in chunks of about this many characters. */
  readonly responseChunkCharacters: number;
  /** `X-RQLITE-VERSION`, the rqlite version whose API this server speaks. */
  readonly rqliteVersion: string;
  /** `X-Quorumlite-Version`. */
  readonly quorumliteVersion: string;
  /** `Access-Control-Allow-Origin` on every response when set. */
  readonly allowOrigin: string | null;
  readonly logger: HttpLogger | null;
  /** Who may call which endpoint (the -auth file; auth-check.ts); null: every request is allowed. */
  readonly accessControl: AccessControl | null;
  /** Serve HTTPS; null: plain HTTP. */
  readonly https: HttpsOptions | null;
}

export const httpServerDefaults: HttpServerOptions = {
  bodyBytesMax: 64 * 1024 * 1024,
  controlBodyBytesMax: 4 * 1024,
  loadBodyBytesMax: 2 * 1024 * 1024 * 1024,
  statementCountMax: 100_000,
  urlBytesMax: 8 * 1024,
  headerBytesMax: 16 * 1024,
  idempotencyKeyBytesMax: 256,
  connectionCountMax: 4096,
  defaultTimeoutMs: 30_000,
  defaultLinearizableTimeoutMs: 10_000,
  timeoutMsMax: 10 * 60_000,
  serviceGraceMs: 1_000,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 5 * 60_000,
  connectionsCheckingIntervalMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  responseStallTimeoutMs: 30_000,
  closeTimeoutMs: 10_000,
  responseChunkCharacters: 64 * 1024,
  rqliteVersion: 'v10.0.0',
  quorumliteVersion: '0.1.0',
  allowOrigin: null,
  logger: null,
  accessControl: null,
  https: null,
};

const positiveIntegerKeys = [
  'bodyBytesMax',
  'controlBodyBytesMax',
  'loadBodyBytesMax',
  'statementCountMax',
  'urlBytesMax',
  'headerBytesMax',
  'idempotencyKeyBytesMax',
  'connectionCountMax',
  'defaultTimeoutMs',
  'defaultLinearizableTimeoutMs',
  'timeoutMsMax',
  'headersTimeoutMs',
  'requestTimeoutMs',
  'connectionsCheckingIntervalMs',
  'keepAliveTimeoutMs',
  'responseStallTimeoutMs',
  'closeTimeoutMs',
  'responseChunkCharacters',
] as const;

/** Defaults filled in; a nonsensical setting is a programmer error and throws. */
export function resolveHttpServerOptions(partial: Partial<HttpServerOptions>): HttpServerOptions {
  const options: HttpServerOptions = { ...httpServerDefaults, ...dropUndefined(partial) };
  for (const key of positiveIntegerKeys) {
    const value = options[key];
    if (!Number.isSafeInteger(value) || value <= 0) {
      throw new RangeError(`HTTP option ${key} must be a positive integer, got ${String(value)}`);
    }
  }
  if (!Number.isSafeInteger(options.serviceGraceMs) || options.serviceGraceMs < 0) {
    throw new RangeError(`HTTP option serviceGraceMs must be a non-negative integer`);
  }
  if (options.urlBytesMax >= options.headerBytesMax) {
    throw new RangeError('HTTP option urlBytesMax must be below headerBytesMax (the URL is part of the head)');
  }
  if (options.defaultTimeoutMs > options.timeoutMsMax) {
    throw new RangeError('HTTP option defaultTimeoutMs must not exceed timeoutMsMax');
  }
  if (options.headersTimeoutMs > options.requestTimeoutMs) {
    throw new RangeError('HTTP option headersTimeoutMs must not exceed requestTimeoutMs');
  }
  return options;
}

function dropUndefined<T extends object>(partial: T): Partial<T> {
  return Object.fromEntries(Object.entries(partial).filter(([, value]) => value !== undefined)) as Partial<T>;
}
