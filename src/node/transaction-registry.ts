/**
 * The leader's open interactive transactions, every one bounded (docs/API.md, "Interactive
 * transactions"): how many are open on the node and per client, how long one may sit idle
 * and live in all, how many statements and bytes it buffers, and how many bytes all
 * buffer together. A transaction that ends (committed, rolled back, aborted, expired)
 * leaves its outcome behind, the last `endedCountMax` of them, so a late call gets a clear
 * answer ("committed", "expired after 30000 ms idle") instead of "unknown".
 */
import { ServiceError, type DataResponse } from '../service/service.js';
import type { PreviewedStatement, PreviewTransaction } from '../state-machine/transaction-preview.js';
import type { Statement } from '../state-machine/types.js';

export interface TransactionLimits {
  /** Open transactions on the node. */
  readonly openCountMax: number;
  /** Open transactions of one client (its user when authenticated, else its address). */
  readonly openPerClientCountMax: number;
  /** A transaction without a call for this long is aborted. */
  readonly idleTimeoutMs: number;
  /** A transaction open this long is aborted, however busy. */
  readonly lifetimeMs: number;
  /** Statements one transaction holds (each preview replays the earlier writes: the cost grows with it). */
  readonly statementCountMax: number;
  /** Bytes of SQL and parameters one transaction buffers (its commit is one log entry). */
  readonly bufferedBytesMax: number;
  /** Bytes all open transactions buffer together. */
  readonly totalBufferedBytesMax: number;
  /** Outcomes of ended transactions remembered. */
  readonly endedCountMax: number;
}

export const defaultTransactionLimits: TransactionLimits = {
  openCountMax: 1000,
  openPerClientCountMax: 64,
  idleTimeoutMs: 30_000,
  lifetimeMs: 120_000,
  statementCountMax: 1000,
  bufferedBytesMax: 4 * 1024 * 1024,
  totalBufferedBytesMax: 256 * 1024 * 1024,
  endedCountMax: 10_000,
};

export interface OpenTransaction extends PreviewTransaction {
  readonly id: string;
  /** The database it runs in (`?db=` at begin); undefined: the default one. */
  readonly database?: string | undefined;
  readonly owner: string;
  readonly openedAtMs: number;
  lastUsedAtMs: number;
  statements: readonly PreviewedStatement[];
  seen: PreviewTransaction['seen'];
  bufferedBytes: number;
  /** The last statement call's key and answer: a retry of it answers again and runs nothing. */
  lastCall: { readonly key: string; readonly response: DataResponse } | undefined;
  /** Set once a commit was proposed: no more statements; a retry with the same key waits for the same outcome. */
  commit: { readonly key: string; readonly outcome: Promise<number | null> } | undefined;
}

/** How a transaction ended: a commit's key and index let a retried commit answer again. */
type EndedTransaction =
  | { readonly kind: 'committed'; readonly key: string; readonly raftIndex: number | null }
  | { readonly kind: 'rolled back' }
  | { readonly kind: 'aborted'; readonly reason: string }
  /** Its commit was proposed but the answer never came (timeout, leadership lost): only the log knows. */
  | { readonly kind: 'commit outcome unknown' };

export class TransactionRegistry {
  readonly limits: TransactionLimits;
  readonly #open = new Map<string, OpenTransaction>();
  readonly #ended = new Map<string, EndedTransaction>();
  readonly #openPerOwner = new Map<string, number>();
  #totalBufferedBytes = 0;

  constructor(limits: TransactionLimits) {
    this.limits = limits;
  }

  get openCount(): number {
    return this.#open.size;
  }

  /** Refuses with TX_LIMIT when the node or `owner` holds as many as it may. */
  checkRoomFor(owner: string): void {
    if (this.#open.size >= this.limits.openCountMax) {
      throw new ServiceError('TX_LIMIT', `${this.#open.size} interactive transactions are open on the leader, the most it holds (openCountMax)`);
    }
    const ownerCount = this.#openPerOwner.get(owner) ?? 0;
    if (ownerCount >= this.limits.openPerClientCountMax) {
      throw new ServiceError('TX_LIMIT', `this client holds ${ownerCount} open interactive transactions, the most one client may (openPerClientCountMax)`);
    }
  }

  add(transaction: OpenTransaction): void {
    this.checkRoomFor(transaction.owner);
    this.#open.set(transaction.id, transaction);
    this.#openPerOwner.set(transaction.owner, (this.#openPerOwner.get(transaction.owner) ?? 0) + 1);
  }

  /** The open transaction, or TX_NOT_FOUND saying why there is none. */
  get(id: string): OpenTransaction {
    const transaction = this.#open.get(id);
    if (transaction !== undefined) return transaction;
    throw this.notFound(id);
  }

  /** TX_NOT_FOUND for `id`, saying how it ended when that is remembered. */
  notFound(id: string): ServiceError {
    const ended = this.#ended.get(id);
    if (ended === undefined)
      return new ServiceError('TX_NOT_FOUND', `transaction ${id} is not open on the leader (unknown, long ended, or lost with a leader change)`);
    if (ended.kind === 'aborted') return new ServiceError('TX_NOT_FOUND', `transaction ${id} was aborted: ${ended.reason}`);
    return new ServiceError('TX_NOT_FOUND', `transaction ${id} was already ${ended.kind}`);
  }

  find(id: string): OpenTransaction | undefined {
    return this.#open.get(id);
  }

  endedOutcome(id: string): EndedTransaction | undefined {
    return this.#ended.get(id);
  }

  /** Refuses with TX_LIMIT what would take `transaction` past its statement or byte bounds, or all past theirs. */
  checkGrowth(transaction: OpenTransaction, statements: readonly Statement[]): number {
    const statementCount = transaction.statements.length + statements.length;
    if (statementCount > this.limits.statementCountMax) {
      throw new ServiceError(
        'TX_LIMIT',
        `the transaction would hold ${statementCount} statements, more than statementCountMax ${this.limits.statementCountMax}`,
      );
    }
    const addedBytes = statements.reduce((sum, statement) => sum + statementBytes(statement), 0);
    if (transaction.bufferedBytes + addedBytes > this.limits.bufferedBytesMax) {
      throw new ServiceError(
        'TX_LIMIT',
        `the transaction would buffer ${transaction.bufferedBytes + addedBytes} bytes, more than bufferedBytesMax ${this.limits.bufferedBytesMax}`,
      );
    }
    if (this.#totalBufferedBytes + addedBytes > this.limits.totalBufferedBytesMax) {
      throw new ServiceError('TX_LIMIT', `open transactions buffer ${this.#totalBufferedBytes} bytes together, near totalBufferedBytesMax: retry later`);
    }
    return addedBytes;
  }

  grow(transaction: OpenTransaction, addedBytes: number): void {
    transaction.bufferedBytes += addedBytes;
    this.#totalBufferedBytes += addedBytes;
  }

  /** Removes `id` (if open) and remembers how it ended. */
  end(id: string, outcome: EndedTransaction): void {
    const transaction = this.#open.get(id);
    if (transaction !== undefined) {
      this.#open.delete(id);
      this.#totalBufferedBytes -= transaction.bufferedBytes;
      const ownerCount = (this.#openPerOwner.get(transaction.owner) ?? 1) - 1;
      if (ownerCount === 0) this.#openPerOwner.delete(transaction.owner);
      else this.#openPerOwner.set(transaction.owner, ownerCount);
    }
    this.#ended.delete(id);
    this.#ended.set(id, outcome);
    // Oldest first: a Map iterates in insertion order.
    for (const oldest of this.#ended.keys()) {
      if (this.#ended.size <= this.limits.endedCountMax) break;
      this.#ended.delete(oldest);
    }
  }

  /**
   * Aborts every open transaction (leadership lost, node stopping). One whose commit is in
   * flight may still apply: its outcome is unknown, so a retried commit asks the log.
   */
  abortAll(reason: string): void {
    for (const transaction of [...this.#open.values()]) {
      this.end(transaction.id, transaction.commit === undefined ? { kind: 'aborted', reason } : { kind: 'commit outcome unknown' });
    }
  }

  /** Aborts the transactions idle or alive past their bounds at `nowMs`; not one whose commit is in flight. */
  expire(nowMs: number): void {
    for (const transaction of [...this.#open.values()]) {
      if (transaction.commit !== undefined) continue;
      if (nowMs - transaction.lastUsedAtMs >= this.limits.idleTimeoutMs) {
        this.end(transaction.id, { kind: 'aborted', reason: `expired after ${this.limits.idleTimeoutMs} ms idle (idleTimeoutMs)` });
      } else if (nowMs - transaction.openedAtMs >= this.limits.lifetimeMs) {
        this.end(transaction.id, { kind: 'aborted', reason: `expired after ${this.limits.lifetimeMs} ms open (lifetimeMs)` });
      }
    }
  }
}

/** What a statement costs the transaction's bounds: its SQL and parameters, roughly as they travel. */
function statementBytes(statement: Statement): number {
  let bytes = Buffer.byteLength(statement.sql);
  const values = [...statement.positional, ...Object.values(statement.named)];
  for (const value of values) {
    if (typeof value === 'string') bytes += Buffer.byteLength(value);
    else if (value instanceof Uint8Array) bytes += value.byteLength;
    else bytes += 9;
  }
  return bytes + Object.keys(statement.named).reduce((sum, name) => sum + name.length, 0);
}
