/**
 * A task run every `intervalMs` until stopped, one run at a time. A run that throws is
 * logged (`failureEvent`) and the next one waits longer (retry-delay.ts); the first
 * success returns to the plain interval. Stopping waits for the run in progress, within a
 * bound.
 */
import type { BackupClock, BackupLogger } from './ports.js';
import { retryDelayMs } from './retry-delay.js';

/** How long stop() waits for a run in progress; the run then finishes (or fails) on its own, unlogged. */
const stopWaitMs = 10_000;

export class PeriodicTask {
  readonly #intervalMs: number;
  readonly #run: () => Promise<void>;
  readonly #clock: BackupClock;
  readonly #onFailure: (error: unknown, failureCount: number, retryInMs: number) => void;
  readonly #stop = new AbortController();
  #loop: Promise<void> | undefined;
  #failureCount = 0;

  constructor(options: {
    readonly intervalMs: number;
    readonly run: () => Promise<void>;
    readonly clock: BackupClock;
    readonly logger: BackupLogger;
    readonly failureEvent: string;
    readonly failureMessage: string;
    readonly fields: Record<string, unknown>;
  }) {
    this.#intervalMs = options.intervalMs;
    this.#run = options.run;
    this.#clock = options.clock;
    this.#onFailure = (error, failures, retryInMs) =>
      options.logger.warn({ event: options.failureEvent, ...options.fields, error: String(error), failures, retryInMs }, options.failureMessage);
  }

  get stopped(): boolean {
    return this.#stop.signal.aborted;
  }

  /** Aborted by stop(): long operations pass it on. */
  get signal(): AbortSignal {
    return this.#stop.signal;
  }

  start(): void {
    this.#loop ??= this.#loopForever();
  }

  /** Stops the loop; waits for a run in progress at most `stopWaitMs` (an upload to a hung target must not hold a shutdown). */
  async stop(): Promise<void> {
    this.#stop.abort();
    let timer: NodeJS.Timeout | undefined;
    const waited = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, stopWaitMs);
    });
    await Promise.race([this.#loop, waited]).finally(() => clearTimeout(timer));
  }

  async #loopForever(): Promise<void> {
    while (!this.stopped) {
      await this.#clock.sleep(retryDelayMs(this.#intervalMs, this.#failureCount), this.#stop.signal);
      if (this.stopped) return;
      try {
        await this.#run();
        this.#failureCount = 0;
      } catch (error) {
        if (this.stopped) return;
        this.#failureCount += 1;
        this.#onFailure(error, this.#failureCount, retryDelayMs(this.#intervalMs, this.#failureCount));
      }
    }
  }
}
