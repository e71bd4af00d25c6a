/**
 * Several databases, exactly once across crashes: a child applies entries spread over
 * three databases (creates, a drop and a re-create among them) and is SIGKILLed at random
 * moments; each restart replays from the default database's applied index. Every
 * database ends equal to a run never killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { SplitMix64 } from '../../src/state-machine/prng.js';
import { temporaryDirectory } from './helpers.js';
import { multiDatabaseEntry, multiDatabaseEntryCount } from './fixtures/multi-database-workload.js';

const childScript = new URL('./fixtures/multi-database-child.ts', import.meta.url).pathname;
const killCountMax = 25;
const childRunCountMax = killCountMax + 5;
const killDelayMsMax = 120;
const childTimeoutMs = 120_000;

/** Runs the child; kills it `killDelayMs` after it started applying (or lets it finish). */
function runChild(path: string, killDelayMs: number | undefined): Promise<{ readonly startIndex: number; readonly finished: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', childScript, path], { env: { ...process.env, TZ: 'UTC' }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    let errorOutput = '';
    let killTimer: NodeJS.Timeout | undefined;
    const watchdog = setTimeout(() => child.kill('SIGKILL'), childTimeoutMs);
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (killDelayMs !== undefined && killTimer === undefined && output.includes('start')) killTimer = setTimeout(() => child.kill('SIGKILL'), killDelayMs);
    });
    child.stderr.on('data', (chunk: Buffer) => (errorOutput += chunk.toString()));
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

function checksums(machine: MultiDatabaseMachine): Record<string, unknown> {
  return Object.fromEntries(machine.catalog.names().map((name) => [name, machine.database(name).checksum()]));
}

test('SIGKILL at random points over three databases, then replay, ends equal in every database to a run never killed', async () => {
  const directory = temporaryDirectory('multi-crash');
  try {
    mkdirSync(join(directory.path, 'reference'));
    mkdirSync(join(directory.path, 'crashing'));
    const reference = new MultiDatabaseMachine({ path: join(directory.path, 'reference', 'db.sqlite'), databaseCountMax: 8 });
    for (let index = 1; index <= multiDatabaseEntryCount; index++) reference.apply(index, multiDatabaseEntry(index));
    const expected = checksums(reference);
    reference.close();
    assert.deepEqual(Object.keys(expected), ['main', 'a', 'b']);

    const random = new SplitMix64(20_261_205n);
    const path = join(directory.path, 'crashing', 'db.sqlite');
    let kills = 0;
    let finished = false;
    const startIndexes: number[] = [];
    for (let run = 0; run < childRunCountMax && !finished; run++) {
      const killDelayMs = kills < killCountMax ? Number(random.next() % BigInt(killDelayMsMax)) : undefined;
      const outcome = await runChild(path, killDelayMs);
      startIndexes.push(outcome.startIndex);
      finished = outcome.finished;
      if (!finished) kills++;
    }
    assert.ok(finished, `the child finished within ${childRunCountMax} runs (start indexes ${startIndexes.join(',')})`);
    assert.ok(kills > 0, 'at least one kill landed');
    const survivor = new MultiDatabaseMachine({ path, databaseCountMax: 8 });
    try {
      assert.equal(survivor.appliedIndex, multiDatabaseEntryCount);
      assert.deepEqual(checksums(survivor), expected, `start indexes after kills: ${startIndexes.join(',')}`);
    } finally {
      survivor.close();
    }
    console.log(`multi-database crash test: ${kills} kills, restart indexes ${startIndexes.join(',')}`);
  } finally {
    directory.cleanup();
  }
});
