/**
 * Interactive transactions on the node (docs/ARCHITECTURE.md, "Interactive transactions"):
 * `/db/begin`, statements with `?tx=`, `/db/commit` and `/db/rollback`. They live on the
 * leader in a bounded registry (transaction-registry.ts); a follower forwards each call to
 * it. Each statement call runs as a preview on the leader (the state machine's
 * transaction-preview.ts); the commit is one log entry carrying the statements and the
 * hash of each result, applied on every node only if every result is still the same.
 * Leadership lost or the node stopping aborts every open transaction.
 */
import { randomBytes } from 'node:crypto';
import type { AccessControl, Permission } from '../service/access-control.js';
import {
  ServiceError,
  type CallContext,
  type DataResponse,
  type InteractiveTransactionService,
  type TransactionBeginRequest,
  type TransactionEndRequest,
  type TransactionEndResponse,
  type TransactionStatementsRequest,
} from '../service/service.js';
import { encodeCommand } from '../state-machine/command-codec.js';
import { checkedDatabase, NodeDatabaseCatalog } from './database-catalog-service.js';
import { StateMachineError } from '../state-machine/errors.js';
import { validateForWrite } from '../state-machine/sql-policy.js';
import type { PreviewOutcome, PreviewTransaction } from '../state-machine/transaction-preview.js';
import { transactionConflictCode, transactionMissingCode } from '../state-machine/transaction-replay.js';
import type { Command, Statement, StatementResult } from '../state-machine/types.js';
import type { NodeConfig } from './config.js';
import { LeaderRouting } from './leader-routing.js';
import { authorizeForwarded } from './peer-access.js';
import { handleEnvelope, type PeerTransport } from './peer-calls.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';
import { TransactionRegistry, type OpenTransaction, type TransactionLimits } from './transaction-registry.js';

const peerMethodNames = {
  begin: 'quorumlite.tx-begin',
  statements: 'quorumlite.tx-statements',
  end: 'quorumlite.tx-end',
} as const;

/** How often open transactions are checked against their idle and lifetime bounds. */
const expirySweepIntervalMs = 250;

interface TransactionDependencies {
  readonly config: NodeConfig;
  readonly log: ReplicatedLog;
  readonly database: {
    previewTransaction(transaction: PreviewTransaction, statements: readonly Statement[], timings: boolean, database?: string): PreviewOutcome;
  };
  readonly peers: PeerTransport;
  readonly scheduler: Scheduler;
  /** Transactions' seeds; the runtime's seeded source in a simulation. */
  readonly random: () => number;
  readonly limits: TransactionLimits;
  readonly access: AccessControl | null;
}

export class NodeInteractiveTransactions implements InteractiveTransactionService {
  readonly #dependencies: TransactionDependencies;
  readonly #registry: TransactionRegistry;
  readonly #unsubscribe: () => void;
  readonly #routing: LeaderRouting;
  #sweep: ScheduledTimer | undefined;

  constructor(dependencies: TransactionDependencies) {
    this.#dependencies = dependencies;
    this.#registry = new TransactionRegistry(dependencies.limits);
    this.#routing = new LeaderRouting(dependencies);
    this.#unsubscribe = dependencies.log.subscribeLeaderChanges(() => {
      if (!dependencies.log.isLeader) this.#abortAll('leadership changed: the transaction was lost with it; run it again');
    });
  }

  get openCount(): number {
    return this.#registry.openCount;
  }

  registerPeerHandlers(): void {
    const serve = (method: string, needed: readonly Permission[], call: (payload: unknown, context: CallContext) => Promise<unknown>): void =>
      handleEnvelope(this.#dependencies.peers, method, (payload, signal) =>
        call(payload, { signal, caller: authorizeForwarded(this.#dependencies.access, payload, needed) }),
      );
    serve(peerMethodNames.begin, ['execute'], (payload, context) =>
      this.beginTransaction({ ...(payload as TransactionBeginRequest), forward: false }, context),
    );
    serve(peerMethodNames.statements, ['execute', 'query'], (payload, context) =>
      this.transactionStatements({ ...(payload as TransactionStatementsRequest), forward: false }, context),
    );
    serve(peerMethodNames.end, ['execute'], (payload, context) => this.endTransaction({ ...(payload as TransactionEndRequest), forward: false }, context));
  }

  /** The node stops: every open transaction is aborted. */
  stop(): void {
    this.#unsubscribe();
    this.#abortAll('the leader is stopping; run the transaction again');
  }

  #abortAll(reason: string): void {
    this.#registry.abortAll(reason);
    this.#sweep?.cancel();
    this.#sweep = undefined;
  }

  get #servedBy(): string {
    return this.#dependencies.config.raftAdvertisedAddress;
  }

  async beginTransaction(request: TransactionBeginRequest, context: CallContext): Promise<{ readonly transactionId: string; readonly servedBy: string }> {
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return this.#routing.forward(leaderId, peerMethodNames.begin, request, context);
    const owner = context.caller ?? `address ${request.clientAddress}`;
    this.#registry.checkRoomFor(owner);
    // A new leader may not have applied all its predecessor committed: the barrier makes the first read current.
    await this.#dependencies.log.readBarrier(Math.min(request.timeoutMs, this.#dependencies.config.linearizableTimeoutMs));
    if (!this.#dependencies.log.isLeader) throw new ServiceError('UNAVAILABLE', 'leadership changed while opening the transaction; retry');
    const nowMs = this.#dependencies.scheduler.nowMs();
    const transaction: OpenTransaction = {
      // 128 bits from the system's secure source: an id is its holder's only key when credentials are not checked.
      id: randomBytes(16).toString('hex'),
      database: checkedDatabase(request.database),
      owner,
      openedAtMs: nowMs,
      lastUsedAtMs: nowMs,
      timestampMs: nowMs,
      seed: BigInt(`0x${this.#randomHex(2)}`),
      statements: [],
      seen: null,
      bufferedBytes: 0,
      lastCall: undefined,
      commit: undefined,
    };
    // A database that does not exist is NOT_FOUND now, not at the first statement.
    this.#preview(transaction, [], false);
    this.#registry.add(transaction);
    this.#sweep ??= this.#dependencies.scheduler.setInterval(() => this.#registry.expire(this.#dependencies.scheduler.nowMs()), expirySweepIntervalMs);
    return { transactionId: transaction.id, servedBy: this.#servedBy };
  }

  /** `words` random 32-bit words in hex (the node's random source, seeded in tests and simulations). */
  #randomHex(words: number): string {
    let hex = '';
    for (let word = 0; word < words; word++)
      hex += Math.floor(this.#dependencies.random() * 2 ** 32)
        .toString(16)
        .padStart(8, '0');
    return hex;
  }

  async transactionStatements(request: TransactionStatementsRequest, context: CallContext): Promise<DataResponse> {
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return this.#routing.forward(leaderId, peerMethodNames.statements, request, context);
    const transaction = this.#owned(request.transactionId, context);
    if (request.idempotencyKey !== null && transaction.lastCall?.key === request.idempotencyKey) return transaction.lastCall.response;
    if (transaction.commit !== undefined) throw new ServiceError('TX_NOT_FOUND', `transaction ${transaction.id} is committing: no more statements`);
    validateInTransaction(request.statements);
    const addedBytes = this.#registry.checkGrowth(transaction, request.statements);
    const outcome = this.#preview(transaction, request.statements, request.timings);
    if (outcome.kind !== 'ran') this.#abortOnPreview(transaction, outcome);
    this.#registry.grow(transaction, addedBytes);
    transaction.statements = [...transaction.statements, ...outcome.statements];
    transaction.seen = outcome.seen;
    transaction.lastUsedAtMs = this.#dependencies.scheduler.nowMs();
    const response: DataResponse = { results: outcome.results, raftIndex: null, sequenceNumber: null, servedBy: this.#servedBy };
    if (request.idempotencyKey !== null) transaction.lastCall = { key: request.idempotencyKey, response };
    return response;
  }

  /** The open transaction; with credentials checked, only its own user may use it. */
  #owned(id: string, context: CallContext): OpenTransaction {
    const transaction = this.#registry.get(id);
    if (context.caller !== undefined && context.caller !== null && transaction.owner !== context.caller) {
      throw new ServiceError('TX_NOT_FOUND', `transaction ${id} is not open for this user`);
    }
    return transaction;
  }

  #preview(transaction: OpenTransaction, statements: readonly Statement[], timings: boolean): PreviewOutcome & { kind: string } {
    try {
      return this.#dependencies.database.previewTransaction(transaction, statements, timings, transaction.database);
    } catch (error) {
      if (error instanceof StateMachineError && error.code === 'NO_DATABASE') throw new ServiceError('NOT_FOUND', error.message, { cause: error });
      // BUSY (a checkpoint holds the lock), or a database not open now (a halt, a restore): the client retries.
      if (error instanceof StateMachineError)
        throw new ServiceError('UNAVAILABLE', `the leader cannot run the transaction now: ${error.message}`, { cause: error });
      throw error;
    }
  }

  #abortOnPreview(transaction: OpenTransaction, outcome: Exclude<PreviewOutcome, { kind: 'ran' }>): never {
    if (outcome.kind === 'conflict') {
      const reason = `statement ${outcome.position} of the transaction now sees a different result: the database changed under it`;
      this.#registry.end(transaction.id, { kind: 'aborted', reason: `conflict (${reason})` });
      throw new ServiceError('TX_CONFLICT', `transaction conflict: ${reason}; it is rolled back, retry it`);
    }
    const reason = `statement ${outcome.position}'s ROLLBACK conflict resolution ended the transaction`;
    this.#registry.end(transaction.id, { kind: 'aborted', reason });
    throw new ServiceError('BAD_REQUEST', `${reason}; it is rolled back`);
  }

  async endTransaction(request: TransactionEndRequest, context: CallContext): Promise<TransactionEndResponse> {
    const leaderId = this.#routing.leaderOrRefuse(request.forward);
    if (leaderId !== undefined) return this.#routing.forward(leaderId, peerMethodNames.end, request, context);
    if (request.action === 'rollback') return this.#rollback(request.transactionId, context);
    const transaction = this.#registry.find(request.transactionId);
    if (transaction === undefined) return this.#commitNotOpen(request);
    if (context.caller !== undefined && context.caller !== null && transaction.owner !== context.caller) this.#owned(transaction.id, context);
    const key = request.idempotencyKey ?? `tx-${transaction.id}`;
    if (transaction.commit !== undefined) {
      if (transaction.commit.key !== key) throw new ServiceError('TX_NOT_FOUND', `transaction ${transaction.id} is already committing`);
      return { raftIndex: await transaction.commit.outcome, servedBy: this.#servedBy };
    }
    const outcome = this.#commit(transaction, key, request.timeoutMs);
    transaction.commit = { key, outcome };
    return { raftIndex: await outcome, servedBy: this.#servedBy };
  }

  #rollback(id: string, context: CallContext): TransactionEndResponse {
    const transaction = this.#registry.find(id);
    if (transaction === undefined) {
      // A rollback repeated (its reply lost) answers as the first did.
      if (this.#registry.endedOutcome(id)?.kind === 'rolled back') return { raftIndex: null, servedBy: this.#servedBy };
      throw this.#registry.notFound(id);
    }
    const open = this.#owned(id, context);
    if (open.commit !== undefined) throw new ServiceError('TX_NOT_FOUND', `transaction ${id} is committing: too late to roll back`);
    this.#registry.end(id, { kind: 'rolled back' });
    return { raftIndex: null, servedBy: this.#servedBy };
  }

  /** Proposes the commit entry; resolves with its index once applied, or rejects with TX_CONFLICT. */
  async #commit(transaction: OpenTransaction, key: string, timeoutMs: number): Promise<number | null> {
    const command: Command = {
      statements: transaction.statements.map((previewed) => previewed.statement),
      transaction: true,
      timestampMs: this.#dependencies.scheduler.nowMs(),
      seed: transaction.seed,
      requestId: key,
      interactive: { timestampMs: transaction.timestampMs, resultHashes: transaction.statements.map((previewed) => previewed.resultHash), missing: false },
    };
    try {
      const raftIndex = await this.#propose(command, timeoutMs, transaction.database);
      this.#registry.end(transaction.id, { kind: 'committed', key, raftIndex });
      return raftIndex;
    } catch (error) {
      const conflict = error instanceof ServiceError && error.code === 'TX_CONFLICT';
      // Outcome unknown (timeout, leadership lost): a retry with the same key asks the log (#commitNotOpen).
      this.#registry.end(transaction.id, conflict ? { kind: 'aborted', reason: 'conflict at commit' } : { kind: 'commit outcome unknown' });
      throw error;
    }
  }

  /**
   * A commit of a transaction not open here: repeated after its reply was lost, perhaps to
   * a new leader. With its key, a "missing" entry asks the log: the dedup table answers
   * the first commit's result if it applied; if not, the entry records the key, so the
   * first commit can never apply after it (docs/ARCHITECTURE.md explains why).
   */
  async #commitNotOpen(request: TransactionEndRequest): Promise<TransactionEndResponse> {
    const ended = this.#registry.endedOutcome(request.transactionId);
    if (ended?.kind === 'committed' && ended.key === request.idempotencyKey) return { raftIndex: ended.raftIndex, servedBy: this.#servedBy };
    // Only a commit whose outcome is unknown, or one this leader never saw, needs the log's word.
    if (request.idempotencyKey === null || (ended !== undefined && ended.kind !== 'commit outcome unknown'))
      throw this.#registry.notFound(request.transactionId);
    const command: Command = {
      statements: [],
      transaction: true,
      timestampMs: this.#dependencies.scheduler.nowMs(),
      seed: 0n,
      requestId: request.idempotencyKey,
      interactive: { timestampMs: 0, resultHashes: [], missing: true },
    };
    return { raftIndex: await this.#propose(command, request.timeoutMs, checkedDatabase(request.database)), servedBy: this.#servedBy };
  }

  async #propose(command: Command, timeoutMs: number, database: string | undefined): Promise<number> {
    let data: Uint8Array;
    try {
      data = NodeDatabaseCatalog.wrap(database, encodeCommand(command));
    } catch (error) {
      throw new ServiceError('TX_LIMIT', `the commit does not fit one log entry: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    }
    const outcome = await this.#dependencies.log.propose(data, Math.min(timeoutMs, this.#dependencies.config.applyTimeoutMs));
    throwIfRefused(outcome.results);
    return outcome.index;
  }
}

/** A commit's results: none when it applied; one coded error when it did not. */
function throwIfRefused(results: readonly StatementResult[]): void {
  const refusal = results.find((result) => result.kind === 'error');
  if (refusal === undefined || refusal.kind !== 'error') return;
  if (refusal.sqliteCode === transactionConflictCode) throw new ServiceError('TX_CONFLICT', refusal.error);
  if (refusal.sqliteCode === transactionMissingCode) throw new ServiceError('TX_NOT_FOUND', refusal.error);
  // A deferred constraint broken at COMMIT: nothing applied, and running it again would break it again.
  throw new ServiceError('BAD_REQUEST', `the commit was rolled back: ${refusal.error}`);
}

/** The SQL policy for writes (every statement is replayed inside the commit), with transaction control named as such. */
function validateInTransaction(statements: readonly Statement[]): void {
  try {
    validateForWrite(statements);
  } catch (error) {
    if (!(error instanceof StateMachineError)) throw error;
    if (/\b(BEGIN|COMMIT|END|ROLLBACK|SAVEPOINT|RELEASE) is not allowed\b/.test(error.message)) {
      throw new ServiceError(
        'REFUSED_SQL',
        `${error.message.replace(/: a request is one unit.*$/, '')} inside an interactive transaction: end it with /db/commit or /db/rollback`,
        {
          cause: error,
        },
      );
    }
    throw new ServiceError(error.code === 'REFUSED_SQL' ? 'REFUSED_SQL' : 'BAD_REQUEST', error.message, { cause: error });
  }
}
