/**
 * Error replies of the HTTP API. Status and body are rqlite's, byte for byte (rqlite
 * clients match on them); on top, every error reply names its cause in the header
 * `X-Quorumlite-Error: <code>`, so our client branches on a stable code instead of
 * matching message text that may change.
 */
import type { ServiceErrorCode } from '../service/service.js';

/** The header that carries an error reply's code. */
export const errorCodeHeader = 'X-Quorumlite-Error';

/** Every value `X-Quorumlite-Error` can take; the first ten are the service's own codes, sent as they are. */
export type HttpErrorCode =
  /** This node is not the leader and did not forward: 301 to the leader (Location), or 503 when it knows no leader address. */
  | 'NOT_LEADER'
  /** No leader is known right now (503 "leader not found"). */
  | 'NO_LEADER'
  /** A `level=none` read with `freshness` found this node too stale (HTTP 200, body `{"error": …}`). */
  | 'STALE_READ'
  /** A wait passed its `timeout` (503; 408 for `?queue&wait`, and when a request's head or body arrives too slowly). */
  | 'TIMEOUT'
  /** The request is malformed: body, statement, parameter or header (400). */
  | 'BAD_REQUEST'
  /** The credentials were refused (401 with WWW-Authenticate). */
  | 'UNAUTHORIZED'
  /** This node cannot serve the request now (shutting down, overloaded, leadership changed); another attempt may succeed (503). */
  | 'UNAVAILABLE'
  /** This node stopped applying after an environmental failure (disk full, I/O error); try another node (503). */
  | 'HALTED'
  /** No such path, status key or cluster member (404). */
  | 'NOT_FOUND'
  /** An unexpected failure inside the server; the details are in its log, not the reply (500). */
  | 'INTERNAL'
  /** The request body, or a chunk extension, is larger than the server's bound (413). */
  | 'BODY_TOO_LARGE'
  /** The request holds more statements than `statementCountMax` (413). */
  | 'TOO_MANY_STATEMENTS'
  /** The request URL is longer than `urlBytesMax` (414). */
  | 'URL_TOO_LONG'
  /** The request headers are larger than `headerBytesMax` (431). */
  | 'HEADERS_TOO_LARGE'
  /** The path exists but not for this method; `Allow` lists the methods (405). */
  | 'METHOD_NOT_ALLOWED'
  /** `/readyz` found a readiness check failing; the body names it (503). */
  | 'NOT_READY';

export const httpErrorCodes: readonly HttpErrorCode[] = [
  'NOT_LEADER',
  'NO_LEADER',
  'STALE_READ',
  'TIMEOUT',
  'BAD_REQUEST',
  'UNAUTHORIZED',
  'UNAVAILABLE',
  'HALTED',
  'NOT_FOUND',
  'INTERNAL',
  'BODY_TOO_LARGE',
  'TOO_MANY_STATEMENTS',
  'URL_TOO_LONG',
  'HEADERS_TOO_LARGE',
  'METHOD_NOT_ALLOWED',
  'NOT_READY',
];

// A service code missing from HttpErrorCode fails to compile here.
const serviceCodesAreHttpCodes: ServiceErrorCode extends HttpErrorCode ? true : never = true;
void serviceCodesAreHttpCodes;

/**
 * A request the HTTP layer refuses, or a service failure turned into rqlite's answer.
 * It becomes a plain text body (`message` and a newline, like Go's `http.Error` in
 * rqlite) with `status`, and `code` in the `X-Quorumlite-Error` header.
 */
export class HttpError extends Error {
  override readonly name = 'HttpError';

  constructor(
    readonly status: number,
    readonly code: HttpErrorCode,
    message: string,
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
  }
}

export function badRequest(message: string): HttpError {
  return new HttpError(400, 'BAD_REQUEST', message);
}
