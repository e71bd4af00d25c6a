/**
 * Retrying an ORM transaction that lost an optimistic-concurrency race. A commit whose
 * reads or writes changed since its snapshot fails with QuorumliteError('TX_CONFLICT'),
 * and a transaction lost with its leader with 'TX_NOT_FOUND'; neither applied anything,
 * so running the whole transaction again (reads included) is safe. The ORMs own their
 * transaction callbacks, so the retry wraps the ORM call, as the client's
 * `interactive()` wraps a raw transaction (same codes, same backoff):
 * `retryOnConflict(() => db.transaction().execute(async (trx) => …))`.
 */

export interface ConflictRetryOptions {
  /** Runs of the work in all, the first included. */
  readonly attemptsMax?: number;
  /** The first backoff bound; each later one doubles, up to delayMsMax. Full jitter. */
  readonly initialDelayMs?: number;
  readonly delayMsMax?: number;
}

const defaultAttemptsMax = 10;
const defaultInitialDelayMs = 5;
const defaultDelayMsMax = 500;
/** The codes after which the transaction applied nothing and may run again. */
const rerunCodes: ReadonlySet<unknown> = new Set(['TX_CONFLICT', 'TX_NOT_FOUND']);
/** How deep the cause chain is searched (drizzle wraps a failing query in DrizzleQueryError). */
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

/** Runs `work` until it succeeds, fails with something other than a conflict, or has run attemptsMax times. */
export async function retryOnConflict<Result>(work: () => Promise<Result>, options: ConflictRetryOptions = {}): Promise<Result> {
  const attemptsMax = options.attemptsMax ?? defaultAttemptsMax;
  const initialDelayMs = options.initialDelayMs ?? defaultInitialDelayMs;
  const delayMsMax = options.delayMsMax ?? defaultDelayMsMax;
  if (!(Number.isInteger(attemptsMax) && attemptsMax >= 1)) throw new RangeError(`attemptsMax must be a positive integer; got ${attemptsMax}`);
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attemptsMax || !isConflict(error)) throw error;
      const boundMs = Math.min(delayMsMax, initialDelayMs * 2 ** (attempt - 1));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * boundMs));
    }
  }
}
