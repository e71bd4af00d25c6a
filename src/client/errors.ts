/**
 * The one error class the client throws. Callers branch on `code`, never on the
 * message. `retryable` says whether the client itself would try again elsewhere; by
 * the time an error reaches the caller the client has already done so (or the error
 * was never worth retrying).
 */

export type QuorumliteErrorCode =
  /** A statement failed inside SQLite (per-statement `error` in an HTTP 200 reply). */
  | 'SQL_ERROR'
  /** The server refused the request (HTTP 400): malformed body, bad parameter value. */
  | 'BAD_REQUEST'
  /** HTTP 401 / 403. */
  | 'UNAUTHORIZED'
  /** Any other 4xx the client cannot fix by retrying (404, 405, 413, …). */
  | 'HTTP_ERROR'
  /** The server answered 5xx other than 502/503/504, or a body that is not rqlite's shape. */
  | 'SERVER_ERROR'
  /** No reachable leader right now (server code NO_LEADER or NOT_LEADER; from rqlite: 503, "leader not found", "not leader"). */
  | 'NO_LEADER'
  /** The node cannot serve now: shutting down, overloaded, leadership changed mid-request, not ready (server code UNAVAILABLE). */
  | 'UNAVAILABLE'
  /** The node stopped applying after a disk or I/O failure (server code HALTED); another node may serve. */
  | 'NODE_HALTED'
  /** A follower answered "stale read" for a `none` read with `freshness`. */
  | 'STALE_READ'
  /** The TCP connection failed or was cut before a full reply arrived. */
  | 'CONNECTION_FAILED'
  /** One attempt took longer than `timeoutMs`, or the server gave up waiting (server code TIMEOUT). */
  | 'TIMEOUT'
  /** The whole call ran past its deadline (`deadlineMs`) while retrying. */
  | 'DEADLINE_EXCEEDED'
  /** The caller's AbortSignal fired. */
  | 'ABORTED'
  /** `inFlightCountMax` calls are running and `queuedCountMax` more are waiting. */
  | 'QUEUE_FULL'
  /** A reply body was larger than `responseBytesMax`, a request body larger than `requestBytesMax`, or the server refused the request's size (413). */
  | 'BODY_TOO_LARGE'
  /** The client was closed. */
  | 'CLIENT_CLOSED'
  /** The caller passed something the client cannot send (NaN parameter, empty batch, …). */
  | 'INVALID_ARGUMENT'
  /** An integer beyond 2^53 arrived with `bigint: 'never'`. */
  | 'INTEGER_OVERFLOW'
  /** More 301 redirects in one attempt chain than `redirectsMax`. */
  | 'TOO_MANY_REDIRECTS'
  /** An interactive transaction's commit (or a statement in it) found that something it read or wrote changed: nothing applied; run it again (HTTP 409). */
  | 'TX_CONFLICT'
  /** The interactive transaction is unknown to the leader: never opened, expired, ended, or lost with a leader change (HTTP 404). */
  | 'TX_NOT_FOUND'
  /** The leader holds as many open interactive transactions as it may, in all or for this client (HTTP 429). */
  | 'TX_LIMIT';

export interface QuorumliteErrorOptions {
  readonly cause?: unknown;
  /** For SQL_ERROR: index of the failing statement in the request. */
  readonly statementIndex?: number;
  /** HTTP status when the error came from a reply. */
  readonly httpStatus?: number;
  /** The node the failing attempt went to. */
  readonly nodeUrl?: string;
  /** For SQL_ERROR with `returnErrors` off: every result of the request, for inspection. */
  readonly results?: readonly unknown[];
  /** A leader address the server pointed at, if any. */
  readonly leaderHint?: string;
  /** The server's own code (`X-Quorumlite-Error`), when the reply carried one. */
  readonly serverCode?: string;
}

const retryableCodes: ReadonlySet<QuorumliteErrorCode> = new Set<QuorumliteErrorCode>([
  'NO_LEADER',
  'UNAVAILABLE',
  'NODE_HALTED',
  'STALE_READ',
  'CONNECTION_FAILED',
  'TIMEOUT',
]);

export class QuorumliteError extends Error {
  override readonly name = 'QuorumliteError';
  readonly code: QuorumliteErrorCode;
  readonly statementIndex: number | undefined;
  readonly httpStatus: number | undefined;
  readonly nodeUrl: string | undefined;
  readonly results: readonly unknown[] | undefined;
  readonly leaderHint: string | undefined;
  readonly serverCode: string | undefined;

  constructor(code: QuorumliteErrorCode, message: string, options: QuorumliteErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.statementIndex = options.statementIndex;
    this.httpStatus = options.httpStatus;
    this.nodeUrl = options.nodeUrl;
    this.results = options.results;
    this.leaderHint = options.leaderHint;
    this.serverCode = options.serverCode;
  }

  /** True when another attempt (on this or another node) may succeed. */
  get retryable(): boolean {
    return retryableCodes.has(this.code);
  }
}

export function isQuorumliteError(value: unknown): value is QuorumliteError {
  return value instanceof QuorumliteError;
}
