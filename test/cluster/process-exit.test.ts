/**
 * A hung test file fails with the tests it was running, and what it started is stopped
 * (test/cluster/process-exit.ts): past the bound scripts/run-tests.mjs gives it, and when
 * Node's runner ends it with SIGTERM.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { readFileSync } from 'node:fs';
import { waitFor } from './harness.js';

const hangingFile = fileURLToPath(new URL('./fixtures/hanging-file.ts', import.meta.url));

/** Running: not gone, and not a zombie (a killed orphan waits for its new parent, which need not reap it at once). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

async function assertStopped(pid: number): Promise<void> {
  await waitFor(`child ${pid} stopped`, () => (running(pid) ? undefined : true), 10_000);
}

/** Runs the hanging file under Node's test runner; returns its output and the PID of the child it started. */
function runHangingFile(runnerTimeoutMs: number, boundMs: number | undefined): { output: string; status: number | null; childPid: number } {
  const environment: Record<string, string | undefined> = {
    ...process.env,
    NODE_TEST_CONTEXT: undefined,
    QUORUMLITE_TEST_FILE_BOUND_MS: boundMs === undefined ? undefined : String(boundMs),
  };
  const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter', 'tap', `--test-timeout=${runnerTimeoutMs}`, hangingFile], {
    encoding: 'utf8',
    env: environment,
    timeout: 60_000,
  });
  const output = `${result.stdout}${result.stderr}`;
  const pid = /child-pid (\d+)/.exec(output)?.[1];
  assert.ok(pid !== undefined, `the file started its child:\n${output}`);
  return { output, status: result.status, childPid: Number(pid) };
}

test('past its bound, a file fails naming the test it was running, and its exit listeners stop what it started', async () => {
  const { output, status, childPid } = runHangingFile(60_000, 3_000);
  assert.notEqual(status, 0);
  assert.match(output, /past the file's bound of 3 s: ended while running "starts a child and waits forever"/);
  await assertStopped(childPid);
});

test("ended by the runner's SIGTERM, a file still runs its exit listeners", async () => {
  const { output, status, childPid } = runHangingFile(3_000, undefined);
  assert.notEqual(status, 0);
  assert.match(output, /test timed out after 3000ms/);
  await assertStopped(childPid);
});
