/**
 * The quorumlite client: leader discovery, failover with backoff, exactly-once writes
 * through idempotency keys, consistency levels and read-your-writes. Transport-
 * agnostic (see transport.ts); index.ts wires the undici transport for Node.
 *
 * Routing. Writes, `request`, and reads at weak/linearizable/strong go to the leader
 * directly with `?redirect`, so a non-leader answers 301 and the client learns the
 * leader instead of paying a forwarding hop. Reads at none/auto spread round-robin
 * over all nodes. On a connection failure, a timeout, or a reply that says the node
 * cannot serve now (no leader, unavailable, halted, stale; see reply-errors.ts) the
 * client marks the node failed, backs off (full jitter) and tries the next one, until
 * the call's deadline, its AbortSignal, or `retry.attemptsMax`.
 *
 * Exactly once. Every write call draws one random 128-bit Idempotency-Key and sends
 * it on every attempt; the server applies a key once and answers repeats with the
 * first result, so a retry after a lost reply cannot apply twice.
 *
 * SQL errors. A per-statement `error` throws QuorumliteError('SQL_ERROR') carrying
 * `statementIndex` and all `results` (like libsql-client); with `sqlErrors:
 * 'return'` the results are returned with `error` set instead.
 */
import type { BackupOptions, CallOptions, ReadOptions, RequestOptions, ResultOptions, WriteOptions } from './call-options.js';
import { CallRunner, type CallRun, type CallSpec, type QueryParameter } from './call-runner.js';
import { ClusterView, parseNodes } from './cluster-view.js';
import { QuorumliteError } from './errors.js';
import { parseJson, type IntegerMode, type JsonValue } from './json-parse.js';
import { checkConsistency, formatDuration, resolveConfig, type ClientConfig, type ResolvedConfig } from './options.js';
import { decodeReply, firstSqlError, type DecodedReply } from './results.js';
import { errorForRequestError, isLeadershipError } from './reply-errors.js';
import { encodeStatements } from './statements.js';
import { databaseChangeSpec, databaseListSpec, type DatabaseChange, type DatabaseList } from './database-calls.js';
import { checkIdempotencyKey, newIdempotencyKey } from './idempotency-keys.js';
import {
  runInteractive,
  Transaction,
  transactionPath,
  type InteractiveOptions,
  type TransactionCallKind,
  type TransactionWire,
} from './interactive-transaction.js';
import type { LocalReads, LocalReadsFactory } from './local-reads.js';
import type { HttpResponse, HttpTransport } from './transport.js';
import type { ConsistencyLevel, InStatement, NodeInfo, Reply, Value } from './types.js';

/**
 * Backups and loads move whole databases: their attempts and deadline default to at
 * least this long (a per-call timeoutMs / deadlineMs still wins).
 */
const transferTimeoutMsMin = 600_000;

/** Stateless codecs, shared by every call instead of allocated per request and reply. */
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder();

export class Client {
  readonly #config: ResolvedConfig;
  readonly #transport: HttpTransport;
  readonly #view: ClusterView;
  readonly #calls: CallRunner;
  /** Aborts background work (the /nodes poll) on close. */
  readonly #closeController = new AbortController();
  #highestWrittenIndex = 0;
  #lastNodesRefreshAtMs = Number.NEGATIVE_INFINITY;
  #nodesRefresh: Promise<void> | undefined;
  #closed = false;
  /** Reads served in this process (an embedded replica: local-reads.ts), if any. */
  readonly #local: LocalReads | undefined;

  constructor(config: ClientConfig, transport: HttpTransport, localReads?: LocalReadsFactory) {
    this.#config = resolveConfig(config);
    this.#transport = transport;
    this.#view = new ClusterView(this.#config.nodes);
    this.#calls = new CallRunner(this.#config, transport, this.#view, () => this.#maybeRefreshNodes());
    this.#local = localReads?.({ nodes: () => this.#view.nodes, headers: this.#config.headers });
  }

  /** The highest Raft index this client wrote (its read-your-writes token). */
  get lastWriteIndex(): number {
    return this.#highestWrittenIndex;
  }

  /** Adopt another client's token so this one reads its writes too. */
  observeWriteIndex(raftIndex: number): void {
    if (!(Number.isSafeInteger(raftIndex) && raftIndex >= 0)) throw new QuorumliteError('INVALID_ARGUMENT', `not a raft index: ${raftIndex}`);
    this.#highestWrittenIndex = Math.max(this.#highestWrittenIndex, raftIndex);
  }

  /** The node URLs known now (seeds plus those learned). */
  get knownNodes(): readonly string[] {
    return this.#view.nodes;
  }

  /** The leader's URL, if known. */
  get knownLeader(): string | undefined {
    return this.#view.leader;
  }

  /** Writes through `/db/execute` on the leader. */
  async execute<Row = Record<string, Value>>(statements: InStatement | readonly InStatement[], options: WriteOptions = {}): Promise<Reply<Row>> {
    return this.#write<Row>('/db/execute', statements, options, []);
  }

  /** Writes as one atomic batch (`?transaction`): all statements or none. */
  async transaction<Row = Record<string, Value>>(statements: readonly InStatement[], options: WriteOptions = {}): Promise<Reply<Row>> {
    // Object.assign, not `{ ...options, transaction }`: on Node 20 such a literal keeps the call's objects alive past young collections.
    return this.#write<Row>('/db/execute', statements, Object.assign({}, options, { transaction: true }), []);
  }

  /** Mixed reads and writes through `/db/request`; the server decides. Sent to the leader with an idempotency key. */
  async request<Row = Record<string, Value>>(statements: InStatement | readonly InStatement[], options: RequestOptions = {}): Promise<Reply<Row>> {
    const { parameters: extra } = this.#levelParameters(options);
    if (this.#config.readYourWrites && this.#highestWrittenIndex > 0) extra.push(['min_index', String(this.#highestWrittenIndex)]);
    return this.#write<Row>('/db/request', statements, options, extra);
  }

  /**
   * Reads through `/db/query` at the call's (or client's) consistency level. With an
   * embedded replica, a read without `consistency` (or at 'none') and without `freshness`
   * is served locally once the replica applied this client's last write.
   */
  async query<Row = Record<string, Value>>(statements: InStatement | readonly InStatement[], options: ReadOptions = {}): Promise<Reply<Row>> {
    if (this.#local !== undefined && (options.consistency ?? 'none') === 'none' && options.freshness === undefined) {
      const local = await this.#local.query<Row>(statements, options, options.appliedIndexMin ?? this.#highestWrittenIndex);
      if (local !== undefined) return local;
      // Not applied locally in time: the cluster answers, at none, waiting for the write (min_index).
      return this.#remoteQuery<Row>(statements, Object.assign({}, options, { consistency: 'none' as const }));
    }
    return this.#remoteQuery<Row>(statements, options);
  }

  async #remoteQuery<Row>(statements: InStatement | readonly InStatement[], options: ReadOptions): Promise<Reply<Row>> {
    const { level, parameters, freshnessSent } = this.#levelParameters(options);
    const body = this.#encodeBody(statements);
    parameters.push(['blob_array', undefined]);
    if (freshnessSent && options.freshnessStrict === true) parameters.push(['freshness_strict', undefined]);
    const appliedIndexMin = options.appliedIndexMin ?? (this.#config.readYourWrites ? this.#highestWrittenIndex : 0);
    if (appliedIndexMin > 0) parameters.push(['min_index', String(appliedIndexMin)]);
    const spread = level === 'none' || level === 'auto';
    return this.#calls.call<Reply<Row>>(
      {
        method: 'POST',
        path: '/db/query',
        parameters,
        body,
        contentType: 'application/json',
        target: spread ? 'any' : 'leader',
        redirectable: !spread,
        responseBytesMax: this.#config.responseBytesMax,
        interpret: (response, nodeUrl) => this.#interpretResults<Row>(response, nodeUrl, options),
      },
      options,
    );
  }

  /** `level` at the call's (or client's) consistency, plus `freshness` when the level is none. */
  #levelParameters(options: { readonly consistency?: ConsistencyLevel; readonly freshness?: string | number }): {
    level: ConsistencyLevel;
    parameters: QueryParameter[];
    freshnessSent: boolean;
  } {
    const level = checkConsistency(options.consistency ?? this.#config.consistency);
    const parameters: QueryParameter[] = [['level', level]];
    const freshness = options.freshness === undefined ? this.#config.freshness : formatDuration(options.freshness);
    const freshnessSent = level === 'none' && freshness !== undefined;
    if (freshnessSent) parameters.push(['freshness', freshness]);
    return { level, parameters, freshnessSent };
  }

  async #write<Row>(
    path: string,
    statements: InStatement | readonly InStatement[],
    options: WriteOptions,
    extra: readonly QueryParameter[],
  ): Promise<Reply<Row>> {
    const body = this.#encodeBody(statements);
    const parameters: QueryParameter[] = [['blob_array', undefined], ['raft_index', undefined], ...extra];
    if (options.transaction === true) parameters.push(['transaction', undefined]);
    return this.#calls.call<Reply<Row>>(
      {
        method: 'POST',
        path,
        parameters,
        body,
        contentType: 'application/json',
        target: 'leader',
        redirectable: true,
        idempotencyKey: checkIdempotencyKey(options.idempotencyKey) ?? newIdempotencyKey(),
        responseBytesMax: this.#config.responseBytesMax,
        interpret: (response, nodeUrl) => this.#interpretResults<Row>(response, nodeUrl, options),
      },
      options,
    );
  }

  /** Opens an interactive transaction on the leader (`POST /db/begin`); see interactive-transaction.ts. */
  async begin(options: CallOptions = {}): Promise<Transaction> {
    const body = await this.#calls.call<JsonValue>(
      {
        method: 'POST',
        path: '/db/begin',
        parameters: [],
        target: 'leader',
        redirectable: true,
        responseBytesMax: this.#config.responseBytesMax,
        interpret: (response, nodeUrl) => this.#parseBody(response, nodeUrl, 'auto'),
      },
      options,
    );
    const transactionId = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { tx_id?: unknown }).tx_id : undefined;
    if (typeof transactionId !== 'string' || transactionId === '') throw new QuorumliteError('SERVER_ERROR', '/db/begin answered without a tx_id');
    return new Transaction(transactionId, this.#transactionWire);
  }

  /**
   * Runs `body` in an interactive transaction and commits it; on a conflict (or a
   * transaction lost with its leader) runs it again, with backoff, `attemptsMax` times at most.
   */
  async interactive<Result>(body: (transaction: Transaction) => Promise<Result>, options: InteractiveOptions = {}): Promise<Result> {
    const runner = { begin: (callOptions: CallOptions) => this.begin(callOptions), sleep: this.#config.sleep, random: this.#config.random };
    return runInteractive(runner, body, options);
  }

  readonly #transactionWire: TransactionWire = {
    statements: <Row>(kind: TransactionCallKind, transactionId: string, statements: InStatement | readonly InStatement[], options: ResultOptions) =>
      this.#write<Row>(transactionPath(kind), statements, options, [['tx', transactionId]]),
    end: async (action, transactionId, options) => {
      const body = await this.#calls.call<JsonValue>(
        {
          method: 'POST',
          path: `/db/${action}`,
          parameters: [['tx', transactionId]],
          target: 'leader',
          redirectable: true,
          idempotencyKey: newIdempotencyKey(),
          responseBytesMax: this.#config.responseBytesMax,
          interpret: (response, nodeUrl) => (response.body.byteLength === 0 ? null : this.#parseBody(response, nodeUrl, 'auto')),
        },
        options,
      );
      const raftIndex = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as { raft_index?: unknown }).raft_index : undefined;
      if (typeof raftIndex !== 'number') return { raftIndex: undefined };
      this.#highestWrittenIndex = Math.max(this.#highestWrittenIndex, raftIndex);
      return { raftIndex };
    },
  };

  /** The nodes `/nodes` reports (voters and non-voters); also refreshes the client's view. */
  async nodes(options: CallOptions = {}): Promise<NodeInfo[]> {
    const nodes = await this.#calls.call<NodeInfo[]>(this.#nodesSpec(), options);
    this.#view.applyNodes(nodes);
    return nodes;
  }

  /** The leader as `/nodes` names it, or undefined when there is none. */
  async leader(options: CallOptions = {}): Promise<NodeInfo | undefined> {
    return (await this.nodes(options)).find((node) => node.leader);
  }

  /** `/status` of the node the client talks to (the leader when known). */
  async status(options: CallOptions & { readonly key?: string } = {}): Promise<JsonValue> {
    const parameters: QueryParameter[] = options.key === undefined ? [] : [['key', options.key]];
    return this.#calls.call<JsonValue>(
      {
        method: 'GET',
        path: '/status',
        parameters,
        target: 'leader',
        redirectable: false,
        responseBytesMax: this.#config.responseBytesMax,
        interpret: (response, nodeUrl) => this.#parseBody(response, nodeUrl, 'auto'),
      },
      options,
    );
  }

  /**
   * Asks the leader to step down, optionally naming the node to hand over to. With
   * `wait`, the server answers once a new leader is elected. The client then forgets
   * the old leader and learns the new one from `/nodes`.
   */
  async stepDown(targetNodeId?: string, options: CallOptions & { readonly wait?: boolean } = {}): Promise<void> {
    await this.#ensureLeaderKnown(options);
    const body = targetNodeId === undefined ? undefined : utf8Encoder.encode(JSON.stringify({ id: targetNodeId }));
    const parameters: QueryParameter[] = options.wait === true ? [['wait', undefined]] : [];
    await this.#calls.call<undefined>(
      {
        method: 'POST',
        path: '/leader',
        parameters,
        ...(body === undefined ? {} : { body, contentType: 'application/json' }),
        target: 'leader',
        redirectable: true,
        responseBytesMax: this.#config.responseBytesMax,
        interpret: () => undefined,
      },
      options,
    );
    this.#view.forgetLeader();
    if (options.wait === true) await this.nodes(options).catch(() => undefined);
  }

  /** Removes a node from the cluster (through the leader). */
  async removeNode(nodeId: string, options: CallOptions = {}): Promise<void> {
    if (typeof nodeId !== 'string' || nodeId === '') throw new QuorumliteError('INVALID_ARGUMENT', 'removeNode needs a node id');
    await this.#ensureLeaderKnown(options);
    const body = utf8Encoder.encode(JSON.stringify({ id: nodeId }));
    await this.#calls.call<undefined>(
      {
        method: 'DELETE',
        path: '/remove',
        parameters: [],
        body,
        contentType: 'application/json',
        target: 'leader',
        redirectable: true,
        responseBytesMax: this.#config.responseBytesMax,
        interpret: () => undefined,
      },
      options,
    );
  }

  /** Downloads a backup: the SQLite file, or a SQL dump with `format: 'sql'`. */
  async backup(options: BackupOptions = {}): Promise<Uint8Array> {
    const parameters: QueryParameter[] = [['fmt', options.format ?? 'binary']];
    if (options.tables !== undefined && options.tables.length > 0) parameters.push(['tables', options.tables.join(',')]);
    return this.#calls.call<Uint8Array>(
      {
        method: 'GET',
        path: '/db/backup',
        parameters,
        target: 'leader',
        redirectable: true,
        responseBytesMax: this.#config.backupBytesMax,
        interpret: (response) => response.body,
      },
      this.#transferOptions(options),
    );
  }

  /** Loads a SQLite file (bytes) or SQL text into the database, through the leader. */
  async load(content: Uint8Array | string, options: CallOptions = {}): Promise<JsonValue> {
    const body = typeof content === 'string' ? utf8Encoder.encode(content) : content;
    this.#checkRequestBytes(body);
    return this.#calls.call<JsonValue>(
      {
        method: 'POST',
        path: '/db/load',
        parameters: [],
        body,
        contentType: typeof content === 'string' ? 'text/plain' : 'application/octet-stream',
        target: 'leader',
        redirectable: true,
        idempotencyKey: newIdempotencyKey(),
        responseBytesMax: this.#config.responseBytesMax,
        interpret: (response, nodeUrl) => (response.body.byteLength === 0 ? null : this.#parseBody(response, nodeUrl, 'auto')),
      },
      this.#transferOptions(options),
    );
  }

  /** Creates database `name` through the log (`POST /db/create`); see database-calls.ts for the answers. */
  async createDatabase(name: string, options: CallOptions = {}): Promise<DatabaseChange> {
    return this.#calls.call(databaseChangeSpec('create', name, this.#config), options);
  }

  /** Drops database `name` through the log (`POST /db/drop`). */
  async dropDatabase(name: string, options: CallOptions = {}): Promise<DatabaseChange> {
    return this.#calls.call(databaseChangeSpec('drop', name, this.#config), options);
  }

  /** The databases the node asked has applied (`GET /db/list`), `main` first. */
  async listDatabases(options: CallOptions = {}): Promise<DatabaseList> {
    return this.#calls.call(databaseListSpec(this.#config), options);
  }

  #transferOptions(options: CallOptions): CallOptions {
    return {
      ...options,
      timeoutMs: options.timeoutMs ?? Math.max(this.#config.timeoutMs, transferTimeoutMsMin),
      deadlineMs: options.deadlineMs ?? Math.max(this.#config.deadlineMs, transferTimeoutMsMin),
    };
  }

  /** Fails calls in flight and queued with CLIENT_CLOSED and releases every connection. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const error = new QuorumliteError('CLIENT_CLOSED', 'the client was closed');
    this.#closeController.abort(error);
    this.#calls.close(error);
    await this.#local?.close();
    await this.#nodesRefresh?.catch(() => undefined);
    await this.#transport.close();
  }

  // ---- replies ------------------------------------------------------------------

  #interpretResults<Row>(response: HttpResponse, nodeUrl: string, options: ResultOptions): Reply<Row> {
    const bigint = options.bigint ?? this.#config.bigint;
    const body = this.#parseBody(response, nodeUrl, bigint === 'always' ? 'bigint' : 'auto');
    let reply: DecodedReply<Row>;
    try {
      reply = decodeReply<Row>(body, { bigint, rowMode: options.rowMode ?? this.#config.rowMode, sqlErrors: options.sqlErrors ?? this.#config.sqlErrors });
    } catch (error) {
      throw error instanceof QuorumliteError ? withNode(error, nodeUrl) : error;
    }
    if (reply.requestError !== undefined) throw errorForRequestError(reply.requestError, response, nodeUrl);
    if (reply.results.some((result) => result.error !== undefined && isLeadershipError(result.error, response))) {
      throw new QuorumliteError('NO_LEADER', `${nodeUrl}: not leader`, { nodeUrl });
    }
    if (reply.raftIndex !== undefined) this.#highestWrittenIndex = Math.max(this.#highestWrittenIndex, reply.raftIndex);
    const sqlError = firstSqlError(reply.results);
    if (sqlError !== undefined && (options.sqlErrors ?? this.#config.sqlErrors) === 'throw') {
      throw new QuorumliteError('SQL_ERROR', `statement ${sqlError.statementIndex}: ${sqlError.message}`, {
        statementIndex: sqlError.statementIndex,
        results: reply.results,
        nodeUrl,
      });
    }
    return { results: reply.results, raftIndex: reply.raftIndex };
  }

  #parseBody(response: HttpResponse, nodeUrl: string, integerMode: IntegerMode): JsonValue {
    const text = utf8Decoder.decode(response.body);
    try {
      return parseJson(text, integerMode);
    } catch (error) {
      const head = text.length > 200 ? `${text.slice(0, 200)}…` : text;
      throw new QuorumliteError('SERVER_ERROR', `${nodeUrl} answered with a body that is not JSON: ${JSON.stringify(head)}`, { cause: error, nodeUrl });
    }
  }

  #encodeBody(statements: InStatement | readonly InStatement[]): Uint8Array {
    const body = utf8Encoder.encode(encodeStatements(statements));
    this.#checkRequestBytes(body);
    return body;
  }

  #checkRequestBytes(body: Uint8Array): void {
    if (body.byteLength > this.#config.requestBytesMax) {
      throw new QuorumliteError('BODY_TOO_LARGE', `request body of ${body.byteLength} bytes exceeds requestBytesMax (${this.#config.requestBytesMax})`);
    }
  }

  // ---- discovery ----------------------------------------------------------------

  #nodesSpec(): CallSpec<NodeInfo[]> {
    return {
      method: 'GET',
      path: '/nodes',
      parameters: [
        ['nonvoters', undefined],
        ['ver', '2'],
      ],
      target: 'leader',
      redirectable: false,
      responseBytesMax: this.#config.responseBytesMax,
      interpret: (response, nodeUrl) => parseNodes(this.#parseBody(response, nodeUrl, 'auto'), nodeUrl),
    };
  }

  /** Starts a background `/nodes` poll when the last one is older than the interval. Never throws. */
  #maybeRefreshNodes(): void {
    if (!this.#config.discoverNodes || this.#nodesRefresh !== undefined || this.#closed) return;
    const nowMs = this.#config.clock.now();
    if (nowMs - this.#lastNodesRefreshAtMs < this.#config.nodesRefreshIntervalMs) return;
    this.#lastNodesRefreshAtMs = nowMs;
    this.#nodesRefresh = this.#refreshNodesOnce().finally(() => {
      this.#nodesRefresh = undefined;
    });
  }

  async #refreshNodesOnce(): Promise<void> {
    const spec = this.#nodesSpec();
    const run: CallRun = {
      signal: this.#closeController.signal,
      deadlineAtMs: this.#config.clock.now() + this.#config.timeoutMs,
      timeoutMs: this.#config.timeoutMs,
    };
    try {
      this.#view.applyNodes(await this.#calls.attempt(spec, run));
    } catch {
      // Best effort: a failed poll leaves the view as it was; the next call retries.
    }
  }

  async #ensureLeaderKnown(options: CallOptions): Promise<void> {
    if (this.#view.leader !== undefined) return;
    await this.nodes(options).catch(() => undefined);
  }
}

function withNode(error: QuorumliteError, nodeUrl: string): QuorumliteError {
  if (error.nodeUrl !== undefined) return error;
  return new QuorumliteError(error.code, `${nodeUrl}: ${error.message}`, { cause: error.cause, nodeUrl, statementIndex: error.statementIndex });
}
