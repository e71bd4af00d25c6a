/**
 * Bounded polling, shared by the benchmarks and the real-process tests: every wait names
 * what it waits for and gives up after its bound with the last error the probe threw.
 */

export const pollIntervalMs = 100;

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `probe` until it returns a value other than undefined; throws after timeoutMs naming `what`. */
export async function waitFor<Value>(what: string, probe: () => Promise<Value | undefined> | Value | undefined, timeoutMs: number): Promise<Value> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await sleep(pollIntervalMs);
  }
  throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}${lastError === undefined ? '' : `: ${String(lastError)}`}`);
}
