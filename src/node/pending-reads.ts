/**
 * Linearizable reads waiting for the core's ReadIndex answer. Each read gets a unique
 * context (8 bytes, a counter); the core answers with a read state carrying the commit
 * index to wait for, or reports the read failed (leadership lost). Bounded in count.
 */
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

interface Waiter {
  readonly resolve: (index: number) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ScheduledTimer;
}

function encodeReadContext(sequence: number): Uint8Array {
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setFloat64(0, sequence);
  return bytes;
}

function contextKey(context: Uint8Array): string {
  return Buffer.from(context.buffer, context.byteOffset, context.byteLength).toString('hex');
}

export class PendingReads {
  readonly #waiters = new Map<string, Waiter>();
  readonly #countMax: number;
  readonly #scheduler: Scheduler;
  #sequence = 0;

  constructor(countMax: number, scheduler: Scheduler) {
    assert(Number.isInteger(countMax) && countMax >= 1, `countMax must be >= 1, got ${countMax}`);
    this.#countMax = countMax;
    this.#scheduler = scheduler;
  }

  get count(): number {
    return this.#waiters.size;
  }

  /**
   * Registers a read and returns its context (to hand to the core's readIndex) and a
   * promise of the index to wait for. Throws OVERLOADED at the bound.
   */
  start(timeoutMs: number): { context: Uint8Array; index: Promise<number> } {
    if (this.#waiters.size >= this.#countMax) {
      throw new ServiceError('UNAVAILABLE', `too many linearizable reads in flight (${this.#countMax})`);
    }
    this.#sequence += 1;
    const context = encodeReadContext(this.#sequence);
    const key = contextKey(context);
    const index = new Promise<number>((resolve, reject) => {
      const timer = this.#scheduler.setTimeout(() => {
        this.#waiters.delete(key);
        reject(new ServiceError('TIMEOUT', `linearizable read not confirmed within ${timeoutMs}ms`));
      }, timeoutMs);
      this.#waiters.set(key, { resolve, reject, timer });
    });
    return { context, index };
  }

  /** The core confirmed leadership for this context at `index`. Unknown contexts are ignored (timed out). */
  confirmed(context: Uint8Array, index: number): void {
    this.#take(context)?.resolve(index);
  }

  failed(context: Uint8Array, error: Error): void {
    this.#take(context)?.reject(error);
  }

  #take(context: Uint8Array): Waiter | undefined {
    const key = contextKey(context);
    const waiter = this.#waiters.get(key);
    if (waiter === undefined) return undefined;
    this.#waiters.delete(key);
    waiter.timer.cancel();
    return waiter;
  }

  /** Removes a read whose readIndex call threw, so it does not occupy a slot. */
  cancel(context: Uint8Array, error: Error): void {
    this.failed(context, error);
  }

  failAll(error: Error): void {
    const waiters = [...this.#waiters.values()];
    this.#waiters.clear();
    for (const waiter of waiters) {
      waiter.timer.cancel();
      waiter.reject(error);
    }
  }
}
