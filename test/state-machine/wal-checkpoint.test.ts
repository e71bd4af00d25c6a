/**
 * The WAL under snapshots that cost what changed (snapshot-capture.ts): the apply
 * connection never checkpoints on its own, so the WAL holds every change since the last
 * snapshot (rqlited's -raft-snap-wal-size then makes a snapshot due, src/node/snapshots.ts);
 * a capture checkpoints it and starts it again; closing the machine keeps it.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

/** About 2 MB of rows in 40 entries. */
function writeRows(machine: SqliteStateMachine): void {
  const first = machine.appliedIndex + 1;
  if (first === 1) machine.apply(1, entry(['CREATE TABLE t (body TEXT)']));
  for (let index = Math.max(first, 2); index <= first + 40; index += 1) {
    machine.apply(index, entry(Array.from({ length: 10 }, () => statement('INSERT INTO t VALUES (?)', 'x'.repeat(5_000)))));
  }
}

it('the WAL grows past SQLite’s 1000-page checkpoint until a capture starts it again, and a restart keeps it', async () => {
  const directory = temporaryDirectory('wal-checkpoint');
  const path = join(directory.path, 'db.sqlite');
  let machine = new SqliteStateMachine({ path });
  try {
    writeRows(machine);
    writeRows(machine);
    const grown = statSync(`${path}-wal`).size;
    assert.ok(grown > 4 * 1024 * 1024, `WAL of ${grown} bytes: no automatic checkpoint`);
    assert.equal(machine.walBytes(), grown);
    machine.close();
    machine = new SqliteStateMachine({ path });
    assert.equal(statSync(`${path}-wal`).size, grown, 'closing the machine left the WAL whole');
    await machine.captureSnapshot({ dataPath: join(directory.path, 'base'), internalPath: join(directory.path, 'internal') }, undefined);
    assert.ok(machine.walBytes() < 16 * 1024, `WAL of ${machine.walBytes()} bytes after a capture`);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
