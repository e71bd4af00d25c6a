/**
 * Exactly-once apply across crashes: a child applies the workload and is SIGKILLed at
 * random moments (a bounded number of times); each restart replays from its applied
 * index. The final checksum equals a reference run that was never killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { SplitMix64 } from '../../src/state-machine/prng.js';
import { temporaryDirectory } from './helpers.js';
import { workloadEntry, workloadEntryCount } from './fixtures/workload.js';

const childScript = new URL('./fixtures/crash-child.ts', import.meta.url).pathname;
const killCountMax = 30;
const childRunCountMax = killCountMax + 5;
const killDelayMsMax = 60;
const childTimeoutMs = 60_000;

interface ChildRun {
  readonly startIndex: number;
  readonly finished: boolean;
}

/** Runs the child; kills it `killDelayMs` after it started applying (or lets it finish). */
function runChild(databasePath: string, killDelayMs: number | undefined): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', childScript, databasePath], {
      env: { ...process.env, TZ: 'UTC' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    let errorOutput = '';
    let killTimer: NodeJS.Timeout | undefined;
    const watchdog = setTimeout(() => child.kill('SIGKILL'), childTimeoutMs);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (killDelayMs !== undefined && killTimer === undefined && output.includes('start')) {
        killTimer = setTimeout(() => child.kill('SIGKILL'), killDelayMs);
      }
    });
    child.stderr?.on('data', (chunk: Buffer) => (errorOutput += chunk.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      clearTimeout(watchdog);
      if (killTimer !== undefined) clearTimeout(killTimer);
      const startMatch = /start (\d+)/.exec(output);
      if (startMatch === null || (code !== 0 && signal !== 'SIGKILL')) {
        reject(new Error(`child failed (code ${code}, signal ${signal}): ${errorOutput}`));
        return;
      }
      resolve({ startIndex: Number(startMatch[1]), finished: output.includes('done') });
    });
  });
}

test('SIGKILL at random points, then replay from the applied index, ends equal to a run never killed', async () => {
  const directory = temporaryDirectory('crash');
  try {
    const reference = new SqliteStateMachine({ path: join(directory.path, 'reference.sqlite') });
    for (let index = 1; index <= workloadEntryCount; index++) reference.apply(index, workloadEntry(index));
    const expected = reference.checksum();
    reference.close();
    assert.equal(expected.appliedIndex, workloadEntryCount);

    const random = new SplitMix64(20_261_126n);
    const databasePath = join(directory.path, 'crashing.sqlite');
    let kills = 0;
    let finished = false;
    const startIndexes: number[] = [];
    for (let run = 0; run < childRunCountMax && !finished; run++) {
      const killDelayMs = kills < killCountMax ? Number(random.next() % BigInt(killDelayMsMax)) : undefined;
      const outcome = await runChild(databasePath, killDelayMs);
      startIndexes.push(outcome.startIndex);
      finished = outcome.finished;
      if (!finished) kills++;
    }
    assert.ok(finished, `the child finished within ${childRunCountMax} runs (start indexes ${startIndexes.join(',')})`);
    assert.ok(kills > 0, 'at least one kill landed');
    const survivor = new SqliteStateMachine({ path: databasePath });
    try {
      const actual = survivor.checksum();
      assert.equal(actual.appliedIndex, workloadEntryCount);
      assert.equal(actual.checksum, expected.checksum, `start indexes after kills: ${startIndexes.join(',')}`);
    } finally {
      survivor.close();
    }
    console.log(`crash test: ${kills} kills, restart indexes ${startIndexes.join(',')}`);
  } finally {
    directory.cleanup();
  }
});
