/**
 * The seam between the HTTP API and the node runtime (neither imports the other for it). The runtime implements
 * `ClusterService`; the HTTP layer parses rqlite requests into the plain-data request
 * types below, calls the service, and shapes the plain-data answers into rqlite JSON.
 *
 * Every request and response here is plain data (strings, numbers, bigints, booleans,
 * null, Uint8Array, arrays, plain objects): a follower can msgpack a request, send it
 * to the leader over the peer transport, and msgpack the answer back. Optional values
 * are `null`, never `undefined`, so that they survive every encoder.
 *
 * The contract the runtime must keep:
 * - Resolve with the answer or reject with a `ServiceError`; any other rejection is
 *   answered as HTTP 500 "internal error" (and logged), never as a success.
 * - Honour `timeoutMs` on every wait (forwarding, apply, ReadIndex, queue flush) and
 *   reject with code `TIMEOUT` when it passes. The HTTP layer also stops waiting at
 *   `timeoutMs` plus a grace period and aborts `context.signal`, so a service that
 *   overruns does not hold a client forever.
 * - `forward: false` (the client sent `?redirect`) means: do not forward to the
 *   leader; reject with `NOT_LEADER` carrying the leader's API address instead.
 */
import type { Statement, StatementResult } from '../state-machine/types.js';
import type { ReplicaFeed } from './replica-service.js';
import type { DatabaseTransfers } from './transfer-service.js';

/** rqlite's read consistency levels (docs/ARCHITECTURE.md, "The way a read travels"). */
export type ReadLevel = 'none' | 'weak' | 'linearizable' | 'strong' | 'auto';

/** What every data request carries. */
export interface DataRequestBase {
  readonly statements: readonly Statement[];
  /** `?transaction`: one transaction for the whole request; stop at the first error. */
  readonly transaction: boolean;
  /** `?timings`: fill `timeSeconds` in each result. */
  readonly timings: boolean;
  /** `timeout`: bound on forwarding and waiting (default 30 s). */
  readonly timeoutMs: number;
  /**
   * `db_timeout`: reads still running this long after they start are interrupted, and each
   * unfinished statement answers "query timeout"; null (or 0) when not given. Writes through
   * the log are never interrupted (a wall-clock cut would differ between replicas).
   */
  readonly dbTimeoutMs: number | null;
  /** False with `?redirect`: answer NOT_LEADER instead of forwarding. */
  readonly forward: boolean;
  /** `?db=`: the database the statements address; absent (or `main`): the default one. */
  readonly database?: string | undefined;
}

/** The read-side fields (`/db/query`, and the reads of `/db/request`). */
export interface ReadOptions {
  readonly level: ReadLevel;
  /** `freshness`: with level `none`, the longest time since the leader was heard; null when not given. */
  readonly freshnessMs: number | null;
  /** `freshness_strict`: also stale if behind the commit index by longer than `freshnessMs`. */
  readonly freshnessStrict: boolean;
  /** `min_index` (ours): wait until this node has applied this log index; null when not given. */
  readonly appliedIndexMin: number | null;
  /** `linearizable_timeout`: bound on the ReadIndex round (default 10 s). */
  readonly linearizableTimeoutMs: number;
  /** `qualify` (rqlite; `qualify_columns` too): rows name their columns `table.column`. */
  readonly qualifyColumns: boolean;
}

/** The write-side fields (`/db/execute`, and `/db/request` when it holds a write). */
export interface WriteOptions {
  /** `?queue`: answer at once with a sequence number; the write is batched later. */
  readonly queue: boolean;
  /** `?wait` with `?queue`: block until the queued write is applied (TIMEOUT → 408). */
  readonly wait: boolean;
  /** `Idempotency-Key` header (ours): a repeat within the dedup window applies nothing again. */
  readonly idempotencyKey: string | null;
  /** `retries`: a follower forwarding to the leader tries again this many times at most when it cannot reach it. */
  readonly forwardRetryCountMax: number;
}

export interface ExecuteRequest extends DataRequestBase, WriteOptions {}
export interface QueryRequest extends DataRequestBase, ReadOptions {}
/** `/db/request`: reads and writes mixed; any write sends the whole request through the log. */
export interface MixedRequest extends DataRequestBase, ReadOptions, WriteOptions {}

export interface DataResponse {
  /** One result per statement, in order (fewer with `transaction` after an error). */
  readonly results: readonly StatementResult[];
  /** The log index of the write that produced these results; for a `strong` read its read index; null for other reads. */
  readonly raftIndex: number | null;
  /** Set for queued writes (`?queue`). */
  readonly sequenceNumber: number | bigint | null;
  /** Raft address of the node that ran the statements (`X-RQLITE-SERVED-BY`). */
  readonly servedBy: string;
}

/** A node id has at most this many characters: `serve --node-id` refuses a longer one, `/status?leader_not=` too. */
export const nodeIdLengthMax = 128;

/** A cluster member as `/nodes` and `/leader` show it. */
export interface NodeInfo {
  readonly id: string;
  /** HTTP API address with scheme, e.g. `http://127.0.0.1:4001`; "" when unknown. */
  readonly apiAddress: string;
  /** Raft (peer) address, e.g. `127.0.0.1:4002`. */
  readonly raftAddress: string;
  readonly version: string;
  readonly voter: boolean;
  readonly reachable: boolean;
  readonly leader: boolean;
  /** How long the reachability check took, in seconds; null when not measured. */
  readonly timeSeconds: number | null;
  /** Why the node is unreachable; "" when reachable. */
  readonly error: string;
}

export interface NodesRequest {
  /** `?nonvoters`: include non-voters (learners). */
  readonly nonVoters: boolean;
  readonly timeoutMs: number;
}

export interface LeaderRequest {
  readonly timeoutMs: number;
}

export interface StepDownRequest {
  /** Transfer leadership to this node; null lets the leader choose. */
  readonly id: string | null;
  /** `?wait`: resolve only once a new leader is elected. */
  readonly wait: boolean;
  readonly timeoutMs: number;
  readonly forward: boolean;
}

export interface RemoveRequest {
  readonly id: string;
  readonly timeoutMs: number;
  readonly forward: boolean;
}

type ReadinessCheckName = 'leader' | 'store' | 'sync' | 'db';

export interface ReadinessRequest {
  /** `?sync`: also wait until this node applied the leader's commit index. */
  readonly sync: boolean;
  readonly timeoutMs: number;
}

/** One readiness step; the service stops at the first failed step. */
export interface ReadinessCheck {
  readonly name: ReadinessCheckName;
  readonly ok: boolean;
  /** Why it failed; "" when ok. */
  readonly message: string;
}

/** A nested status document (`/status`); leaves are plain JSON-able values. */
export type StatusValue = null | boolean | number | bigint | string | readonly StatusValue[] | { readonly [key: string]: StatusValue };
export type StatusDocument = { readonly [key: string]: StatusValue };

/** `/status?key=…`: which part of the document is wanted, so a node can skip what is costly and not shown. */
export interface StatusRequest {
  /** rqlite's dotted key (`store.leader`), or '' for the whole document. */
  readonly key: string;
  /**
   * `leader_not` (ours): first wait, at most `waitMs`, until this node knows a leader other
   * than node `id` (a client asking who replaced a leader that stopped answering); then the
   * document says what the node knows, whether or not that happened.
   */
  readonly leaderNot?: { readonly id: string; readonly waitMs: number };
}

/**
 * Whether `/status?key=…` shows the value at `path`: the key walks into the document step
 * by step and ends early at a value that is not an object, so the value is shown when the
 * key and the path agree on every step both have.
 */
export function statusKeyShows(key: string, path: readonly string[]): boolean {
  if (key === '') return true;
  const steps = key.split('.');
  const shared = Math.min(steps.length, path.length);
  for (let step = 0; step < shared; step += 1) if (steps[step] !== path[step]) return false;
  return true;
}

/**
 * Counters under rqlite's expvar names (`/debug/vars`): section → counter → count, for
 * what the node really counts. The HTTP layer adds its own and the process's sections.
 */
export type CounterSections = { readonly [section: string]: { readonly [counter: string]: number } };

/** A Prometheus metric family; the HTTP layer renders the text format. */
export interface MetricFamily {
  /** `[a-zA-Z_:][a-zA-Z0-9_:]*`, e.g. `quorumlite_raft_commit_index`. */
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge' | 'histogram';
  readonly samples: readonly MetricSample[];
}

export interface MetricSample {
  /** A histogram's samples: `_bucket` (with an `le` label), `_sum` and `_count` after the family's name. */
  readonly suffix?: '_bucket' | '_sum' | '_count';
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number | bigint;
}

/** Passed beside each request; not part of the request's plain data. */
export interface CallContext {
  /** Aborted when the client disconnects or the HTTP layer's own deadline passes. */
  readonly signal: AbortSignal;
  /**
   * Who asks, when this node checks credentials (access-control.ts): the user the node
   * authenticated, or null for an anonymous caller. A forwarded request carries it to the
   * leader (never the password). Undefined when this node checks none.
   */
  readonly caller?: string | null;
}

/** `POST /db/begin`: opens an interactive transaction on the leader. */
export interface TransactionBeginRequest {
  readonly timeoutMs: number;
  readonly forward: boolean;
  /** `?db=` (ours: several databases): the database the transaction runs in; absent: the default one. */
  readonly database?: string | null | undefined;
  /** The client's address as the receiving node saw it: the per-client bound counts by it (or by the user, when authenticated). */
  readonly clientAddress: string;
}

/** `/db/query`, `/db/execute` or `/db/request` with `?tx=`: statements run inside the transaction. */
export interface TransactionStatementsRequest {
  readonly transactionId: string;
  readonly statements: readonly Statement[];
  readonly timings: boolean;
  readonly timeoutMs: number;
  readonly forward: boolean;
  /** A repeat of the transaction's last call's key answers that call's results again and runs nothing. */
  readonly idempotencyKey: string | null;
}

/** `POST /db/commit?tx=` and `POST /db/rollback?tx=`. */
export interface TransactionEndRequest {
  readonly transactionId: string;
  /** `?db=`: the transaction's database; only a commit retried after its leader forgot it needs it. */
  readonly database?: string | null | undefined;
  readonly action: 'commit' | 'rollback';
  /** A commit's key goes into its log entry: a commit retried with it applies once. */
  readonly idempotencyKey: string | null;
  readonly timeoutMs: number;
  readonly forward: boolean;
}

export interface TransactionEndResponse {
  /** The commit's log index; null for a rollback (and for a commit of a transaction that wrote and read nothing). */
  readonly raftIndex: number | null;
  readonly servedBy: string;
}

/** Interactive transactions (docs/ARCHITECTURE.md, "Interactive transactions"): optional, 404 without them. */
export interface InteractiveTransactionService {
  beginTransaction(request: TransactionBeginRequest, context: CallContext): Promise<{ readonly transactionId: string; readonly servedBy: string }>;
  transactionStatements(request: TransactionStatementsRequest, context: CallContext): Promise<DataResponse>;
  endTransaction(request: TransactionEndRequest, context: CallContext): Promise<TransactionEndResponse>;
}

/** `POST /db/create` and `POST /db/drop` (docs/ARCHITECTURE.md, "Several databases"): a log entry each. */
export interface DatabaseChangeRequest {
  readonly change: 'create' | 'drop';
  readonly name: string;
  readonly timeoutMs: number;
  readonly forward: boolean;
}

export interface DatabaseList {
  /** The default database first (`main`), then the others sorted. */
  readonly databases: readonly string[];
  /** Databases in all, the default one included (-db-count-max). */
  readonly countMax: number;
}

/** Several databases per cluster: optional, 404 without them. */
export interface DatabaseCatalogService {
  /** Creates or drops a database through the log; resolves to the entry's index. */
  changeDatabase(request: DatabaseChangeRequest, context: CallContext): Promise<{ readonly raftIndex: number }>;
  /** The databases this node has applied. */
  listDatabases(): Promise<DatabaseList>;
}

/** The transfers (transfer-service.ts) and the replica feed (replica-service.ts) are optional: a service without them answers 404 for their paths. */
export interface ClusterService
  extends Partial<DatabaseTransfers>,
    Partial<InteractiveTransactionService>,
    Partial<ReplicaFeed>,
    Partial<DatabaseCatalogService> {
  execute(request: ExecuteRequest, context: CallContext): Promise<DataResponse>;
  query(request: QueryRequest, context: CallContext): Promise<DataResponse>;
  request(request: MixedRequest, context: CallContext): Promise<DataResponse>;
  status(request: StatusRequest, context: CallContext): Promise<StatusDocument>;
  nodes(request: NodesRequest, context: CallContext): Promise<readonly NodeInfo[]>;
  /** The current leader, or null when there is none (HTTP 503). */
  leader(request: LeaderRequest, context: CallContext): Promise<NodeInfo | null>;
  stepDown(request: StepDownRequest, context: CallContext): Promise<void>;
  remove(request: RemoveRequest, context: CallContext): Promise<void>;
  /** Runs the checks in order (leader, store, sync when asked, db) and stops at the first failure. */
  readiness(request: ReadinessRequest, context: CallContext): Promise<readonly ReadinessCheck[]>;
  metrics(): Promise<readonly MetricFamily[]>;
  /** rqlite's expvar counters for what this node counts (`/debug/vars`). */
  counters(): Promise<CounterSections>;
}

export type ServiceErrorCode =
  /** This node is not the leader and did not forward; `leaderApiAddress` says where to go. */
  | 'NOT_LEADER'
  /** No leader is known (HTTP 503 "leader not found"). */
  | 'NO_LEADER'
  /** A `level=none` read with `freshness` found this node too stale (HTTP 200, body `error`). */
  | 'STALE_READ'
  | 'TIMEOUT'
  | 'BAD_REQUEST'
  /**
   * A statement quorumlite does not run (a PRAGMA that would break replication, explicit
   * transaction control, ATTACH, VACUUM…): HTTP 200 with `{"results": [], "error": …}`,
   * as rqlite answers its disallowed pragmas. Nothing was proposed or run.
   */
  | 'REFUSED_SQL'
  /** No valid credentials for a node that checks them (HTTP 401 with `WWW-Authenticate`). */
  | 'UNAUTHORIZED'
  /** Valid credentials, but the user lacks the permission (HTTP 403). */
  | 'FORBIDDEN'
  | 'UNAVAILABLE'
  /** This node stopped applying after an environmental failure (disk full, I/O error); it retries, never skips. */
  | 'HALTED'
  | 'NOT_FOUND'
  | 'INTERNAL'
  /** An interactive transaction saw a change of something it read or wrote: nothing applied; retry it whole (HTTP 409). */
  | 'TX_CONFLICT'
  /** No such open interactive transaction on the leader: unknown, expired, already ended, or lost with a leader change (HTTP 404). */
  | 'TX_NOT_FOUND'
  /** A bound on interactive transactions (open per node or per client, buffered bytes, statements) was reached (HTTP 429). */
  | 'TX_LIMIT'
  /** A database of that name exists already, or the cluster holds as many as -db-count-max allows (HTTP 409). */
  | 'DB_CONFLICT'
  /** `/db/stream`: the log no longer holds the entries after the index asked for (a snapshot compacted them); fetch `/db/copy` first (HTTP 410). */
  | 'LOG_COMPACTED'
  /** A node asked to join or notified with settings that would make it apply entries differently (node/apply-settings.ts; HTTP 409). */
  | 'SETTINGS_MISMATCH';

export const serviceErrorCodes: readonly ServiceErrorCode[] = [
  'NOT_LEADER',
  'NO_LEADER',
  'STALE_READ',
  'TIMEOUT',
  'BAD_REQUEST',
  'REFUSED_SQL',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'UNAVAILABLE',
  'HALTED',
  'NOT_FOUND',
  'INTERNAL',
  'TX_CONFLICT',
  'TX_NOT_FOUND',
  'TX_LIMIT',
  'LOG_COMPACTED',
  'DB_CONFLICT',
  'SETTINGS_MISMATCH',
];

/** A ServiceError as plain data, for sending across the peer transport. */
export interface PlainServiceError {
  readonly code: ServiceErrorCode;
  readonly message: string;
  readonly leaderApiAddress: string | null;
}

export class ServiceError extends Error {
  override readonly name = 'ServiceError';
  readonly code: ServiceErrorCode;
  /** With NOT_LEADER: the leader's HTTP API address with scheme, when known. */
  readonly leaderApiAddress: string | null;

  constructor(code: ServiceErrorCode, message: string, options: { leaderApiAddress?: string | null; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.leaderApiAddress = options.leaderApiAddress ?? null;
  }

  toPlain(): PlainServiceError {
    return { code: this.code, message: this.message, leaderApiAddress: this.leaderApiAddress };
  }

  static fromPlain(plain: PlainServiceError): ServiceError {
    if (!serviceErrorCodes.includes(plain.code)) {
      return new ServiceError('INTERNAL', `unknown service error code ${String(plain.code)}: ${plain.message}`);
    }
    return new ServiceError(plain.code, plain.message, { leaderApiAddress: plain.leaderApiAddress });
  }
}

export function isServiceError(error: unknown): error is ServiceError {
  return error instanceof ServiceError;
}
