/**
 * A Scheduler whose time moves only when a test says so. Timers fire in due order at
 * their due time during `advance(ms)`; "immediates" (the Ready loop's turns) run during
 * `settle()`, which also lets real promise chains finish between them. Meant for tests
 * and for a deterministic simulator that drives the real runtime.
 */
import type { ScheduledTimer, Scheduler } from '../../src/node/scheduler.js';

interface ManualTimer {
  dueMs: number;
  sequence: number;
  readonly callback: () => void;
  readonly intervalMs: number | undefined;
  cancelled: boolean;
}

/** Rounds of immediates one settle() runs at most (a runaway loop fails the test instead of hanging it). */
export const settleRoundCountMax = 10_000;
/** Empty rounds in a row after which settle() calls the system idle. */
const idleRoundCount = 3;

function realMacrotask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export class ManualScheduler implements Scheduler {
  readonly #startMs: number;
  #nowMs: number;
  #sequence = 0;
  #timers: ManualTimer[] = [];
  #immediates: (() => void)[] = [];

  constructor(startMs = Date.UTC(2026, 0, 1)) {
    this.#startMs = startMs;
    this.#nowMs = startMs;
  }

  nowMs(): number {
    return this.#nowMs;
  }

  monotonicMs(): number {
    return this.#nowMs - this.#startMs;
  }

  setTimeout(callback: () => void, delayMs: number): ScheduledTimer {
    return this.#add(callback, Math.max(0, delayMs), undefined);
  }

  setInterval(callback: () => void, intervalMs: number): ScheduledTimer {
    if (!(intervalMs >= 1)) throw new RangeError(`intervalMs must be >= 1, got ${intervalMs}`);
    return this.#add(callback, intervalMs, intervalMs);
  }

  setImmediate(callback: () => void): void {
    this.#immediates.push(callback);
  }

  /** Timers not yet fired or cancelled. */
  get pendingTimerCount(): number {
    return this.#timers.filter((timer) => !timer.cancelled).length;
  }

  /** Runs queued immediates (and those they queue) and lets promise chains finish, until nothing is left to do. */
  async settle(): Promise<void> {
    let idle = 0;
    for (let round = 0; round < settleRoundCountMax; round += 1) {
      await realMacrotask();
      const batch = this.#immediates.splice(0);
      if (batch.length === 0) {
        idle += 1;
        if (idle >= idleRoundCount) return;
        continue;
      }
      idle = 0;
      for (const callback of batch) callback();
    }
    throw new Error(`not settled after ${settleRoundCountMax} rounds`);
  }

  /** Moves the clock forward by `ms`, firing each timer that falls due at its due time (settling after each). */
  async advance(ms: number): Promise<void> {
    const targetMs = this.#nowMs + ms;
    for (;;) {
      const next = this.#nextDue(targetMs);
      if (next === undefined) break;
      this.#nowMs = next.dueMs;
      if (next.intervalMs === undefined) {
        next.cancelled = true;
      } else {
        next.dueMs += next.intervalMs;
        next.sequence = ++this.#sequence;
      }
      next.callback();
      await this.settle();
    }
    this.#nowMs = targetMs;
    await this.settle();
  }

  #add(callback: () => void, delayMs: number, intervalMs: number | undefined): ScheduledTimer {
    const timer: ManualTimer = { dueMs: this.#nowMs + delayMs, sequence: ++this.#sequence, callback, intervalMs, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  #nextDue(targetMs: number): ManualTimer | undefined {
    this.#timers = this.#timers.filter((timer) => !timer.cancelled);
    let next: ManualTimer | undefined;
    for (const timer of this.#timers) {
      if (timer.dueMs > targetMs) continue;
      if (next === undefined || timer.dueMs < next.dueMs || (timer.dueMs === next.dueMs && timer.sequence < next.sequence)) next = timer;
    }
    return next;
  }
}
