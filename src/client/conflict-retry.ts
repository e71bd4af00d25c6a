/**
 * Running a transaction again after it lost an optimistic-concurrency race: a commit
 * whose reads or writes changed since they were seen fails with TX_CONFLICT, and a
 * transaction lost with its leader with TX_NOT_FOUND; neither applied anything, so the
 * whole transaction (its reads included) may run again. `Client.interactive()` reruns
 * its function so; an ORM owns its transaction callback, so its users wrap the ORM call
 * (`retryOnConflict(() => db.transaction().execute(…))`, src/drivers).
 */
import { QuorumliteError } from './errors.js';
import { timerSleep, type Sleep } from './retry-policy.js';

export interface ConflictRetryOptions {
  /** Runs of the work at most, the first included (default 10). */
  readonly attemptsMax?: number;
  /** Backoff before the second run (default 5 ms); doubles each run up to delayMsMax (default 500 ms), full jitter. */
  readonly initialDelayMs?: number;
  readonly delayMsMax?: number;
  /** Aborts a backoff wait. */
  readonly signal?: AbortSignal;
}

/** The clock and dice of the backoff (the client's own, so tests can drive them). */
export interface ConflictRetryTools {
  readonly sleep: Sleep;
  readonly random: () => number;
}

const conflictRetryDefaults = { attemptsMax: 10, initialDelayMs: 5, delayMsMax: 500 } as const;
/** The codes after which the transaction applied nothing and may run again. */
const rerunCodes: ReadonlySet<unknown> = new Set(['TX_CONFLICT', 'TX_NOT_FOUND']);
/** How deep the cause chain is searched (an ORM wraps a failing query in an error of its own). */
const causeDepthMax = 8;

/** True when the error, or one of its causes, says the transaction applied nothing and may run again. */
export function isConflict(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < causeDepthMax && typeof current === 'object' && current !== null; depth += 1) {
    if (rerunCodes.has((current as { code?: unknown }).code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Runs `work` until it succeeds, fails with something other than a conflict, or has run attemptsMax times (the last error is thrown). */
export async function retryOnConflict<Result>(
  work: () => Promise<Result>,
  options: ConflictRetryOptions = {},
  tools: ConflictRetryTools = { sleep: timerSleep, random: Math.random },
): Promise<Result> {
  const attemptsMax = options.attemptsMax ?? conflictRetryDefaults.attemptsMax;
  const initialDelayMs = options.initialDelayMs ?? conflictRetryDefaults.initialDelayMs;
  const delayMsMax = options.delayMsMax ?? conflictRetryDefaults.delayMsMax;
  if (!Number.isSafeInteger(attemptsMax) || attemptsMax < 1)
    throw new QuorumliteError('INVALID_ARGUMENT', `attemptsMax must be a positive integer, got ${attemptsMax}`);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attemptsMax || !isConflict(error)) throw error;
      const ceilingMs = Math.min(delayMsMax, initialDelayMs * 2 ** (attempt - 1));
      await tools.sleep(Math.floor(tools.random() * ceilingMs), options.signal);
    }
  }
}
