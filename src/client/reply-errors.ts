/**
 * Maps a reply that is not a success to a coded error. Which codes are retryable is
 * decided in errors.ts; here only the mapping.
 *
 * A quorumlite server names the cause of every error reply in `X-Quorumlite-Error`,
 * and the client branches on that code alone. Without it (rqlite, or a proxy in
 * front), the HTTP status decides. The message text is read only when the reply is
 * not from quorumlite at all (no `X-Quorumlite-Version`): rqlite says "not leader"
 * or "stale read" in text alone, so for rqlite the text is all there is.
 */
import { QuorumliteError, type QuorumliteErrorCode } from './errors.js';
import type { HttpResponse } from './transport.js';

/** How much of an error body goes into a message, in characters (UTF-16 code units, never half a pair). */
export const errorBodyCharactersMax = 500;

/** An error body up to this size is read as JSON for its `error` field; a larger one only for the text it starts with. */
export const errorBodyJsonBytesMax = 64 * 1024;

/**
 * The server's codes (X-Quorumlite-Error) and what each means to the client. A code
 * not listed (from a newer server) falls back to the status.
 */
export const clientCodeForServerCode: ReadonlyMap<string, QuorumliteErrorCode> = new Map<string, QuorumliteErrorCode>([
  // A 301 is followed before replies are mapped; NOT_LEADER without one means the node knows no leader.
  ['NOT_LEADER', 'NO_LEADER'],
  ['NO_LEADER', 'NO_LEADER'],
  ['STALE_READ', 'STALE_READ'],
  ['TIMEOUT', 'TIMEOUT'],
  ['BAD_REQUEST', 'BAD_REQUEST'],
  ['REFUSED_SQL', 'BAD_REQUEST'],
  ['UNAUTHORIZED', 'UNAUTHORIZED'],
  // Valid credentials without the permission (403): the client cannot fix it by retrying either.
  ['FORBIDDEN', 'UNAUTHORIZED'],
  ['UNAVAILABLE', 'UNAVAILABLE'],
  ['HALTED', 'NODE_HALTED'],
  ['NOT_FOUND', 'HTTP_ERROR'],
  ['INTERNAL', 'SERVER_ERROR'],
  ['BODY_TOO_LARGE', 'BODY_TOO_LARGE'],
  ['TOO_MANY_STATEMENTS', 'BODY_TOO_LARGE'],
  ['URL_TOO_LONG', 'HTTP_ERROR'],
  ['HEADERS_TOO_LARGE', 'HTTP_ERROR'],
  ['METHOD_NOT_ALLOWED', 'HTTP_ERROR'],
  ['NOT_READY', 'UNAVAILABLE'],
  ['TX_CONFLICT', 'TX_CONFLICT'],
  ['TX_NOT_FOUND', 'TX_NOT_FOUND'],
  ['TX_LIMIT', 'TX_LIMIT'],
  // An embedded replica's stream (src/replica) reads the code itself; elsewhere it cannot occur.
  ['LOG_COMPACTED', 'HTTP_ERROR'],
  // A create of an existing database, or past the server's -db-count-max: not retried.
  ['DB_CONFLICT', 'HTTP_ERROR'],
  // Only between nodes (a join or a notify); never an answer to a client's request.
  ['SETTINGS_MISMATCH', 'HTTP_ERROR'],
]);

/** rqlite's wording; consulted only for replies from a server that is not quorumlite. */
const notLeaderPattern = /not leader|leader not found|no leader|leadership lost/i;
const staleReadPattern = /stale read/i;

export function isRedirectStatus(status: number): boolean {
  return status === 301 || status === 302 || status === 307 || status === 308;
}

export function errorForStatus(response: HttpResponse, nodeUrl: string): QuorumliteError | undefined {
  const status = response.status;
  if (status >= 200 && status < 300) return undefined;
  const detail = errorBodyText(response.body);
  const code = codeForServerCode(response) ?? codeForStatus(status, detail, readsText(response));
  return new QuorumliteError(code, `${nodeUrl} answered HTTP ${status}${detail === '' ? '' : `: ${detail}`}`, {
    httpStatus: status,
    nodeUrl,
    serverCode: response.errorCode,
  });
}

function codeForServerCode(response: HttpResponse): QuorumliteErrorCode | undefined {
  return response.errorCode === undefined ? undefined : clientCodeForServerCode.get(response.errorCode);
}

/** Whether the message text may decide the code: only for a server that is not quorumlite. */
function readsText(response: HttpResponse): boolean {
  return response.errorCode === undefined && response.quorumliteVersion === undefined;
}

function codeForStatus(status: number, detail: string, textDecides: boolean): QuorumliteErrorCode {
  if (status === 503) return 'NO_LEADER';
  if (status === 502 || status === 504) return 'CONNECTION_FAILED';
  if (status === 408) return 'TIMEOUT';
  if (status === 400) return 'BAD_REQUEST';
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status === 413) return 'BODY_TOO_LARGE';
  if (status >= 400 && status < 500) return textDecides && notLeaderPattern.test(detail) ? 'NO_LEADER' : 'HTTP_ERROR';
  return 'SERVER_ERROR';
}

/** A request-level `error` in a 200 reply: leader trouble and stale reads are retryable. */
export function errorForRequestError(message: string, response: HttpResponse, nodeUrl: string): QuorumliteError {
  const code = codeForServerCode(response) ?? (readsText(response) ? codeForRequestErrorText(message) : 'SERVER_ERROR');
  return new QuorumliteError(code, `${nodeUrl}: ${message}`, { nodeUrl, serverCode: response.errorCode });
}

function codeForRequestErrorText(message: string): QuorumliteErrorCode {
  if (notLeaderPattern.test(message)) return 'NO_LEADER';
  if (staleReadPattern.test(message)) return 'STALE_READ';
  return 'SERVER_ERROR';
}

/**
 * A per-statement error that means "this node could not run it as leader", not a SQL
 * error. Only rqlite says so per statement; from quorumlite it is always a SQL error.
 */
export function isLeadershipError(message: string, response: HttpResponse): boolean {
  return readsText(response) && notLeaderPattern.test(message);
}

function errorBodyText(body: Uint8Array): string {
  const whole = body.byteLength <= errorBodyJsonBytesMax;
  // Past the JSON bound only the start is decoded: at most 4 bytes make a character.
  const text = new TextDecoder().decode(whole ? body : body.subarray(0, errorBodyCharactersMax * 4)).trim();
  const message = (whole ? jsonErrorField(text) : undefined) ?? text;
  if (message.length <= errorBodyCharactersMax) return message;
  const cut = isHighSurrogate(message.charCodeAt(errorBodyCharactersMax - 1)) ? errorBodyCharactersMax - 1 : errorBodyCharactersMax;
  return `${message.slice(0, cut)}…`;
}

/** The `error` field of a JSON object body (quorumlite's and rqlite's error replies), if the text is one. */
function jsonErrorField(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string') return (parsed as { error: string }).error;
  } catch {
    // Not JSON: the text itself is the message.
  }
  return undefined;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
