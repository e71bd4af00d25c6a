/**
 * When to try again and how long to wait first: exponential backoff with full jitter
 * (delay drawn uniformly from [0, min(delayMsMax, initialDelayMs · multiplier^n))),
 * bounded by an attempt count, a per-call deadline and an AbortSignal.
 *
 * Pure: the clock, the random source and the sleep are injected, so tests drive it
 * with a fake clock and never really wait. No Node-only API here.
 */
import { QuorumliteError } from './errors.js';

export interface RetryPolicyConfig {
  /** Ceiling of the first retry's delay. */
  readonly initialDelayMs: number;
  /** The delay ceiling never grows past this. */
  readonly delayMsMax: number;
  /** Growth of the ceiling per failed attempt. */
  readonly multiplier: number;
  /** Attempts per call, the first included. */
  readonly attemptsMax: number;
}

/**
 * delayMsMax 250: after a leader dies, the client finds the new one at most 250 ms after
 * its election (bench:client measured the client's part at p50 ~300-400 ms with a 1 s
 * cap, ~100 ms with 250 ms). attemptsMax 256: at the mean jitter (125 ms) that outlasts
 * the default 30 s deadline, so the deadline, not the count, ends a long outage.
 */
export const defaultRetryPolicyConfig: RetryPolicyConfig = {
  initialDelayMs: 25,
  delayMsMax: 250,
  multiplier: 2,
  attemptsMax: 256,
};

export interface Clock {
  /** Milliseconds, monotonic enough for deadlines. */
  now(): number;
}

/** Uniform in [0, 1), like Math.random. */
export type RandomSource = () => number;

/** Resolves after `delayMs`, or rejects early when `signal` aborts. */
export type Sleep = (delayMs: number, signal: AbortSignal | undefined) => Promise<void>;

export type RetryStopReason = 'not-retryable' | 'attempts' | 'deadline' | 'aborted';

export type RetryDecision = { readonly kind: 'retry'; readonly delayMs: number } | { readonly kind: 'stop'; readonly reason: RetryStopReason };

export interface RetryQuestion {
  /** Attempts made so far, all failed (≥ 1). */
  readonly failedAttemptCount: number;
  readonly errorRetryable: boolean;
  readonly nowMs: number;
  readonly deadlineAtMs: number;
  readonly aborted: boolean;
}

export class RetryPolicy {
  readonly config: RetryPolicyConfig;
  readonly #random: RandomSource;

  constructor(config: RetryPolicyConfig, random: RandomSource) {
    assertPositiveFinite(config.initialDelayMs, 'initialDelayMs');
    assertPositiveFinite(config.delayMsMax, 'delayMsMax');
    if (!(config.multiplier >= 1)) throw new RangeError('retry multiplier must be ≥ 1');
    if (!Number.isInteger(config.attemptsMax) || config.attemptsMax < 1) {
      throw new RangeError('retry attemptsMax must be an integer ≥ 1');
    }
    this.config = config;
    this.#random = random;
  }

  /** Upper bound of the delay after `failedAttemptCount` failures. */
  delayCeilingMs(failedAttemptCount: number): number {
    if (!(failedAttemptCount >= 1)) throw new RangeError('failedAttemptCount must be ≥ 1');
    const exponent = Math.min(failedAttemptCount - 1, 64);
    const grown = this.config.initialDelayMs * this.config.multiplier ** exponent;
    return Math.min(this.config.delayMsMax, grown);
  }

  /** Full jitter: uniform in [0, ceiling). */
  delayMs(failedAttemptCount: number): number {
    const draw = this.#random();
    if (!(draw >= 0 && draw < 1)) throw new RangeError(`random source returned ${draw}, outside [0, 1)`);
    return Math.floor(draw * this.delayCeilingMs(failedAttemptCount));
  }

  decide(question: RetryQuestion): RetryDecision {
    if (question.aborted) return { kind: 'stop', reason: 'aborted' };
    if (!question.errorRetryable) return { kind: 'stop', reason: 'not-retryable' };
    if (question.failedAttemptCount >= this.config.attemptsMax) return { kind: 'stop', reason: 'attempts' };
    const delayMs = this.delayMs(question.failedAttemptCount);
    // Waiting past the deadline would leave no time for the attempt itself.
    if (question.nowMs + delayMs >= question.deadlineAtMs) return { kind: 'stop', reason: 'deadline' };
    return { kind: 'retry', delayMs };
  }
}

function assertPositiveFinite(value: number, name: string): void {
  if (!(Number.isFinite(value) && value > 0)) throw new RangeError(`retry ${name} must be a positive number`);
}

export interface RetryRun {
  readonly policy: RetryPolicy;
  readonly clock: Clock;
  readonly sleep: Sleep;
  readonly deadlineAtMs: number;
  readonly signal?: AbortSignal | undefined;
  /**
   * An error after which the next attempt already knows where to go (the hung-leader check
   * named the new leader): retried at once, without the backoff delay. The policy still
   * decides whether to retry at all (attempts, deadline).
   */
  readonly retryAtOnce?: ((error: QuorumliteError) => boolean) | undefined;
  /** Called after each failed attempt that will be retried (for logs and tests). */
  readonly onRetry?: ((error: unknown, delayMs: number, failedAttemptCount: number) => void) | undefined;
}

/**
 * Runs `attempt` until it succeeds or the policy stops. `attemptIndex` starts at 0.
 * Errors other than QuorumliteError are programmer errors and are rethrown at once.
 */
export async function runWithRetries<T>(attempt: (attemptIndex: number) => Promise<T>, run: RetryRun): Promise<T> {
  for (let attemptIndex = 0; ; attemptIndex += 1) {
    throwIfAborted(run.signal);
    try {
      return await attempt(attemptIndex);
    } catch (error) {
      const backoffMs = nextDelayOrThrow(error, attemptIndex + 1, run);
      const delayMs = run.retryAtOnce?.(error as QuorumliteError) === true ? 0 : backoffMs;
      run.onRetry?.(error, delayMs, attemptIndex + 1);
      if (delayMs > 0) await run.sleep(delayMs, run.signal);
      // The sleep (or a stalled event loop) may have run past the deadline: no attempt then.
      if (run.clock.now() >= run.deadlineAtMs) throw deadlineError(error as QuorumliteError, attemptIndex + 1);
    }
  }
}

function deadlineError(lastError: QuorumliteError, failedAttemptCount: number): QuorumliteError {
  return new QuorumliteError('DEADLINE_EXCEEDED', `deadline exceeded after ${failedAttemptCount} attempt(s); last error: ${lastError.message}`, {
    cause: lastError,
    nodeUrl: lastError.nodeUrl,
  });
}

function nextDelayOrThrow(error: unknown, failedAttemptCount: number, run: RetryRun): number {
  if (!(error instanceof QuorumliteError)) throw error;
  const decision = run.policy.decide({
    failedAttemptCount,
    errorRetryable: error.retryable,
    nowMs: run.clock.now(),
    deadlineAtMs: run.deadlineAtMs,
    aborted: run.signal?.aborted ?? false,
  });
  if (decision.kind === 'retry') return decision.delayMs;
  switch (decision.reason) {
    case 'not-retryable':
    case 'attempts':
      throw error;
    case 'aborted':
      throw abortedError(error);
    case 'deadline':
      throw deadlineError(error, failedAttemptCount);
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortedError(signal.reason);
}

export function abortedError(cause: unknown): QuorumliteError {
  return new QuorumliteError('ABORTED', 'the operation was aborted', { cause });
}

/** A real sleep on the platform's timers; rejects with ABORTED when the signal fires. */
export const timerSleep: Sleep = (delayMs, signal) =>
  new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortedError(signal.reason));
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(abortedError(signal?.reason));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, delayMs);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

export const systemClock: Clock = { now: () => Date.now() };
