/**
 * Maps an HTTP reply that is not a success to a coded error. Which codes are
 * retryable is decided in errors.ts; here only the mapping from status and text.
 */
import { QuorumliteError, type QuorumliteErrorCode } from './errors.js';
import type { HttpResponse } from './transport.js';

/** How much of an error body goes into a message. */
export const errorBodyCharactersMax = 500;

const notLeaderPattern = /not leader|leader not found|no leader|leadership lost/i;
const staleReadPattern = /stale read/i;

export function isRedirectStatus(status: number): boolean {
  return status === 301 || status === 302 || status === 307 || status === 308;
}

export function errorForStatus(response: HttpResponse, nodeUrl: string): QuorumliteError | undefined {
  const status = response.status;
  if (status >= 200 && status < 300) return undefined;
  const detail = errorBodyText(response.body);
  const code = codeForStatus(status, detail);
  return new QuorumliteError(code, `${nodeUrl} answered HTTP ${status}${detail === '' ? '' : `: ${detail}`}`, {
    httpStatus: status,
    nodeUrl,
  });
}

function codeForStatus(status: number, detail: string): QuorumliteErrorCode {
  if (status === 503) return 'NO_LEADER';
  if (status === 502 || status === 504) return 'CONNECTION_FAILED';
  if (status === 408) return 'TIMEOUT';
  if (status === 400) return 'BAD_REQUEST';
  if (status === 401 || status === 403) return 'UNAUTHORIZED';
  if (status === 413) return 'BODY_TOO_LARGE';
  if (status >= 400 && status < 500) return notLeaderPattern.test(detail) ? 'NO_LEADER' : 'HTTP_ERROR';
  return 'SERVER_ERROR';
}

/** A request-level `error` in a 200 reply: leader trouble and stale reads are retryable. */
export function errorForRequestError(message: string, nodeUrl: string): QuorumliteError {
  const code: QuorumliteErrorCode = notLeaderPattern.test(message)
    ? 'NO_LEADER'
    : staleReadPattern.test(message)
      ? 'STALE_READ'
      : 'SERVER_ERROR';
  return new QuorumliteError(code, `${nodeUrl}: ${message}`, { nodeUrl });
}

/** A per-statement error that means "this node could not run it as leader", not a SQL error. */
export function isLeadershipError(message: string): boolean {
  return notLeaderPattern.test(message);
}

export function errorBodyText(body: Uint8Array): string {
  const text = new TextDecoder().decode(body.subarray(0, errorBodyCharactersMax * 4)).trim();
  let message = text;
  try {
    const parsed = JSON.parse(text) as unknown;
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { error?: unknown }).error === 'string') {
      message = (parsed as { error: string }).error;
    }
  } catch {
    // Not JSON: the text itself is the message.
  }
  return message.length > errorBodyCharactersMax ? `${message.slice(0, errorBodyCharactersMax)}…` : message;
}
