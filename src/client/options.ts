/** Client configuration: every option, its default and its bound, in one place. */
import { DurationError, parseDurationMs } from '../common/duration.js';
import { QuorumliteError } from './errors.js';
import { defaultRetryPolicyConfig, systemClock, timerSleep, type Clock, type RandomSource, type RetryPolicyConfig, type Sleep } from './retry-policy.js';
import type { FetchFunction, HttpTransport } from './transport.js';
import type { BigIntMode, ConsistencyLevel, RowMode, SqlErrorMode } from './types.js';

/**
 * HTTPS for the Node client (rqlited's -http-cert nodes). PEM text or bytes. Browsers
 * trust what the browser trusts: the browser client refuses this option.
 */
export interface ClientTlsOptions {
  /** CA certificate(s) the nodes' certificates are checked against, instead of Node's bundled roots (rqlite shell's --ca-cert). */
  readonly ca?: string | Uint8Array;
  /** A client certificate and its key, for nodes started with -http-verify-client (rqlite shell's --client-cert, --client-key). */
  readonly cert?: string | Uint8Array;
  readonly key?: string | Uint8Array;
  /** Accept any server certificate: encrypted, but not authenticated (rqlite shell's --insecure). For tests only. */
  readonly insecure?: boolean;
}

export interface ClientConfig {
  /** HTTP base URLs of some or all nodes (`http://127.0.0.1:4001`). More are learned from `/nodes`. */
  readonly nodes: readonly string[];
  /** The database every call addresses (`?db=`; quorumlite's several databases). Default: the default one, `main`. */
  readonly database?: string;
  /** Default read consistency (default 'weak', as rqlite). */
  readonly consistency?: ConsistencyLevel;
  /** Default `freshness` for 'none' reads: a Go duration ("1s") or milliseconds. */
  readonly freshness?: string | number;
  /** One attempt (one node) may take this long before the client moves on. Default 10 s. */
  readonly timeoutMs?: number;
  /**
   * A leader-bound attempt unanswered this long makes the client ask the other nodes who
   * leads (`/status`), and move the call to a new leader they name (same idempotency key).
   * Default 300 ms; 0 turns the check off (then only `timeoutMs` ends an attempt on a hung leader).
   */
  readonly leaderCheckAfterMs?: number;
  /**
   * How often the other nodes are asked again while the attempt still waits, counted from
   * the start of the last round: a round that quorumlite nodes held this long (`leader_not`)
   * is followed by the next at once. Default 100 ms.
   */
  readonly leaderCheckIntervalMs?: number;
  /** Bound on one question to one node. Default 1 s. */
  readonly leaderCheckTimeoutMs?: number;
  /** One call, all retries included, may take this long. Default 30 s. */
  readonly deadlineMs?: number;
  /** Calls running at once. Default 64. */
  readonly inFlightCountMax?: number;
  /** Calls waiting for a slot; beyond this QUEUE_FULL. Default 1024. */
  readonly queuedCountMax?: number;
  readonly bigint?: BigIntMode;
  readonly rowMode?: RowMode;
  /** Per-statement SQL errors throw (default, like libsql-client) or stay in results. */
  readonly sqlErrors?: SqlErrorMode;
  /** Pass `min_index` = highest raft_index written by this client on reads. Default true. */
  readonly readYourWrites?: boolean;
  /** HTTP Basic credentials. Without it, the user and password of a `nodes` URL (`http://user:password@host:4001`), if any. */
  readonly auth?: { readonly username: string; readonly password: string };
  /** Extra headers on every request. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Use a fetch-based transport with this fetch instead of undici. */
  readonly fetch?: FetchFunction;
  /** Use this transport (tests, custom stacks). Wins over `fetch`. */
  readonly transport?: HttpTransport;
  /** HTTPS settings of the built-in Node transport (not with `fetch` or `transport`, which bring their own). */
  readonly tls?: ClientTlsOptions;
  /** Keep-alive sockets per node (undici transport). Default 16. */
  readonly connectionsPerNodeMax?: number;
  /** Ask non-leaders for a 301 to the leader (`?redirect`) instead of a forwarding hop. Default true. */
  readonly useRedirects?: boolean;
  /** Redirects followed within one attempt. Default 5. */
  readonly redirectsMax?: number;
  /** Poll `/nodes` in the background (at most every `nodesRefreshIntervalMs`, driven by calls). Default true. */
  readonly discoverNodes?: boolean;
  readonly nodesRefreshIntervalMs?: number;
  /** Reply bodies larger than this fail with BODY_TOO_LARGE. Default 64 MiB. */
  readonly responseBytesMax?: number;
  /** Backups larger than this fail with BODY_TOO_LARGE. Default 1 GiB. */
  readonly backupBytesMax?: number;
  /** Request bodies larger than this are refused before sending. Default 64 MiB. */
  readonly requestBytesMax?: number;
  readonly retry?: Partial<RetryPolicyConfig>;
  /** Test hooks: time, randomness and waiting. */
  readonly clock?: Clock;
  readonly random?: RandomSource;
  readonly sleep?: Sleep;
}

export interface ResolvedConfig {
  readonly nodes: readonly string[];
  /** Undefined for the default database (no `db=` sent). */
  readonly database: string | undefined;
  readonly consistency: ConsistencyLevel;
  readonly freshness: string | undefined;
  readonly timeoutMs: number;
  readonly deadlineMs: number;
  readonly leaderCheckAfterMs: number;
  readonly leaderCheckIntervalMs: number;
  readonly leaderCheckTimeoutMs: number;
  readonly inFlightCountMax: number;
  readonly queuedCountMax: number;
  readonly bigint: BigIntMode;
  readonly rowMode: RowMode;
  readonly sqlErrors: SqlErrorMode;
  readonly readYourWrites: boolean;
  readonly headers: Readonly<Record<string, string>>;
  readonly useRedirects: boolean;
  readonly redirectsMax: number;
  readonly discoverNodes: boolean;
  readonly nodesRefreshIntervalMs: number;
  readonly responseBytesMax: number;
  readonly backupBytesMax: number;
  readonly requestBytesMax: number;
  readonly retry: RetryPolicyConfig;
  readonly clock: Clock;
  readonly random: RandomSource;
  readonly sleep: Sleep;
}

const consistencyLevels: readonly ConsistencyLevel[] = ['none', 'weak', 'linearizable', 'strong', 'auto'];
const mebibyte = 1024 * 1024;

export function resolveConfig(config: ClientConfig): ResolvedConfig {
  if (config === null || typeof config !== 'object') throw invalid('createClient needs a config object');
  if (!Array.isArray(config.nodes)) throw invalid('config.nodes must be an array of URLs');
  checkTls(config);
  return {
    nodes: config.nodes,
    database: resolveDatabase(config.database),
    ...resolveModes(config),
    ...resolveBounds(config),
    headers: buildHeaders(config),
    useRedirects: config.useRedirects ?? true,
    discoverNodes: config.discoverNodes ?? true,
    retry: { ...defaultRetryPolicyConfig, ...config.retry },
    clock: config.clock ?? systemClock,
    random: config.random ?? Math.random,
    sleep: config.sleep ?? timerSleep,
  };
}

/** The server's rule for names (1 to 64 of A-Z a-z 0-9 _ -, not starting with -); `main` is the default database. */
function resolveDatabase(database: string | undefined): string | undefined {
  if (database === undefined || database === 'main') return undefined;
  if (typeof database !== 'string' || !/^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$/.test(database))
    throw invalid(`config.database is not a database name: ${String(database)}`);
  return database;
}

type ModeOption = 'consistency' | 'freshness' | 'bigint' | 'rowMode' | 'sqlErrors' | 'readYourWrites';

/** How calls read and how replies are decoded. */
function resolveModes(config: ClientConfig): Pick<ResolvedConfig, ModeOption> {
  return {
    consistency: checkConsistency(config.consistency ?? 'weak'),
    freshness: config.freshness === undefined ? undefined : formatDuration(config.freshness),
    bigint: oneOf(config.bigint ?? 'auto', ['auto', 'always', 'never'], 'bigint'),
    rowMode: oneOf(config.rowMode ?? 'object', ['object', 'array'], 'rowMode'),
    sqlErrors: oneOf(config.sqlErrors ?? 'throw', ['throw', 'return'], 'sqlErrors'),
    readYourWrites: config.readYourWrites ?? true,
  };
}

type BoundOption =
  | 'timeoutMs'
  | 'deadlineMs'
  | 'leaderCheckAfterMs'
  | 'leaderCheckIntervalMs'
  | 'leaderCheckTimeoutMs'
  | 'inFlightCountMax'
  | 'queuedCountMax'
  | 'redirectsMax'
  | 'nodesRefreshIntervalMs'
  | 'responseBytesMax'
  | 'backupBytesMax'
  | 'requestBytesMax';

/** Every time and size bound, with its default. */
function resolveBounds(config: ClientConfig): Pick<ResolvedConfig, BoundOption> {
  return {
    timeoutMs: positiveInteger(config.timeoutMs ?? 10_000, 'timeoutMs'),
    deadlineMs: positiveInteger(config.deadlineMs ?? 30_000, 'deadlineMs'),
    leaderCheckAfterMs: nonNegativeInteger(config.leaderCheckAfterMs ?? 300, 'leaderCheckAfterMs'),
    leaderCheckIntervalMs: positiveInteger(config.leaderCheckIntervalMs ?? 100, 'leaderCheckIntervalMs'),
    leaderCheckTimeoutMs: positiveInteger(config.leaderCheckTimeoutMs ?? 1_000, 'leaderCheckTimeoutMs'),
    inFlightCountMax: positiveInteger(config.inFlightCountMax ?? 64, 'inFlightCountMax'),
    queuedCountMax: nonNegativeInteger(config.queuedCountMax ?? 1024, 'queuedCountMax'),
    redirectsMax: nonNegativeInteger(config.redirectsMax ?? 5, 'redirectsMax'),
    nodesRefreshIntervalMs: nonNegativeInteger(config.nodesRefreshIntervalMs ?? 30_000, 'nodesRefreshIntervalMs'),
    responseBytesMax: positiveInteger(config.responseBytesMax ?? 64 * mebibyte, 'responseBytesMax'),
    backupBytesMax: positiveInteger(config.backupBytesMax ?? 1024 * mebibyte, 'backupBytesMax'),
    requestBytesMax: positiveInteger(config.requestBytesMax ?? 64 * mebibyte, 'requestBytesMax'),
  };
}

export function checkConsistency(level: ConsistencyLevel): ConsistencyLevel {
  if (!consistencyLevels.includes(level)) {
    throw invalid(`consistency must be one of ${consistencyLevels.join(', ')}; got ${JSON.stringify(level)}`);
  }
  return level;
}

/** Milliseconds become "NNNms"; strings must be non-negative Go durations ("500ms", "2s", "1m30s"), as the server requires. */
export function formatDuration(duration: string | number): string {
  if (typeof duration === 'number') {
    if (!(Number.isFinite(duration) && duration >= 0)) throw invalid(`duration must be a non-negative number of ms; got ${duration}`);
    return `${Math.round(duration)}ms`;
  }
  try {
    parseDurationMs(duration);
  } catch (error) {
    if (error instanceof DurationError) throw invalid(`not a duration: ${error.message} (use e.g. "500ms", "2s")`);
    throw error;
  }
  return duration;
}

/**
 * The user and password written into the seed URLs (`http://user:password@host`). fetch
 * refuses a URL that holds credentials, so the node URLs drop them and they go out as
 * HTTP Basic instead; URLs that disagree are refused.
 */
function credentialsInUrls(nodes: readonly string[]): ClientConfig['auth'] {
  let found: ClientConfig['auth'];
  for (const node of nodes) {
    let url: URL;
    try {
      url = new URL(node);
    } catch {
      continue; // the cluster view refuses a malformed URL, naming it
    }
    if (url.username === '' && url.password === '') continue;
    const credentials = { username: decodeURIComponent(url.username), password: decodeURIComponent(url.password) };
    if (found !== undefined && (found.username !== credentials.username || found.password !== credentials.password)) {
      throw invalid('the node URLs carry different credentials: give them once, as `auth`');
    }
    found = credentials;
  }
  return found;
}

function buildHeaders(config: ClientConfig): Record<string, string> {
  const headers: Record<string, string> = { ...config.headers };
  const auth = config.auth ?? credentialsInUrls(config.nodes);
  if (auth !== undefined) {
    const bytes = new TextEncoder().encode(`${auth.username}:${auth.password}`);
    let binary = '';
    for (const byte of bytes) binary += String.fromCharCode(byte);
    headers.authorization = `Basic ${btoa(binary)}`;
  }
  return headers;
}

function checkTls(config: ClientConfig): void {
  const tls = config.tls;
  if (tls === undefined) return;
  if (config.fetch !== undefined || config.transport !== undefined) {
    throw invalid('config.tls applies to the built-in transport: configure TLS on the fetch or transport you pass instead');
  }
  if ((tls.cert === undefined) !== (tls.key === undefined)) throw invalid('config.tls.cert and config.tls.key go together: give both or neither');
}

function oneOf<T extends string>(value: T, allowed: readonly T[], name: string): T {
  if (!allowed.includes(value)) throw invalid(`${name} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  return value;
}

function positiveInteger(value: number, name: string): number {
  if (!(Number.isInteger(value) && value >= 1)) throw invalid(`${name} must be an integer ≥ 1; got ${value}`);
  return value;
}

function nonNegativeInteger(value: number, name: string): number {
  if (!(Number.isInteger(value) && value >= 0)) throw invalid(`${name} must be an integer ≥ 0; got ${value}`);
  return value;
}

function invalid(message: string): QuorumliteError {
  return new QuorumliteError('INVALID_ARGUMENT', message);
}
