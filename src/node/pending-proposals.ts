/**
 * Proposals waiting for their entry to be applied. A proposal is known by the index and
 * term the core gave it. When an entry is applied at that index, the waiter resolves if
 * the term matches (it is our entry) and fails if it does not (another leader's entry
 * replaced ours). On leadership loss every waiter fails at once: the client hears
 * promptly and may retry (with an idempotency key, exactly once).
 */
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';

interface Waiter<Result> {
  readonly term: number;
  readonly resolve: (result: Result) => void;
  readonly reject: (error: Error) => void;
}

export class PendingProposals<Result> {
  readonly #waiters = new Map<number, Waiter<Result>>();
  readonly #countMax: number;

  constructor(countMax: number) {
    assert(Number.isInteger(countMax) && countMax >= 1, `countMax must be >= 1, got ${countMax}`);
    this.#countMax = countMax;
  }

  get count(): number {
    return this.#waiters.size;
  }

  /** Whether another proposal may wait; check before proposing so a full table refuses early. */
  hasRoom(): boolean {
    return this.#waiters.size < this.#countMax;
  }

  wait(index: number, term: number): Promise<Result> {
    if (!this.hasRoom()) throw new ServiceError('UNAVAILABLE', `too many writes in flight (${this.#countMax})`);
    assert(!this.#waiters.has(index), `a proposal already waits at index ${index}`);
    return new Promise<Result>((resolve, reject) => {
      this.#waiters.set(index, { term, resolve, reject });
    });
  }

  /** An entry was applied: settle the waiter at its index, if any. */
  applied(index: number, term: number, result: Result): void {
    const waiter = this.#waiters.get(index);
    if (waiter === undefined) return;
    this.#waiters.delete(index);
    if (waiter.term === term) waiter.resolve(result);
    else waiter.reject(new ServiceError('UNAVAILABLE', `write at index ${index} was replaced by a later leader's entry`));
  }

  /** An apply failed for an environmental reason (the node halts): fail its waiter. */
  failed(index: number, error: Error): void {
    const waiter = this.#waiters.get(index);
    if (waiter === undefined) return;
    this.#waiters.delete(index);
    waiter.reject(error);
  }

  failAll(error: Error): void {
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const waiter of waiters) waiter.reject(error);
  }
}
