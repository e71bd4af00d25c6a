/**
 * The SIGSTOP/SIGCONT helper the failover test uses: it really stops the process, always
 * continues it, and refuses a pause beyond its bound.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { after, describe, it } from 'node:test';
import { waitFor, type TestNode } from '../cluster/harness.js';
import { pauseFor, pauseMsMax } from './helpers/process-pause.js';

/** Linux process state letter from /proc: 'T' when stopped. */
function processState(pid: number): string {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
}

describe('pauseFor', { skip: existsSync('/proc/self/stat') ? false : 'needs /proc' }, () => {
  const child = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], { stdio: 'ignore' });
  const node = { process: child, running: true, spec: { index: 1 } } as unknown as TestNode;
  after(() => {
    child.kill('SIGKILL');
  });

  it('stops the process for the pause, then continues it', async () => {
    await once(child, 'spawn');
    const pid = child.pid as number;
    const paused = pauseFor(node, 2_000);
    try {
      // Signals arrive asynchronously: poll (bounded) until the kernel shows it stopped.
      await waitFor('the process to stop', () => (processState(pid) === 'T' ? true : undefined), 1_900);
    } finally {
      await paused;
    }
    assert.notEqual(processState(pid), 'T');
  });

  it(`refuses a pause beyond pauseMsMax (${pauseMsMax} ms) or below 0, leaving the process running`, async () => {
    await assert.rejects(pauseFor(node, pauseMsMax + 1), RangeError);
    await assert.rejects(pauseFor(node, -1), RangeError);
    assert.notEqual(processState(child.pid as number), 'T');
  });
});
