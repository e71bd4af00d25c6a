/**
 * Several databases, exactly once across crashes: a child applies entries spread over
 * three databases (creates, a drop and a re-create among them) and is SIGKILLed at random
 * moments; each restart replays from the default database's applied index. Every
 * database ends equal to a run never killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { temporaryDirectory } from './helpers.js';
import { runWithRandomKills } from './kill-runs.js';
import { multiDatabaseEntry, multiDatabaseEntryCount } from './fixtures/multi-database-workload.js';

const childScript = new URL('./fixtures/multi-database-child.ts', import.meta.url).pathname;
const killCountMax = 25;
const childRunCountMax = killCountMax + 5; // runWithRandomKills' bound on runs, named in the failure message
const killDelayMsMax = 120;
const childTimeoutMs = 120_000;

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

    const path = join(directory.path, 'crashing', 'db.sqlite');
    const { finished, kills, startIndexes } = await runWithRandomKills({
      childScript,
      path: path,
      seed: 20_261_205n,
      killCountMax,
      killDelayMsMax,
      childTimeoutMs,
    });
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
