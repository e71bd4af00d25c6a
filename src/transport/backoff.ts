/**
 * Reconnect delays: exponential in the number of consecutive failed attempts, capped
 * at `backoffMsMax`, with "equal jitter" (half fixed, half random) so that peers that
 * lost a node at the same moment do not redial it in lockstep. Pure: the random
 * source is passed in.
 */

interface BackoffLimits {
  readonly backoffBaseMs: number;
  readonly backoffMsMax: number;
}

/** The delay before attempt `failedAttemptCount + 1`; always within [base/2, max]. */
export function backoffDelayMs(failedAttemptCount: number, limits: BackoffLimits, random: () => number): number {
  if (!Number.isInteger(failedAttemptCount) || failedAttemptCount < 1) {
    throw new RangeError(`failedAttemptCount must be a positive integer, got ${failedAttemptCount}`);
  }
  if (!(limits.backoffBaseMs > 0) || !(limits.backoffMsMax >= limits.backoffBaseMs)) {
    throw new RangeError(`backoff limits need 0 < backoffBaseMs <= backoffMsMax, got ${JSON.stringify(limits)}`);
  }
  // 2^30 already exceeds any sane cap; the exponent bound keeps the arithmetic finite.
  const exponent = Math.min(failedAttemptCount - 1, 30);
  const ceilingMs = Math.min(limits.backoffMsMax, limits.backoffBaseMs * 2 ** exponent);
  const drawn = random();
  // Clamp a misbehaving source (NaN, out of range) rather than leave the delay unbounded.
  const fraction = drawn >= 0 ? Math.min(drawn, 1) : 0;
  return ceilingMs / 2 + (ceilingMs / 2) * fraction;
}
