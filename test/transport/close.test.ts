import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

const childPath = fileURLToPath(new URL('./fixtures/close-exit-child.ts', import.meta.url));

describe('close()', () => {
  it('leaves no handles: a process that used the TCP transport exits by itself', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', childPath], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    // The bound only stops a hung child (a leaked handle); it is not a speed check.
    const hangBoundMs = 60_000;
    const timer = setTimeout(() => child.kill('SIGKILL'), hangBoundMs);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.once('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    clearTimeout(timer);
    assert.equal(signal, null, `the child did not exit within ${hangBoundMs} ms: a handle is left open. stdout: ${stdout} stderr: ${stderr}`);
    assert.equal(code, 0, stderr);
    const report = JSON.parse(stdout.trim()) as { received: number; pendingOutcome: string; alive: string[] };
    assert.equal(report.received, 1);
    assert.match(report.pendingOutcome, /closed/);
    assert.deepStrictEqual(report.alive, []);
  });
});
