/**
 * Backoff after failures, for loops that run every `intervalMs`: the wait doubles with
 * each failure in a row (2, 4, 8… intervals) up to a cap (a minute, or the interval when
 * that is longer), so an unreachable or full target is retried, but not hammered.
 */
const backoffCapMs = 60_000;
/** Past this many doublings the wait is at its cap anyway. */
const doublingCountMax = 20;

export function retryDelayMs(intervalMs: number, failureCount: number): number {
  if (failureCount <= 0) return intervalMs;
  const capMs = Math.max(intervalMs, backoffCapMs);
  return Math.min(capMs, intervalMs * 2 ** Math.min(failureCount, doublingCountMax));
}
