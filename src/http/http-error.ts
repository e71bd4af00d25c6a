/**
 * Error replies of the HTTP API. Status and body are rqlite's, byte for byte (rqlite
 * clients match on them); on top, every error reply names its cause in the header
 * `X-Quorumlite-Error: <code>`, so our client branches on a stable code instead of
 * matching message text that may change.
 */
import { serviceErrorCodes, type ServiceErrorCode } from '../service/service.js';

/** The header that carries an error reply's code. */
export const errorCodeHeader = 'X-Quorumlite-Error';

/** The refusals only the HTTP layer makes, before any service call. */
const httpOnlyErrorCodes = [
  /** The request body, or a chunk extension, is larger than the server's bound (413). */
  'BODY_TOO_LARGE',
  /** The request holds more statements than `statementCountMax` (413). */
  'TOO_MANY_STATEMENTS',
  /** The request URL is longer than `urlBytesMax` (414). */
  'URL_TOO_LONG',
  /** The request headers are larger than `headerBytesMax` (431). */
  'HEADERS_TOO_LARGE',
  /** The path exists but not for this method; `Allow` lists the methods (405). */
  'METHOD_NOT_ALLOWED',
  /** `/readyz` found a readiness check failing; the body names it (503). */
  'NOT_READY',
] as const;

/**
 * Every value `X-Quorumlite-Error` can take: the service's own codes, sent as they are
 * (their meanings are in src/service/service.ts), and the HTTP layer's refusals.
 */
export type HttpErrorCode = ServiceErrorCode | (typeof httpOnlyErrorCodes)[number];

export const httpErrorCodes: readonly HttpErrorCode[] = [...serviceErrorCodes, ...httpOnlyErrorCodes];

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
