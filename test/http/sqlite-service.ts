/**
 * A small single-node ClusterService over a real better-sqlite3 database, for testing
 * the HTTP layer: the statements really run, and knobs let a test play the parts of
 * the cluster (not the leader, no leader, a stale replica, a queue that never
 * flushes, a service that hangs). Every request it receives is recorded.
 */
import Database from 'better-sqlite3';
import {
  ServiceError,
  type CallContext,
  type ClusterService,
  type CounterSections,
  type DataResponse,
  type ExecuteRequest,
  type LeaderRequest,
  type MetricFamily,
  type MixedRequest,
  type NodeInfo,
  type NodesRequest,
  type QueryRequest,
  type ReadinessCheck,
  type ReadinessRequest,
  type RemoveRequest,
  type StatusDocument,
  type StepDownRequest,
} from '../../src/service/service.js';
import type { SqlResultValue, SqlValue, Statement, StatementResult } from '../../src/state-machine/types.js';
import { isSqlReal } from '../../src/common/real-values.js';

export interface Knobs {
  /** Not the leader: answer NOT_LEADER (with this address) when asked not to forward. */
  leaderApiAddress: string | null;
  isLeader: boolean;
  noLeader: boolean;
  staleRead: boolean;
  queueNeverFlushes: boolean;
  /** Every data call waits for its signal to abort and never answers on its own. */
  hang: boolean;
  readiness: ReadinessCheck[];
  throwUnexpected: boolean;
  /** A follower that never forwards: always NOT_LEADER with leaderApiAddress. */
  refuseToForward: boolean;
  /** When set, every data call (execute, query, request) rejects with it. */
  failWith: ServiceError | null;
}

export const servedBy = '127.0.0.1:4002';

export class SqliteService implements ClusterService {
  readonly database: Database.Database = new Database(':memory:');
  readonly requests: unknown[] = [];
  readonly stepDowns: StepDownRequest[] = [];
  readonly removals: RemoveRequest[] = [];
  readonly abortedSignals: AbortSignal[] = [];
  knobs: Knobs = {
    leaderApiAddress: null,
    isLeader: true,
    noLeader: false,
    staleRead: false,
    queueNeverFlushes: false,
    hang: false,
    readiness: [
      { name: 'leader', ok: true, message: '' },
      { name: 'store', ok: true, message: '' },
      { name: 'db', ok: true, message: '' },
    ],
    throwUnexpected: false,
    failWith: null,
    refuseToForward: false,
  };
  #raftIndex = 0;
  #sequenceNumber = 0n;
  readonly #idempotentResults = new Map<string, DataResponse>();

  constructor() {
    this.database.defaultSafeIntegers(true);
  }

  close(): void {
    this.database.close();
  }

  async execute(request: ExecuteRequest, context: CallContext): Promise<DataResponse> {
    this.requests.push(request);
    this.#checkFailWith();
    await this.#checkLeadership(request.forward, context);
    if (request.queue) return this.#enqueue(request, context);
    return this.#write(request);
  }

  async query(request: QueryRequest, context: CallContext): Promise<DataResponse> {
    this.requests.push(request);
    this.#checkFailWith();
    if (request.level !== 'none') await this.#checkLeadership(request.forward, context);
    else await this.#checkHang(context);
    if (this.knobs.staleRead && request.level === 'none' && request.freshnessMs !== null) {
      throw new ServiceError('STALE_READ', 'stale read');
    }
    const results = this.#run(request.statements, request.transaction, request.timings, 'read-only');
    return { results, raftIndex: null, sequenceNumber: null, servedBy };
  }

  async request(request: MixedRequest, context: CallContext): Promise<DataResponse> {
    this.requests.push(request);
    this.#checkFailWith();
    await this.#checkLeadership(request.forward, context);
    const readOnly = request.statements.every((statement) => this.database.prepare(statement.sql).reader);
    if (readOnly) {
      const results = this.#run(request.statements, request.transaction, request.timings, 'read-only');
      return { results, raftIndex: null, sequenceNumber: null, servedBy };
    }
    return this.#write(request);
  }

  #write(request: ExecuteRequest | MixedRequest): DataResponse {
    if (request.idempotencyKey !== null) {
      const first = this.#idempotentResults.get(request.idempotencyKey);
      if (first !== undefined) return first;
    }
    this.#raftIndex++;
    const results = this.#run(request.statements, request.transaction, request.timings, 'read-write');
    const response = { results, raftIndex: this.#raftIndex, sequenceNumber: null, servedBy };
    if (request.idempotencyKey !== null) this.#idempotentResults.set(request.idempotencyKey, response);
    return response;
  }

  async #enqueue(request: ExecuteRequest, context: CallContext): Promise<DataResponse> {
    this.#sequenceNumber++;
    const sequenceNumber = this.#sequenceNumber;
    const flushed = new Promise<void>((resolve) => {
      if (this.knobs.queueNeverFlushes) return;
      setImmediate(() => {
        this.#write(request);
        resolve();
      });
    });
    if (request.wait) {
      const deadline = new AbortController();
      try {
        await Promise.race([flushed, abortedOrTimedOut(AbortSignal.any([context.signal, deadline.signal]), request.timeoutMs)]);
      } finally {
        deadline.abort();
      }
    }
    return { results: [], raftIndex: null, sequenceNumber, servedBy };
  }

  #checkFailWith(): void {
    if (this.knobs.failWith !== null) throw this.knobs.failWith;
  }

  async #checkLeadership(forward: boolean, context: CallContext): Promise<void> {
    if (this.knobs.throwUnexpected) throw new TypeError('unexpected failure inside the service');
    if (this.knobs.noLeader) throw new ServiceError('NO_LEADER', 'leader not found');
    if (!this.knobs.isLeader && (!forward || this.knobs.refuseToForward)) {
      throw new ServiceError('NOT_LEADER', 'not the leader', { leaderApiAddress: this.knobs.leaderApiAddress });
    }
    await this.#checkHang(context);
  }

  async #checkHang(context: CallContext): Promise<void> {
    if (!this.knobs.hang) return;
    await new Promise<void>((resolve) => context.signal.addEventListener('abort', () => resolve(), { once: true }));
    this.abortedSignals.push(context.signal);
    throw new ServiceError('UNAVAILABLE', 'aborted');
  }

  #run(statements: readonly Statement[], transaction: boolean, timings: boolean, mode: 'read-only' | 'read-write'): StatementResult[] {
    const results: StatementResult[] = [];
    if (transaction) this.database.exec('BEGIN');
    for (const statement of statements) {
      const result = this.#runOne(statement, timings, mode);
      results.push(result);
      if (transaction && result.kind === 'error') {
        this.database.exec('ROLLBACK');
        return results;
      }
    }
    if (transaction) this.database.exec('COMMIT');
    return results;
  }

  #runOne(statement: Statement, timings: boolean, mode: 'read-only' | 'read-write'): StatementResult {
    const startedMs = performance.now();
    const result = this.#runUntimed(statement, mode);
    if (!timings) return result;
    return { ...result, timeSeconds: Math.max((performance.now() - startedMs) / 1000, 1e-9) };
  }

  #runUntimed(statement: Statement, mode: 'read-only' | 'read-write'): StatementResult {
    try {
      const prepared = this.database.prepare(statement.sql);
      const parameters = bindings(statement);
      if (prepared.reader) {
        const columns = prepared.columns();
        const rows = prepared.raw(true).all(...parameters) as SqlResultValue[][];
        return {
          kind: 'rows',
          columns: columns.map((column) => column.name),
          types: columns.map((column) => (column.type ?? '').toLowerCase()),
          rows,
        };
      }
      if (mode === 'read-only') return { kind: 'error', error: 'attempt to change database via query operation' };
      const info = prepared.run(...parameters);
      if (info.changes === 0 && /^\s*(create|drop|alter)\b/i.test(statement.sql)) return { kind: 'empty' };
      return { kind: 'write', lastInsertId: info.lastInsertRowid, rowsAffected: info.changes };
    } catch (error) {
      return { kind: 'error', error: error instanceof Error ? error.message : String(error) };
    }
  }

  async status(): Promise<StatusDocument> {
    return {
      store: { raft: { state: this.knobs.isLeader ? 'Leader' : 'Follower', commit_index: this.#raftIndex, voter: true } },
      node: { id: 'n1', big: 9223372036854775807n },
    };
  }

  async nodes(request: NodesRequest): Promise<readonly NodeInfo[]> {
    this.requests.push(request);
    return [node('n1', '127.0.0.1', true, true), node('n2', '127.0.0.2', true, false), node('n3', '127.0.0.3', false, false)];
  }

  async leader(request: LeaderRequest): Promise<NodeInfo | null> {
    this.requests.push(request);
    return this.knobs.noLeader ? null : node('n1', '127.0.0.1', true, true);
  }

  async stepDown(request: StepDownRequest): Promise<void> {
    if (request.id !== null && !['n1', 'n2', 'n3'].includes(request.id)) {
      throw new ServiceError('NOT_FOUND', `node ${request.id} is not a member`);
    }
    this.stepDowns.push(request);
  }

  async remove(request: RemoveRequest): Promise<void> {
    if (!['n1', 'n2', 'n3'].includes(request.id)) throw new ServiceError('NOT_FOUND', `node ${request.id} is not a member`);
    this.removals.push(request);
  }

  async readiness(request: ReadinessRequest): Promise<readonly ReadinessCheck[]> {
    this.requests.push(request);
    if (this.knobs.noLeader) throw new ServiceError('NO_LEADER', 'leader not found');
    const checks = [...this.knobs.readiness];
    if (request.sync) checks.splice(2, 0, { name: 'sync', ok: true, message: '' });
    return checks;
  }

  /** Counts nothing of its own: /debug/vars shows only the HTTP layer's and the process's sections. */
  async counters(): Promise<CounterSections> {
    return {};
  }

  async metrics(): Promise<readonly MetricFamily[]> {
    return [
      {
        name: 'quorumlite_raft_commit_index',
        help: 'The highest log index known to be committed.',
        type: 'gauge',
        samples: [{ labels: {}, value: BigInt(this.#raftIndex) }],
      },
    ];
  }
}

function bindings(statement: Statement): unknown[] {
  const toBindable = (value: SqlValue): unknown => (typeof value === 'boolean' ? (value ? 1 : 0) : isSqlReal(value) ? value.real : value);
  const positional = statement.positional.map(toBindable);
  const namedKeys = Object.keys(statement.named);
  if (namedKeys.length === 0) return positional;
  const named = Object.fromEntries(namedKeys.map((key) => [key, toBindable(statement.named[key] as SqlValue)]));
  return [...positional, named];
}

function node(id: string, host: string, voter: boolean, leader: boolean): NodeInfo {
  return {
    id,
    apiAddress: `http://${host}:4001`,
    raftAddress: `${host}:4002`,
    version: '0.1.0',
    voter,
    reachable: true,
    leader,
    timeSeconds: 0.001,
    error: '',
  };
}

/** Rejects with TIMEOUT after timeoutMs, or at once when `signal` aborts (which also clears the timer). */
function abortedOrTimedOut(signal: AbortSignal, timeoutMs: number): Promise<never> {
  return new Promise((_, reject) => {
    const timer = setTimeout(() => reject(new ServiceError('TIMEOUT', `queue not flushed within ${timeoutMs}ms`)), timeoutMs);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new ServiceError('TIMEOUT', 'aborted'));
      },
      { once: true },
    );
  });
}
