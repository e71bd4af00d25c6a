/**
 * Time for the node. Every timer and every clock reading in src/node goes through one
 * `Scheduler`, passed in the runtime's dependencies (and from there to membership, the
 * cluster service and the waiting tables). The real one wraps Node's timers and clocks;
 * a test or a deterministic simulator passes its own and so decides when ticks,
 * timeouts, retries and Ready turns happen: the runtime has no other source of time.
 */

/** A pending timer; `cancel()` is idempotent and safe after the timer fired. */
export interface ScheduledTimer {
  cancel(): void;
}

export interface Scheduler {
  /** Wall-clock milliseconds since the Unix epoch: command timestamps, deadlines, ages. */
  nowMs(): number;
  /** Milliseconds from an arbitrary origin that never goes back: measuring durations. */
  monotonicMs(): number;
  /** Calls `callback` once, `delayMs` from now. */
  setTimeout(callback: () => void, delayMs: number): ScheduledTimer;
  /** Calls `callback` every `intervalMs` until cancelled. */
  setInterval(callback: () => void, intervalMs: number): ScheduledTimer;
  /** Calls `callback` on a later turn of the event loop, after the I/O callbacks already due (Node's setImmediate). */
  setImmediate(callback: () => void): void;
}

/** The real scheduler: Node's timers, `Date.now()` and `performance.now()`. */
export const systemScheduler: Scheduler = {
  nowMs: () => Date.now(),
  monotonicMs: () => performance.now(),
  setTimeout(callback, delayMs) {
    const handle = setTimeout(callback, delayMs);
    return { cancel: () => clearTimeout(handle) };
  },
  setInterval(callback, intervalMs) {
    const handle = setInterval(callback, intervalMs);
    return { cancel: () => clearInterval(handle) };
  },
  setImmediate(callback) {
    setImmediate(callback);
  },
};

/** Resolves `delayMs` from now on `scheduler`'s clock. */
export function sleep(scheduler: Scheduler, delayMs: number): Promise<void> {
  return new Promise((resolve) => {
    scheduler.setTimeout(resolve, delayMs);
  });
}

/** Resolves on a later turn of `scheduler`'s event loop (lets I/O already started make progress first). */
export function nextTurn(scheduler: Scheduler): Promise<void> {
  return new Promise((resolve) => {
    scheduler.setImmediate(resolve);
  });
}
