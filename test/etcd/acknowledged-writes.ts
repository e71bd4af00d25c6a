/**
 * A background writer for liveness tests: one row every 100 ms through the nodes in turn,
 * recording when each acknowledged write was answered, and the longest stretch without one.
 */
import { http, sleep, type TestCluster, type TestNode } from '../cluster/harness.js';

const writeTimeoutMs = 2_000;

/**
 * Writes one row into `fruit(name)` every 100 ms through the nodes in turn until stopped;
 * returns when (performance.now()) each acknowledged write was answered.
 */
export function writeInBackground(cluster: TestCluster, label: string): { stop: () => Promise<number[]> } {
  const acknowledgedAtMs: number[] = [];
  let stopped = false;
  const done = (async () => {
    for (let value = 0; !stopped; value += 1) {
      const node = cluster.nodes[value % cluster.nodes.length] as TestNode;
      try {
        const answer = await http(`${node.url}/db/execute?timeout=${writeTimeoutMs}ms`, {
          json: [['INSERT INTO fruit(name) VALUES (?)', `${label} ${value}`]],
          signal: AbortSignal.timeout(writeTimeoutMs + 1_000),
        });
        if (answer.status === 200 && !answer.text.includes('"error"')) acknowledgedAtMs.push(performance.now());
      } catch {
        // A timeout: unknown outcome, not acknowledged.
      }
      await sleep(100);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      return acknowledgedAtMs;
    },
  };
}

/** The longest stretch, in ms, within [fromMs, toMs] with no acknowledged write. */
export function longestGapMs(acknowledgedAtMs: readonly number[], fromMs: number, toMs: number): number {
  const times = [fromMs, ...acknowledgedAtMs.filter((time) => time > fromMs && time < toMs), toMs];
  let longest = 0;
  for (let index = 1; index < times.length; index += 1) longest = Math.max(longest, (times[index] as number) - (times[index - 1] as number));
  return longest;
}
