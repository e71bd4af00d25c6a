/**
 * A promise's value, or `timedOut` once `timeoutMs` has passed first. The timer is
 * cleared either way: a pending one (`Promise.race` with a sleep) keeps a process alive
 * that long after it is done (10 s after every etcd test file, and after each benchmark
 * that stopped its processes, while it was there).
 */

/** What `withinMs` answers when the time ran out first. */
export const timedOut: unique symbol = Symbol('timed out');

export async function withinMs<Value>(promise: Promise<Value>, timeoutMs: number): Promise<Value | typeof timedOut> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const expired = new Promise<typeof timedOut>((resolve) => {
    timer = setTimeout(() => resolve(timedOut), timeoutMs);
  });
  try {
    return await Promise.race([promise, expired]);
  } finally {
    clearTimeout(timer);
  }
}
