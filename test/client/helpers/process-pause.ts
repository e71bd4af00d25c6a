/**
 * SIGSTOP / SIGCONT of a harness node, which test/cluster/harness.ts does not offer:
 * a stopped leader keeps its sockets open but answers nothing, like a long GC pause or
 * a frozen VM. `pauseFor` always continues the process, even if the wait is cut short.
 */
import { timedOut, withinMs } from '../../../src/common/within.js';
import type { TestNode } from '../../cluster/harness.js';
import { sleep } from '../../cluster/harness.js';

/** Upper bound on one pause, so a test can never leave a node stopped for long. */
export const pauseMsMax = 30_000;

function pidOf(node: TestNode): number {
  const pid = node.process?.pid;
  if (pid === undefined || !node.running) throw new Error(`node ${node.spec.index} is not running`);
  return pid;
}

/** Stops the node's process for `pauseMs`, then continues it. */
export async function pauseFor(node: TestNode, pauseMs: number): Promise<void> {
  if (!Number.isFinite(pauseMs) || pauseMs < 0 || pauseMs > pauseMsMax) throw new RangeError(`pauseMs must be in [0, ${pauseMsMax}], got ${pauseMs}`);
  const pid = pidOf(node);
  process.kill(pid, 'SIGSTOP');
  try {
    await sleep(pauseMs);
  } finally {
    if (node.running) process.kill(pid, 'SIGCONT');
  }
}

/** Stops the node's process while `work` runs (at most pauseMsMax: `work` is abandoned then), then continues it, also when `work` fails. */
export async function whilePaused<T>(node: TestNode, work: () => Promise<T>): Promise<T> {
  const pid = pidOf(node);
  process.kill(pid, 'SIGSTOP');
  try {
    const outcome = await withinMs(work(), pauseMsMax);
    if (outcome === timedOut) throw new Error(`node ${node.spec.index} stayed paused past ${pauseMsMax} ms`);
    return outcome;
  } finally {
    if (node.running) process.kill(pid, 'SIGCONT');
  }
}
