/**
 * A snapshot file written by the code before deltas existed (fixtures/old-format-snapshot.db,
 * made by that code: index 10, rows of table t, three remembered requests, a statistics
 * refresh time, all in one self-contained file) still restores, with its dedup state and
 * maintenance time, and then roots a chain: a delta captured on it materialises back into
 * one file of that same format.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

const oldSnapshot = new URL('./fixtures/old-format-snapshot.db', import.meta.url).pathname;
/** The content checksum the old code reported for the fixture at index 10. */
const oldChecksum = '7ec0e0c73f86008863b5ecf207f2f9a6996582f5156002bee2d81bc7c862c4d2';

test('an old-format snapshot restores with its dedup state and maintenance time, then roots a delta', async () => {
  const directory = temporaryDirectory('old-format');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    const restored = await machine.restore(oldSnapshot);
    assert.equal(restored.appliedIndex, 10);
    assert.equal(machine.checksum().checksum, oldChecksum);
    assert.equal(machine.rememberedRequestCount(), 3);
    assert.deepEqual([...machine.maintenanceTimes()], [['optimize', 1_700_000_000_010]]);
    assert.equal(machine.apply(11, entry(["INSERT INTO t(v) VALUES ('again')"], { requestId: 'client:old-6' })).deduplicated, true);
    assert.equal(typeof restored.proof, 'string');
    for (let index = 12; index <= 20; index++) machine.apply(index, entry([statement('INSERT INTO t(v) VALUES (?)', `new ${index}`)]));
    const delta = { dataPath: join(directory.path, 'delta.data'), internalPath: join(directory.path, 'delta.internal') };
    const captured = await machine.captureSnapshot(delta, restored.proof);
    assert.equal(captured.format, 'delta');
    const whole = join(directory.path, 'whole.db');
    const chain = { root: { dataPath: oldSnapshot, index: 10 }, deltas: [{ dataPath: delta.dataPath, index: 20 }], internalPath: delta.internalPath };
    assert.equal(await machine.materialiseSnapshot(chain, whole), 20);
    const target = new SqliteStateMachine({ path: join(directory.path, 'target.sqlite') });
    try {
      await target.restore(whole);
      assert.equal(target.checksum().checksum, machine.checksum().checksum);
      assert.equal(target.rememberedRequestCount(), machine.rememberedRequestCount());
      assert.deepEqual([...target.maintenanceTimes()], [['optimize', 1_700_000_000_010]]);
    } finally {
      target.close();
    }
  } finally {
    machine.close();
    directory.cleanup();
  }
});
