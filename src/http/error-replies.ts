/**
 * Turning every failure into its reply: rqlite's status and body, plus the
 * `X-Quorumlite-Error` code. Three sources: an HttpError the HTTP layer raised, a
 * ServiceError from the service (mapped to rqlite's status codes here), and anything
 * else (500 "internal error", details only in the log). Requests Node's parser refuses
 * before they reach a handler get Node's own answer with the code added.
 */
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { sendText } from './exchange.js';
import { errorCodeHeader, HttpError, type HttpErrorCode } from './http-error.js';
import type { HttpMetrics } from './metrics.js';
import type { HttpServerOptions } from './options.js';
import { isServiceError, type ServiceError, type ServiceErrorCode } from '../service/service.js';

export function answerError(request: IncomingMessage, response: ServerResponse, error: unknown, options: HttpServerOptions, metrics: HttpMetrics): void {
  const httpError = toHttpError(request, error);
  if (httpError.status === 413) metrics.bodyTooLarge();
  if (httpError.status === 500) options.logger?.error({ err: error, url: request.url }, 'HTTP request failed');
  if (response.headersSent) {
    response.destroy();
    return;
  }
  for (const [name, value] of Object.entries(httpError.headers)) response.setHeader(name, value);
  response.setHeader(errorCodeHeader, httpError.code);
  response.setHeader('X-Content-Type-Options', 'nosniff');
  sendText(response, httpError.status, `${httpError.message}\n`);
}

function toHttpError(request: IncomingMessage, error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (isServiceError(error)) return serviceErrorToHttp(request, error);
  return new HttpError(500, 'INTERNAL', 'internal error');
}

/**
 * rqlite's status code for each service failure whose reply is its message: one line a
 * code, and a code added to ServiceErrorCode does not compile until it is given one here.
 * NOT_LEADER (a 301 or "leader not found"), NO_LEADER and UNAUTHORIZED (its challenge
 * header) are answered in serviceErrorToHttp.
 */
const plainServiceStatuses: Readonly<Record<Exclude<ServiceErrorCode, 'NOT_LEADER' | 'NO_LEADER' | 'UNAUTHORIZED'>, number>> = {
  // Answered as JSON by the data handlers; a 200 wherever else they might surface.
  STALE_READ: 200,
  REFUSED_SQL: 200,
  TIMEOUT: 503,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  UNAVAILABLE: 503,
  HALTED: 503,
  NOT_FOUND: 404,
  INTERNAL: 500,
  TX_CONFLICT: 409,
  TX_NOT_FOUND: 404,
  TX_LIMIT: 429,
  LOG_COMPACTED: 410,
  DB_CONFLICT: 409,
  SETTINGS_MISMATCH: 409,
};

/** rqlite's status codes for each service failure; the header carries the service's code unchanged. */
export function serviceErrorToHttp(request: IncomingMessage, error: ServiceError): HttpError {
  switch (error.code) {
    case 'NOT_LEADER':
      if (error.leaderApiAddress === null) return new HttpError(503, error.code, 'leader not found');
      return new HttpError(301, error.code, `moved permanently to the leader at ${error.leaderApiAddress}`, {
        Location: `${error.leaderApiAddress.replace(/\/+$/, '')}${request.url ?? '/'}`,
      });
    case 'NO_LEADER':
      return new HttpError(503, error.code, 'leader not found');
    case 'UNAUTHORIZED':
      return new HttpError(401, error.code, error.message, { 'WWW-Authenticate': 'Basic realm="quorumlite"' });
    default:
      return new HttpError(plainServiceStatuses[error.code], error.code, error.message);
  }
}

/** Node's own answers to a request its parser refused (its status lines and `Connection: close`, no body). */
const clientErrorReplies: ReadonlyMap<string, { readonly status: number; readonly code: HttpErrorCode }> = new Map([
  ['HPE_HEADER_OVERFLOW', { status: 431, code: 'HEADERS_TOO_LARGE' }],
  ['HPE_CHUNK_EXTENSIONS_OVERFLOW', { status: 413, code: 'BODY_TOO_LARGE' }],
  ['ERR_HTTP_REQUEST_TIMEOUT', { status: 408, code: 'TIMEOUT' }],
]);
const badRequestReply = { status: 400, code: 'BAD_REQUEST' } as const;

/**
 * The server's 'clientError' listener: what Node does without one (answer when nothing
 * of a response went out yet on the socket, then destroy it), with the code header added.
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  // Node's own check (lib/_http_server.js, socketOnError): a response in flight whose
  // head already went out on this socket must not be corrupted by a second head.
  const inFlight = (socket as Socket & { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage;
  if (socket.writable && inFlight?._headerSent !== true) {
    const reply = clientErrorReplies.get(error.code ?? '') ?? badRequestReply;
    const statusLine = `HTTP/1.1 ${reply.status} ${STATUS_CODES[reply.status] ?? ''}`;
    socket.write(`${statusLine}\r\nConnection: close\r\n${errorCodeHeader}: ${reply.code}\r\n\r\n`, 'ascii');
  }
  socket.destroy(error);
}
