/**
 * Saves to the durable log, in the order the Ready loop hands them out, without making the
 * loop wait: each save goes to the store at once (its group commit carries whatever is
 * queued behind the flush on the disk), and what must follow a save (reporting it to the
 * core, sending the acknowledgements it covers) runs on a chain, one save after another,
 * so every step after save k sees saves 1..k durable.
 *
 * A failed flush rejects the saves it carried and every one queued behind it (the store
 * forgets them all). Then a save is retried only in its turn on the chain, after every
 * earlier one is durable again, and later saves wait for their turn instead of going to
 * the store at once, until the chain is empty: nothing lands out of order.
 */
import { isEnvironmentalFailure, retryWhileHalted } from './halt.js';
import type { NodeStorage } from './ports.js';
import type { RuntimeState } from './runtime-state.js';

type SaveRequest = Parameters<NodeStorage['save']>[0];

export class LogSaves {
  readonly #state: RuntimeState;
  #tail: Promise<void> = Promise.resolve();
  #pendingCount = 0;
  #pendingBytes = 0;
  /** A save failed: later saves go to the store only in their turn on the chain. */
  #recovering = false;

  constructor(state: RuntimeState) {
    this.#state = state;
  }

  /** Saves queued or on the disk, and the bytes of their entries. */
  get pendingCount(): number {
    return this.#pendingCount;
  }

  get pendingBytes(): number {
    return this.#pendingBytes;
  }

  /**
   * Queues `request` (none: nothing to save, only `after` to order) and runs `after` once
   * it and every earlier save is durable. The promise rejects on a broken invariant (a
   * store refusal that is not environmental); later saves then never report.
   */
  enqueue(request: SaveRequest | undefined, bytes: number, after: () => Promise<void> | void): Promise<void> {
    const direct = request === undefined || this.#recovering ? undefined : this.#saveNow(request);
    this.#pendingCount += 1;
    this.#pendingBytes += bytes;
    const done = this.#tail.then(async () => {
      try {
        if (request !== undefined) await this.#complete(request, direct);
        await after();
      } finally {
        this.#pendingCount -= 1;
        this.#pendingBytes -= bytes;
        if (this.#pendingCount === 0) this.#recovering = false;
      }
    });
    this.#tail = done;
    return done;
  }

  /** Resolves once every save queued so far has completed (or the chain broke). */
  async settled(): Promise<void> {
    for (;;) {
      const tail = this.#tail;
      await tail.catch(() => undefined);
      if (tail === this.#tail) return;
    }
  }

  #saveNow(request: SaveRequest): Promise<void> {
    const saving = this.#timedSave(request);
    // Mark at once (a microtask), before the next turn can queue a save behind the failure.
    saving.catch(() => {
      this.#recovering = true;
    });
    return saving;
  }

  async #complete(request: SaveRequest, direct: Promise<void> | undefined): Promise<void> {
    if (direct !== undefined) {
      try {
        await direct;
        return;
      } catch (error) {
        if (!isEnvironmentalFailure(error)) throw error;
      }
    }
    // Every earlier save is durable now: the store plans this one against exactly them.
    await retryWhileHalted(this.#state, 'persist the log', () => this.#timedSave(request));
  }

  /**
   * A save, measured for /metrics (node-metrics.ts). The store's own promise is returned,
   * observed beside it: no extra turn before the chain sees the save end (the
   * simulator's schedules stay as they were).
   */
  #timedSave(request: SaveRequest): Promise<void> {
    const { scheduler, metrics } = this.#state;
    const startedMs = scheduler.monotonicMs();
    const saving = this.#state.storage.save(request);
    saving.then(
      () => {
        metrics.logSaveSeconds.observe((scheduler.monotonicMs() - startedMs) / 1000);
        for (const entry of request.entries ?? []) metrics.logSavedBytes += entry.data.byteLength;
      },
      () => {
        metrics.logSaveFailureCount++;
      },
    );
    return saving;
  }
}
