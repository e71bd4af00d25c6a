/**
 * rqlited's -raft-snap-wal-size as the WAL checkpoint threshold (walCheckpointBytes): the
 * WAL is checkpointed, and so reused from its start, once it holds about that many bytes.
 * Without the setting SQLite's own 1000 pages (about 4 MB) apply.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { entry, statement, temporaryDirectory } from './helpers.js';

/** About 2 MB of rows in 40 entries, then the WAL file's size. */
function walBytesAfterWrites(walCheckpointBytes: number | undefined): number {
  const directory = temporaryDirectory('wal-checkpoint');
  const path = join(directory.path, 'db.sqlite');
  const machine = new SqliteStateMachine({ path, ...(walCheckpointBytes === undefined ? {} : { walCheckpointBytes }) });
  try {
    machine.apply(1, entry(['CREATE TABLE t (body TEXT)']));
    for (let index = 2; index <= 41; index += 1) {
      machine.apply(index, entry(Array.from({ length: 10 }, () => statement('INSERT INTO t VALUES (?)', 'x'.repeat(5_000)))));
    }
    return statSync(`${path}-wal`).size;
  } finally {
    machine.close();
    directory.cleanup();
  }
}

it('a 64 KiB threshold keeps the WAL near 64 KiB where the default lets it grow past 1 MB', () => {
  const bounded = walBytesAfterWrites(64 * 1024);
  const unbounded = walBytesAfterWrites(undefined);
  assert.ok(bounded < 256 * 1024, `WAL of ${bounded} bytes with a 64 KiB threshold`);
  assert.ok(unbounded > 1024 * 1024, `WAL of ${unbounded} bytes with SQLite's default`);
});
