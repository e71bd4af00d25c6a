import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { it } from 'node:test';
import { createClient } from '../../src/client/index.js';
import { startFakeNode } from './helpers/fake-node.js';
import { startMiniRqlite } from './helpers/mini-rqlite.js';

/** Only a guard against a hung child, not a speed requirement. */
const childExitWaitMs = 60_000;

it('close() releases keep-alive connections on the server side', async () => {
  const mini = await startMiniRqlite();
  try {
    const client = createClient({ nodes: [mini.url], discoverNodes: false });
    await Promise.all([client.query('SELECT 1'), client.query('SELECT 2'), client.query('SELECT 3')]);
    assert.ok(mini.node.openConnectionCount() >= 1, 'keep-alive connections stay open while the client lives');
    await client.close();
    // Bounded poll: the server notices the closed sockets within a few event-loop turns.
    for (let turn = 0; turn < 500 && mini.node.openConnectionCount() > 0; turn += 1) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.equal(mini.node.openConnectionCount(), 0);
  } finally {
    await mini.close();
  }
});

it('a process exits by itself after close(), even with a call in flight', async () => {
  const mini = await startMiniRqlite();
  const silent = await startFakeNode(() => undefined);
  const probe = fileURLToPath(new URL('./helpers/exit-probe.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', probe, mini.url, silent.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const guard = setTimeout(() => child.kill('SIGKILL'), childExitWaitMs);
  try {
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
      child.on('exit', (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
    );
    assert.equal(signal, null, 'the child had to be killed: something kept it alive after close()');
    assert.equal(code, 0);
    assert.equal(output.trim(), 'CLIENT_CLOSED');
  } finally {
    clearTimeout(guard);
    child.kill('SIGKILL');
    await silent.close();
    await mini.close();
  }
});
