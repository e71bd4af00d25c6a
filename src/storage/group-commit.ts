/**
 * Group commit: save() checks and encodes its request at once, queues it here, and a
 * single flush loop hands everything queued (up to saveBytesMax) to one write and one
 * sync. Saves that arrive while a flush is on the disk go together in the next one.
 * The queue holds at most pendingBytesMax bytes; a failed flush rejects the saves it
 * carried and every save queued behind them with the same error.
 */
import { StorageError, storageErrorFromSystem } from './errors.js';
import { assert } from '../common/assert.js';
import type { Operation } from './save-plan.js';

/** drain() waits for the queue to empty; it gives up after this many rounds of new saves. */
const drainRoundsMax = 1000;

interface PendingSave {
  readonly operations: readonly Operation[];
  readonly bytes: number;
  readonly resolve: () => void;
  readonly reject: (error: StorageError) => void;
}

interface GroupCommitOptions {
  readonly pendingBytesMax: number;
  /** The most bytes one flush carries (a single save larger than this still goes alone). */
  readonly saveBytesMax: number;
  /** Where saves go, for the error message of a failed flush. */
  readonly logDirectory: string;
  /** Writes and syncs one flush's operations. */
  write(operations: readonly Operation[]): Promise<void>;
  /** A flush succeeded. */
  onFlushed(): void;
  /** A flush failed; called before the queued saves are rejected. */
  onFlushFailed(failure: StorageError): void;
}

export class GroupCommitQueue {
  readonly #options: GroupCommitOptions;
  readonly #queue: PendingSave[] = [];
  #queuedBytesNow = 0;
  #flushing = false;
  #flushScheduled = false;
  #idleWaiters: (() => void)[] = [];
  #flushesCompleted = 0;
  #savesCompleted = 0;

  constructor(options: GroupCommitOptions) {
    this.#options = options;
  }

  /** Flushes (one write + one sync each) completed. */
  get flushCount(): number {
    return this.#flushesCompleted;
  }

  /** Saves the completed flushes carried. */
  get savedCount(): number {
    return this.#savesCompleted;
  }

  /** Bytes of saves waiting for the disk. */
  get queuedBytes(): number {
    return this.#queuedBytesNow;
  }

  /** No save is queued, scheduled or on the disk: the durable state is all there is. */
  get idle(): boolean {
    return !this.#flushing && !this.#flushScheduled && this.#queue.length === 0;
  }

  /** Throws OVERLOADED if `bytes` more would exceed pendingBytesMax; called before the projection changes. */
  checkRoom(bytes: number): void {
    if (this.#queuedBytesNow + bytes > this.#options.pendingBytesMax) {
      throw new StorageError(
        'OVERLOADED',
        `saves waiting for the disk (${this.#queuedBytesNow} bytes) plus ${bytes} would exceed pendingBytesMax ${this.#options.pendingBytesMax}`,
      );
    }
  }

  /** Queues a save whose room was checked; resolves once it is durable. */
  enqueue(operations: readonly Operation[], bytes: number): Promise<void> {
    assert(this.#queuedBytesNow + bytes <= this.#options.pendingBytesMax, 'queue room was checked');
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ operations, bytes, resolve, reject });
      this.#queuedBytesNow += bytes;
      this.#scheduleFlush();
    });
  }

  /** Resolves when every save queued so far has been flushed (or failed). */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /** Waits until the queue is idle, even if saves keep arriving, up to drainRoundsMax rounds (compact needs it). */
  async drain(): Promise<void> {
    for (let round = 0; round < drainRoundsMax; round++) {
      if (this.idle) return;
      await this.whenIdle();
    }
    throw new StorageError('OVERLOADED', `compact could not wait for the save queue to drain after ${drainRoundsMax} rounds`);
  }

  #scheduleFlush(): void {
    if (this.#flushing || this.#flushScheduled) return;
    this.#flushScheduled = true;
    queueMicrotask(() => {
      this.#flushScheduled = false;
      void this.#flushLoop();
    });
  }

  #takeBatch(): PendingSave[] {
    const limit = this.#options.saveBytesMax;
    const batch: PendingSave[] = [];
    let bytes = 0;
    while (this.#queue.length > 0) {
      const next = this.#queue[0]!;
      if (batch.length > 0 && bytes + next.bytes > limit) break;
      batch.push(this.#queue.shift()!);
      bytes += next.bytes;
      this.#queuedBytesNow -= next.bytes;
    }
    return batch;
  }

  async #flushLoop(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#takeBatch();
        try {
          await this.#options.write(batch.flatMap((save) => save.operations));
        } catch (error) {
          this.#failQueued(batch, storageErrorFromSystem(error, `saving to ${this.#options.logDirectory}`));
          continue;
        }
        this.#options.onFlushed();
        this.#flushesCompleted++;
        this.#savesCompleted += batch.length;
        for (const save of batch) save.resolve();
      }
    } finally {
      this.#flushing = false;
      const waiters = this.#idleWaiters;
      this.#idleWaiters = [];
      for (const resolve of waiters) resolve();
    }
  }

  #failQueued(batch: readonly PendingSave[], failure: StorageError): void {
    this.#options.onFlushFailed(failure);
    const rejected = [...batch, ...this.#queue.splice(0)];
    this.#queuedBytesNow = 0;
    for (const save of rejected) save.reject(failure);
  }
}
