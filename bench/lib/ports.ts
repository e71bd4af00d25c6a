/**
 * Loopback ports for the processes the benchmarks and the real-process tests start.
 * They come from below Linux's ephemeral range (32768+), so a port found free is not
 * taken by some outgoing connection before its process binds it.
 */
import { createServer } from 'node:net';

export const portLow = 20_000;
export const portHigh = 32_000;
const portAttemptCountMax = 50;

function canBind(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen(port, host, () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : undefined));
    });
  });
}

/**
 * The ports this process has handed out, never handed out again: two calls with nothing
 * bound in between could pick the same port, 1 in 12,000 a pair, and CI asks for
 * thousands. A node given the same HTTP and Raft port refused to start (`--http-addr and
 * --raft-addr must differ`, the etcd-secured suite's setup in CI), an in-process node
 * failed to listen (EADDRINUSE, the status-auth suite's setup), and an etcd member's
 * client and peer ports could meet the same way.
 */
const handedOut = new Set<number>();

/** A port on `host` that was free just now and that this process has not handed out before. */
export async function freePort(host: string): Promise<number> {
  for (let attempt = 0; attempt < portAttemptCountMax; attempt += 1) {
    const candidate = portLow + Math.floor(Math.random() * (portHigh - portLow));
    if (handedOut.has(candidate)) continue;
    const port = await canBind(host, candidate);
    if (port !== undefined) return handOut(port);
  }
  const fallback = await canBind(host, 0);
  if (fallback === undefined || handedOut.has(fallback)) throw new Error(`no free port on ${host}`);
  return handOut(fallback);
}

function handOut(port: number): number {
  handedOut.add(port);
  return port;
}
