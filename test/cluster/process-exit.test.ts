/**
 * A hung test file fails with the tests it was running, and what it started is stopped
 * (test/cluster/process-exit.ts, which scripts/run-tests.mjs loads into every test file):
 * past the bound run-tests gives it, and when it gets SIGTERM (Node 20's runner sends it
 * to a file past --test-timeout; later runners only fail the test and wait for the file).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { timedOut, withinMs } from '../../src/common/within.js';
import { waitFor } from './harness.js';

const hangingFile = fileURLToPath(new URL('./fixtures/hanging.test.ts', import.meta.url));
const processExit = fileURLToPath(new URL('./process-exit-preload.mjs', import.meta.url));

/** Running: not gone, and not a zombie (a killed orphan waits for its new parent, which need not reap it at once). */
function running(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /s, '')[0] !== 'Z';
  } catch {
    return false;
  }
}

interface HangingRun {
  readonly output: string;
  readonly status: number | null;
  readonly filePid: number;
  readonly childPid: number;
}

/**
 * Runs the hanging file under Node's test runner as run-tests does (process-exit.ts
 * loaded, `boundMs` as its bound); `signal`, if given, goes to the file's process once it
 * is waiting. Returns when the runner has ended (killed after 60 s).
 */
async function runHangingFile(boundMs: number | undefined, signal?: NodeJS.Signals): Promise<HangingRun> {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-hanging-'));
  const pidsPath = join(directory, 'pids');
  const environment: Record<string, string | undefined> = {
    ...process.env,
    NODE_TEST_CONTEXT: undefined,
    HANGING_FILE_PIDS: pidsPath,
    QUORUMLITE_TEST_FILE_BOUND_MS: boundMs === undefined ? undefined : String(boundMs),
  };
  const runner = spawn(process.execPath, ['--import', 'tsx', '--import', processExit, '--test', '--test-reporter', 'tap', hangingFile], { env: environment });
  let output = '';
  runner.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  runner.stderr.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const ended = new Promise<number | null>((resolve) => runner.once('exit', (code) => resolve(code)));
  try {
    const [filePid, childPid] = await waitFor(
      'the file started its child',
      () => {
        try {
          return readFileSync(pidsPath, 'utf8').split(' ').map(Number);
        } catch {
          return undefined;
        }
      },
      30_000,
    );
    assert.ok(filePid !== undefined && childPid !== undefined);
    if (signal !== undefined) process.kill(filePid, signal);
    const status = await withinMs(ended, 60_000);
    if (status === timedOut) {
      runner.kill('SIGKILL');
      assert.fail(`the runner did not end:\n${output}`);
    }
    return { output, status, filePid, childPid };
  } finally {
    if (runner.exitCode === null && runner.signalCode === null) runner.kill('SIGKILL');
    rmSync(directory, { recursive: true, force: true });
  }
}

async function assertStopped(pid: number): Promise<void> {
  await waitFor(`process ${pid} stopped`, () => (running(pid) ? undefined : true), 10_000);
}

test('past its bound, a file fails naming the test it was running, and its exit listeners stop what it started', async () => {
  const { output, status, filePid, childPid } = await runHangingFile(3_000);
  assert.notEqual(status, 0);
  assert.match(output, /past the file's bound of 3 s: ended while running "starts a child and waits forever"/);
  await assertStopped(filePid);
  await assertStopped(childPid);
});

test('ended by SIGTERM, a file fails and its exit listeners stop what it started', async () => {
  const { status, filePid, childPid } = await runHangingFile(undefined, 'SIGTERM');
  assert.notEqual(status, 0);
  await assertStopped(filePid);
  await assertStopped(childPid);
});
