/**
 * Linearizable reads waiting for the core's ReadIndex answer. Each read gets a unique
 * context (16 bytes: when this table was made, and a counter); the core answers with a
 * read state carrying the commit index to wait for, or reports the read failed
 * (leadership lost). Bounded in count.
 *
 * The contexts must not repeat across restarts: a follower's read is answered by the
 * leader by context, and the leader may still hold a read the node asked for before it
 * restarted; with a bare counter the restarted node would take that older (lower) read
 * index for its new read and read stale data (the simulator found it, seed 5408).
 */
import { assert } from '../common/assert.js';
import { ServiceError } from '../service/service.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

interface Waiter {
  readonly resolve: (index: number) => void;
  readonly reject: (error: Error) => void;
  readonly timer: ScheduledTimer;
}

function encodeReadContext(originMs: number, sequence: number): Uint8Array {
  const bytes = new Uint8Array(16);
  const view = new DataView(bytes.buffer);
  view.setFloat64(0, originMs);
  view.setFloat64(8, sequence);
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
  /** The wall clock when this node's process made the table: a restarted node's contexts differ from its earlier ones. */
  readonly #originMs: number;

  constructor(countMax: number, scheduler: Scheduler) {
    assert(Number.isInteger(countMax) && countMax >= 1, `countMax must be >= 1, got ${countMax}`);
    this.#countMax = countMax;
    this.#scheduler = scheduler;
    this.#originMs = scheduler.nowMs();
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
    const context = encodeReadContext(this.#originMs, this.#sequence);
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
