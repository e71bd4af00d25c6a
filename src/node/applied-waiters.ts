/**
 * Callers waiting until this node has applied a given index (min_index reads, reads after
 * ReadIndex, joins waiting for their conf change). Bounded in count; each wait has a
 * timeout. Waiters are kept sorted by index, so notifying costs only the ones released.
 */
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

interface Waiter {
  readonly index: number;
  readonly resolve: () => void;
  readonly reject: (error: Error) => void;
  readonly timer: ScheduledTimer;
}

export class AppliedWaiters {
  #waiters: Waiter[] = [];
  #appliedIndex: number;
  readonly #countMax: number;
  readonly #scheduler: Scheduler;

  constructor(appliedIndex: number, countMax: number, scheduler: Scheduler) {
    assert(Number.isInteger(countMax) && countMax >= 1, `countMax must be >= 1, got ${countMax}`);
    this.#appliedIndex = appliedIndex;
    this.#countMax = countMax;
    this.#scheduler = scheduler;
  }

  get count(): number {
    return this.#waiters.length;
  }

  get appliedIndex(): number {
    return this.#appliedIndex;
  }

  /** Resolves once appliedIndex >= index; rejects with TIMEOUT after timeoutMs. */
  wait(index: number, timeoutMs: number): Promise<void> {
    if (index <= this.#appliedIndex) return Promise.resolve();
    if (this.#waiters.length >= this.#countMax) {
      return Promise.reject(new ServiceError('UNAVAILABLE', `too many reads waiting for apply (${this.#countMax})`));
    }
    return new Promise<void>((resolve, reject) => {
      const timer = this.#scheduler.setTimeout(() => {
        this.#waiters = this.#waiters.filter((waiter) => waiter.timer !== timer);
        reject(new ServiceError('TIMEOUT', `timed out after ${timeoutMs}ms waiting for index ${index} to be applied (applied: ${this.#appliedIndex})`));
      }, timeoutMs);
      const waiter: Waiter = { index, resolve, reject, timer };
      const position = this.#waiters.findIndex((other) => other.index > index);
      if (position === -1) this.#waiters.push(waiter);
      else this.#waiters.splice(position, 0, waiter);
    });
  }

  advance(appliedIndex: number): void {
    assert(appliedIndex >= this.#appliedIndex, `applied index went back ${this.#appliedIndex} -> ${appliedIndex}`);
    this.#appliedIndex = appliedIndex;
    let released = 0;
    while (released < this.#waiters.length && (this.#waiters[released]?.index ?? Infinity) <= appliedIndex) released += 1;
    if (released === 0) return;
    const ready = this.#waiters.slice(0, released);
    this.#waiters = this.#waiters.slice(released);
    for (const waiter of ready) {
      waiter.timer.cancel();
      waiter.resolve();
    }
  }

  /** The node stops: every waiter fails with the given error. */
  failAll(error: Error): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const waiter of waiters) {
      waiter.timer.cancel();
      waiter.reject(error);
    }
  }
}
