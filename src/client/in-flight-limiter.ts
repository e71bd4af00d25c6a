/**
 * At most `inFlightCountMax` calls run at once; up to `queuedCountMax` more wait in FIFO order;
 * beyond that a call fails at once with QUEUE_FULL instead of piling up memory.
 */
import { QuorumliteError } from './errors.js';
import { abortedError } from './retry-policy.js';

interface Waiter {
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

export class InFlightLimiter {
  #running = 0;
  readonly #waiters: Waiter[] = [];

  constructor(
    readonly inFlightCountMax: number,
    readonly queuedCountMax: number,
  ) {
    if (!(Number.isInteger(inFlightCountMax) && inFlightCountMax >= 1)) throw new RangeError('inFlightCountMax must be an integer ≥ 1');
    if (!(Number.isInteger(queuedCountMax) && queuedCountMax >= 0)) throw new RangeError('queuedCountMax must be an integer ≥ 0');
  }

  acquire(signal: AbortSignal | undefined): Promise<void> {
    if (signal?.aborted) return Promise.reject(abortedError(signal.reason));
    if (this.#running < this.inFlightCountMax) {
      this.#running += 1;
      return Promise.resolve();
    }
    if (this.#waiters.length >= this.queuedCountMax) {
      return Promise.reject(
        new QuorumliteError(
          'QUEUE_FULL',
          `${this.#running} calls in flight (inFlightCountMax) and ${this.#waiters.length} queued (queuedCountMax); try again later`,
        ),
      );
    }
    return this.#enqueue(signal);
  }

  #enqueue(signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        const index = this.#waiters.indexOf(waiter);
        if (index >= 0) this.#waiters.splice(index, 1);
        reject(abortedError(signal?.reason));
      };
      const waiter: Waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        reject: (error) => {
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiters.push(waiter);
    });
  }

  release(): void {
    if (this.#running <= 0) throw new Error('InFlightLimiter.release without acquire');
    const next = this.#waiters.shift();
    // The slot passes straight to the next waiter: running stays the same.
    if (next !== undefined) next.resolve();
    else this.#running -= 1;
  }

  rejectAll(error: unknown): void {
    const waiters = this.#waiters.splice(0, this.#waiters.length);
    for (const waiter of waiters) waiter.reject(error);
  }
}
