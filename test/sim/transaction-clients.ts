/**
 * The transaction workload's clients: the simulator's twin of interactive transactions
 * (src/node/interactive-transactions.ts; docs/ARCHITECTURE.md, "Interactive
 * transactions"). Each client runs one read-modify-write transaction at a time:
 *
 * - It reads a snapshot on a random running node: all its keys at one instant of that
 *   node's state, after a read barrier, or with the barrier skipped (a snapshot that may
 *   be stale: validation at commit must then reject it if anything it read has changed).
 * - It computes its writes and, a few ticks later (other transactions commit meanwhile),
 *   commits them as ONE log entry (`runtime.propose` of a TransactionCommand) carrying
 *   every value it read and its idempotency key, through the leader the node knows.
 * - Every node applies the entry only if each read still holds at its log position,
 *   else rejects it as a conflict (transaction-command.ts); the client is told which.
 * - A commit whose reply is lost (a timeout, leadership lost, the node crashed or
 *   stopped; while the chaos lasts, also a reply lost on its way back to the client, as
 *   an HTTP response can be, though the commit applied) is retried with the same idempotency key on whichever node leads then, up to
 *   commitAttemptsMax attempts; a retry of a commit that applied is answered from the
 *   recorded outcome. Out of attempts, the outcome is unknown, or a failure if no attempt
 *   can have reached the log.
 *
 * The transactions: transfers between two accounts (read both, write both: the accounts
 * always sum to 0), increments of a counter (read it, write it plus one), blind additions
 * to a counter (no read: applied twice, it would count twice), and read-only snapshots of
 * every account. serializability.ts judges the history.
 */
import { ServiceError } from '../../src/service/service.js';
import { transactionConflictCode } from '../../src/state-machine/transaction-replay.js';
import type { StatementResult } from '../../src/state-machine/types.js';
import { chooseProcess, messageOf, redirectTarget, refusedBeforeTheLog, rejectedAtCall, type WorkloadClients } from './clients.js';
import type { Prng } from './prng.js';
import { simulatorTickMs, type Scenario } from './scenario.js';
import type { SimHost, SimProcess } from './sim-host.js';
import type { Trace } from './trace.js';
import { encodeTransactionCommand, integerValue, type TransactionCommand, type TransactionWrite } from './transaction-command.js';

export type TransactionKind = 'transfer' | 'increment' | 'blind-add' | 'read-accounts';

/** What the client was told: the commit applied, it was rejected as a conflict, it definitely never applied, or nobody knows. */
export type TransactionClientOutcome = 'committed' | 'conflict' | 'fail' | 'unknown';

export interface TransactionRecord {
  /** The idempotency key every commit attempt carries. */
  readonly transactionId: string;
  readonly clientId: number;
  readonly kind: TransactionKind;
  /** The commit, once the snapshot is read. */
  command: TransactionCommand | undefined;
  /** Undefined while the transaction is open. */
  outcome: TransactionClientOutcome | undefined;
  commitAttempts: number;
  /** Some attempt may have reached the log (its reply was lost): the outcome can no longer be 'fail'. */
  mayHaveReachedLog: boolean;
  /** Logical times (one counter over the clients' events): the first commit attempt, and the answer. */
  firstProposedAt: number | undefined;
  answeredAt: number | undefined;
}

export interface TransactionClientContext {
  readonly hosts: ReadonlyMap<string, SimHost>;
  readonly trace: Trace;
  readonly prng: Prng;
  readonly scenario: Scenario;
  readonly clientCount: number;
  readonly unsuccessfulOperationReasons: Record<string, number>;
  readonly nowMs: () => number;
  /** Whether the faults still run (replies are lost only then). */
  readonly inChaos: () => boolean;
}

/** The accounts transfers move amounts between (they sum to 0) and the counters increments count on. */
export const accountKeys: readonly string[] = ['a0', 'a1', 'a2', 'a3'];
export const counterKeys: readonly string[] = ['c0', 'c1'];

/** Commit attempts per transaction, at most (the first and the retries after lost replies). */
const commitAttemptsMax = 4;
/** Ticks between reading the snapshot and committing, and before a retry, at most. */
const thinkTicksMax = 3;
const retryDelayTicksMax = 5;
/** The share of snapshots read after a read barrier; the others skip it and may be stale. */
const barrierReadProbability = 0.5;
/** While the chaos lasts, the chance that a commit's answer is lost on its way to the client (it retries). */
const replyLossProbability = 0.1;
/** A transfer moves 1 to this much. */
const transferAmountMax = 5;

interface ClientState {
  transaction: TransactionRecord | undefined;
  /** When its next commit attempt is due (virtual ms), if it is waiting for one. */
  commitAtMs: number | undefined;
}

interface WaitingRequest {
  readonly transaction: TransactionRecord;
  readonly startedAtMs: number;
}

export class TransactionClients implements WorkloadClients {
  /** Every transaction begun, in the order begun. */
  readonly transactions: TransactionRecord[] = [];
  /** Commit attempts after the first (retries with the same idempotency key). */
  commitRetries = 0;
  private readonly clients: ClientState[];
  /** Requests in flight (a read barrier or one commit attempt), by request id: the unanswered-request check. */
  private readonly waiting = new Map<number, WaitingRequest>();
  private nextRequestId = 1;
  private logicalTime = 0;

  constructor(private readonly context: TransactionClientContext) {
    this.clients = Array.from({ length: context.clientCount }, () => ({ transaction: undefined, commitAtMs: undefined }));
  }

  get timeoutMs(): number {
    return this.context.scenario.clientOperationTimeoutTicks * simulatorTickMs;
  }

  /** Due commits go out; each idle client begins a transaction with the scenario's probability. */
  startOperations(): void {
    for (let clientId = 0; clientId < this.clients.length; clientId++) {
      const client = this.clients[clientId] as ClientState;
      if (client.transaction !== undefined) {
        if (client.commitAtMs !== undefined && client.commitAtMs <= this.context.nowMs()) this.commit(client, client.transaction);
        continue;
      }
      if (this.context.prng.chance(this.context.scenario.clientOperationProbabilityPerTick)) this.begin(client, clientId);
    }
  }

  private begin(client: ClientState, clientId: number): void {
    const { prng } = this.context;
    const choice = chooseProcess(this.context.hosts, prng);
    if (choice === undefined) return;
    const kind = prng.pick(['transfer', 'transfer', 'increment', 'blind-add', 'read-accounts'] as const);
    const transaction: TransactionRecord = {
      transactionId: `tx${this.transactions.length + 1}`,
      clientId,
      kind,
      command: undefined,
      outcome: undefined,
      commitAttempts: 0,
      mayHaveReachedLog: false,
      firstProposedAt: undefined,
      answeredAt: undefined,
    };
    this.transactions.push(transaction);
    client.transaction = transaction;
    this.context.trace.record(this.context.nowMs(), 'tx-begin', `c${clientId}`, transaction.transactionId, kind, choice.picked.nodeId);
    if (!prng.chance(barrierReadProbability)) {
      this.readSnapshot(client, transaction, choice.picked);
      return;
    }
    const requestId = this.request(choice.picked, transaction, 'read');
    choice.picked.runtime.readBarrier(this.timeoutMs).then(
      () => {
        if (this.settle(choice.picked, requestId)) this.readSnapshot(client, transaction, choice.picked);
      },
      (error: unknown) => {
        if (this.settle(choice.picked, requestId)) this.finish(transaction, 'fail', `read: ${codeOf(error)} ${messageOf(error)}`);
      },
    );
  }

  /** Reads the transaction's keys from `process`'s state at this instant, buffers its writes, and sets its commit a few ticks ahead. */
  private readSnapshot(client: ClientState, transaction: TransactionRecord, process: SimProcess): void {
    const { prng } = this.context;
    const database = process.host.database;
    const read = (key: string): [string, string] => [key, database.get(key)];
    const counter = prng.pick(counterKeys);
    let reads: [string, string][] = [];
    let writes: TransactionWrite[] = [];
    if (transaction.kind === 'transfer') {
      const from = prng.pick(accountKeys);
      const to = prng.pick(accountKeys.filter((key) => key !== from));
      const amount = prng.nextIntBetween(1, transferAmountMax);
      reads = [read(from), read(to)];
      writes = [
        { kind: 'put', key: from, value: String(integerValue(reads[0]?.[1] ?? '') - amount) },
        { kind: 'put', key: to, value: String(integerValue(reads[1]?.[1] ?? '') + amount) },
      ];
    } else if (transaction.kind === 'increment') {
      reads = [read(counter)];
      writes = [{ kind: 'put', key: counter, value: String(integerValue(reads[0]?.[1] ?? '') + 1) }];
    } else if (transaction.kind === 'blind-add') {
      writes = [{ kind: 'add', key: counter, delta: 1 }];
    } else {
      reads = accountKeys.map(read);
    }
    transaction.command = { transactionId: transaction.transactionId, reads, writes };
    client.commitAtMs = this.context.nowMs() + prng.nextIntBetween(0, thinkTicksMax) * simulatorTickMs;
    const readText = reads.map(([key, value]) => `${key}=${value}`).join(',');
    this.context.trace.record(this.context.nowMs(), 'tx-read', transaction.transactionId, process.nodeId, `@${database.appliedIndex}`, readText);
  }

  /** One commit attempt, through the leader a random running node knows (or that node); waits a tick when no node runs. */
  private commit(client: ClientState, transaction: TransactionRecord): void {
    const choice = chooseProcess(this.context.hosts, this.context.prng);
    if (choice === undefined) return;
    client.commitAtMs = undefined;
    if (transaction.commitAttempts > 0) this.commitRetries++;
    this.propose(client, transaction, choice.leader ?? choice.picked, true);
  }

  private propose(client: ClientState, transaction: TransactionRecord, process: SimProcess, mayRedirect: boolean): void {
    transaction.commitAttempts++;
    transaction.firstProposedAt ??= this.logicalTime++;
    const requestId = this.request(process, transaction, 'write');
    const { transactionId } = transaction;
    this.context.trace.record(this.context.nowMs(), 'tx-commit', process.nodeId, transactionId, `attempt=${transaction.commitAttempts}`);
    const outcome = process.runtime.propose(encodeTransactionCommand(transaction.command as TransactionCommand), this.timeoutMs);
    const refusedAtCall = rejectedAtCall(outcome);
    outcome.then(
      (applied) => {
        if (!this.settle(process, requestId)) return;
        const answer = answerOf(applied.results);
        if (!this.context.inChaos() || !this.context.prng.chance(replyLossProbability)) return this.finish(transaction, answer, `i=${applied.index}`);
        transaction.mayHaveReachedLog = true;
        this.commitUnanswered(client, transaction, `reply lost (${answer} at ${applied.index})`);
      },
      async (error: unknown) => {
        const atCall = await refusedAtCall;
        if (!this.settle(process, requestId)) return;
        // The contract (src/node replicated-log.ts): a refusal comes at the call, before the
        // command reaches the log; a rejection after that leaves the attempt's outcome unknown.
        const reachedNoLog = atCall || refusedBeforeTheLog.has(codeOf(error));
        if (!reachedNoLog) transaction.mayHaveReachedLog = true;
        const redirect = mayRedirect && reachedNoLog ? redirectTarget(this.context.hosts, error) : undefined;
        if (redirect !== undefined) return this.propose(client, transaction, redirect, false);
        this.commitUnanswered(client, transaction, `commit: ${codeOf(error)} ${messageOf(error)}`);
      },
    );
  }

  /** An attempt got no answer: retry with the same idempotency key, or give up once out of attempts. */
  private commitUnanswered(client: ClientState, transaction: TransactionRecord, reason: string): void {
    if (transaction.commitAttempts >= commitAttemptsMax) {
      this.finish(transaction, transaction.mayHaveReachedLog ? 'unknown' : 'fail', reason);
      return;
    }
    client.commitAtMs = this.context.nowMs() + this.context.prng.nextIntBetween(1, retryDelayTicksMax) * simulatorTickMs;
    this.context.trace.record(this.context.nowMs(), 'tx-retry', transaction.transactionId, reason);
  }

  /** A process ended: a read barrier waiting on it failed (nothing was proposed); a commit waiting on it lost its reply. */
  processEnded(process: SimProcess, why: string): void {
    for (const [requestId, kind] of process.pendingOperations) {
      const transaction = this.waiting.get(requestId)?.transaction;
      this.waiting.delete(requestId);
      if (transaction === undefined) continue;
      if (kind === 'read') {
        this.finish(transaction, 'fail', `${process.nodeId} ${why}`);
        continue;
      }
      transaction.mayHaveReachedLog = true;
      this.commitUnanswered(this.clients[transaction.clientId] as ClientState, transaction, `${process.nodeId} ${why}`);
    }
    process.pendingOperations.clear();
  }

  oldestWaitingLongerThan(ageMs: number): { operationId: number; ageMs: number } | undefined {
    const nowMs = this.context.nowMs();
    for (const [requestId, waiting] of this.waiting) {
      if (nowMs - waiting.startedAtMs > ageMs) return { operationId: requestId, ageMs: nowMs - waiting.startedAtMs };
    }
    return undefined;
  }

  private request(process: SimProcess, transaction: TransactionRecord, kind: 'read' | 'write'): number {
    const requestId = this.nextRequestId++;
    this.waiting.set(requestId, { transaction, startedAtMs: this.context.nowMs() });
    process.pendingOperations.set(requestId, kind);
    return requestId;
  }

  /** Whether the request was still waiting (not already ended with its process); it no longer is. */
  private settle(process: SimProcess, requestId: number): boolean {
    this.waiting.delete(requestId);
    return process.pendingOperations.delete(requestId);
  }

  private finish(transaction: TransactionRecord, outcome: TransactionClientOutcome, detail: string): void {
    transaction.outcome = outcome;
    transaction.answeredAt = this.logicalTime++;
    const client = this.clients[transaction.clientId] as ClientState;
    client.transaction = undefined;
    client.commitAtMs = undefined;
    this.context.trace.record(this.context.nowMs(), `tx-${outcome}`, transaction.transactionId, detail);
    if (outcome === 'fail' || outcome === 'unknown') {
      const reasons = this.context.unsuccessfulOperationReasons;
      const reason = `${outcome === 'fail' ? 'fail' : 'info'}: ${detail.replace(/\d+/g, 'N')}`;
      reasons[reason] = (reasons[reason] ?? 0) + 1;
    }
  }
}

/** A commit's results: none when it applied; one conflict when it did not (as the real commit answers). */
function answerOf(results: readonly StatementResult[]): 'committed' | 'conflict' {
  if (results.length === 0) return 'committed';
  const [result] = results;
  if (results.length === 1 && result?.kind === 'error' && result.sqliteCode === transactionConflictCode) return 'conflict';
  throw new Error(`a transaction commit answered ${JSON.stringify(results)}`);
}

function codeOf(error: unknown): string {
  return error instanceof ServiceError ? error.code : 'INTERNAL';
}
