/**
 * Exactly-once apply across crashes: a child applies the workload and is SIGKILLed at
 * random moments (a bounded number of times); each restart replays from its applied
 * index. The final checksum equals a reference run that was never killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { temporaryDirectory } from './helpers.js';
import { runWithRandomKills } from './kill-runs.js';
import { workloadEntry, workloadEntryCount } from './fixtures/workload.js';

const childScript = new URL('./fixtures/crash-child.ts', import.meta.url).pathname;
const killCountMax = 30;
const childRunCountMax = killCountMax + 5; // runWithRandomKills' bound on runs, named in the failure message
const killDelayMsMax = 60;
const childTimeoutMs = 60_000;

test('SIGKILL at random points, then replay from the applied index, ends equal to a run never killed', async () => {
  const directory = temporaryDirectory('crash');
  try {
    const reference = new SqliteStateMachine({ path: join(directory.path, 'reference.sqlite') });
    for (let index = 1; index <= workloadEntryCount; index++) reference.apply(index, workloadEntry(index));
    const expected = reference.checksum();
    reference.close();
    assert.equal(expected.appliedIndex, workloadEntryCount);

    const databasePath = join(directory.path, 'crashing.sqlite');
    const { finished, kills, startIndexes } = await runWithRandomKills({
      childScript,
      path: databasePath,
      seed: 20_261_126n,
      killCountMax,
      killDelayMsMax,
      childTimeoutMs,
    });
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
