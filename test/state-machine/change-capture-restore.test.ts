/**
 * The capture's sink hears of a restore only when a snapshot replaced the database (the
 * node queue then has a gap to fill from peers), never for a load's commit: loads emit no
 * events, as in rqlite, and no gap is left for the sender to chase.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ChangeCapture } from '../../src/state-machine/change-capture.js';
import { encodeLoadEntry } from '../../src/state-machine/load-entries.js';
import { patchedHeader } from '../../src/state-machine/sqlite-header.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, temporaryDirectory } from './helpers.js';

const loadId = 'cd'.repeat(16);

test('a load commit (a restore underneath) does not tell the sink of a restore; its index is no gap', async () => {
  const directory = temporaryDirectory('cdc-restore');
  const restores: [number, number][] = [];
  const capture = new ChangeCapture(
    { tableFilter: undefined, rowIdsOnly: false, entryChangeCountMax: 100 },
    { record: () => undefined, restored: (appliedBefore, restoredIndex) => restores.push([appliedBefore, restoredIndex]) },
  );
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite'), changeCapture: capture });
  try {
    const sourcePath = join(directory.path, 'source.db');
    const source = new Database(sourcePath);
    source.exec('CREATE TABLE loaded (id INTEGER PRIMARY KEY)');
    source.close();
    const file = readFileSync(sourcePath);
    const bytes = Buffer.concat([patchedHeader(file.subarray(0, 100), 'rollback'), file.subarray(100)]);
    machine.apply(1, entry(['CREATE TABLE t (v)']));
    await machine.loads.apply([{ index: 2, data: encodeLoadEntry({ kind: 'chunk', loadId, offset: 0, data: bytes }) }]);
    const [committed] = await machine.loads.apply([{ index: 3, data: encodeLoadEntry({ kind: 'commit', loadId, totalBytes: bytes.length }) }]);
    assert.ok(
      committed?.results.every((result) => result.kind !== 'error'),
      JSON.stringify(committed),
    );
    assert.equal(machine.appliedIndex, 3);
    assert.deepEqual(restores, []);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
