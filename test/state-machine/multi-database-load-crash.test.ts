/**
 * A load of another database, across crashes: a child applies a history that loads
 * database `a` in chunks (with writes to `main` and `b` between them) and is SIGKILLed at
 * random moments; after every kill `a` is either wholly its old self (before the load's
 * commit) or wholly the loaded file, never half; each restart replays from the default
 * database's applied index, and every database ends equal to a run never killed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isLoadEntry } from '../../src/state-machine/load-entries.js';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { loadChunkBytes, loadHistory, loadSource } from './fixtures/database-load-workload.js';
import { statement, temporaryDirectory } from './helpers.js';
import { runWithRandomKills } from './kill-runs.js';

const childScript = new URL('./fixtures/database-load-child.ts', import.meta.url).pathname;
const killCountMax = 20;
const killDelayMsMax = 250;
const childTimeoutMs = 120_000;
const rowCount = 3_000;

function checksums(machine: MultiDatabaseMachine): Record<string, unknown> {
  return Object.fromEntries(machine.catalog.names().map((name) => [name, machine.database(name).checksum()]));
}

/** What database `a` holds: its tables and the loaded rows, to tell old from new. */
function stateOfA(machine: MultiDatabaseMachine): string {
  if (!machine.catalog.names().includes('a')) return 'absent';
  const [tables] = machine.query([statement("SELECT group_concat(name) FROM sqlite_master WHERE type = 'table'")], { database: 'a' });
  const names = tables?.kind === 'rows' ? String(tables.rows[0]?.[0]) : 'unreadable';
  if (names !== 'loaded') return names;
  const [count] = machine.query([statement('SELECT count(*) FROM loaded')], { database: 'a' });
  return `loaded:${count?.kind === 'rows' ? String(count.rows[0]?.[0]) : 'unreadable'}`;
}

test('SIGKILL at random points during a load of database a: a is old or new after every kill, and all ends equal to a run never killed', async () => {
  const directory = temporaryDirectory('multi-load-crash');
  try {
    const bytes = loadSource(join(directory.path, 'source.db'), rowCount);
    writeFileSync(join(directory.path, 'load-source.bin'), bytes);
    const { entries, commitIndex } = loadHistory(bytes, loadChunkBytes);
    mkdirSync(join(directory.path, 'reference'));
    mkdirSync(join(directory.path, 'crashing'));
    const reference = new MultiDatabaseMachine({ path: join(directory.path, 'reference', 'db.sqlite'), databaseCountMax: 8 });
    for (const [position, data] of entries.entries()) {
      if (isLoadEntry(data)) await reference.loads.apply([{ index: position + 1, data }]);
      else reference.apply(position + 1, data);
    }
    const expected = checksums(reference);
    assert.equal(stateOfA(reference), `loaded:${rowCount + 1}`);
    reference.close();

    const path = join(directory.path, 'crashing', 'db.sqlite');
    const seen = new Set<string>();
    const { finished, kills, startIndexes } = await runWithRandomKills({
      childScript,
      path,
      seed: 20_261_205_1n,
      killCountMax,
      killDelayMsMax,
      childTimeoutMs,
      afterEachRun: () => {
        const machine = new MultiDatabaseMachine({ path, databaseCountMax: 8 });
        try {
          const state = stateOfA(machine);
          const aIndex = machine.catalog.get('a')?.appliedIndex ?? 0;
          const allowed = aIndex < commitIndex ? ['absent', 'null', 'old'] : [`loaded:${rowCount}`, `loaded:${rowCount + 1}`];
          assert.ok(allowed.includes(state), `a at index ${aIndex} (commit ${commitIndex}) holds ${state}`);
          seen.add(aIndex < commitIndex ? 'old' : 'new');
        } finally {
          machine.close();
        }
      },
    });
    assert.ok(finished, `the child finished (start indexes ${startIndexes.join(',')})`);
    assert.ok(kills > 0, 'at least one kill landed');
    const survivor = new MultiDatabaseMachine({ path, databaseCountMax: 8 });
    try {
      assert.equal(survivor.appliedIndex, entries.length);
      assert.deepEqual(checksums(survivor), expected, `start indexes after kills: ${startIndexes.join(',')}`);
    } finally {
      survivor.close();
    }
    console.log(`load crash test: ${kills} kills, restart indexes ${startIndexes.join(',')} (commit at ${commitIndex}), a seen ${[...seen].join(' and ')}`);
  } finally {
    directory.cleanup();
  }
});
