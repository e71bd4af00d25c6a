/**
 * Environmental failures are not results: on a full disk the entry is not applied, the
 * machine reports unhealthy, and the same entry applies once space is back. Runs on a
 * size-limited tmpfs (needs root to mount; skipped with the reason otherwise).
 */
import { type TestContext, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fillDisk, mountSmallDisk, type SmallDisk } from '../small-disk.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { StateMachineError, StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { entry, statement } from './helpers.js';

const mountSizeBytes = 4 * 1024 * 1024;

/** A small disk for one test, or undefined (the test skipped, saying why). */
function smallDiskOrSkip(context: TestContext): SmallDisk | undefined {
  const disk = mountSmallDisk('sm-full', mountSizeBytes);
  if (disk.skipReason === undefined) return disk;
  console.log(`skipping disk-full test: ${disk.skipReason}`);
  disk.remove();
  context.skip(disk.skipReason);
  return undefined;
}

test('disk full during apply halts with a coded error, keeps the index, and the same entry applies later', (context) => {
  const disk = smallDiskOrSkip(context);
  if (disk === undefined) return;
  const mountPoint = disk.path;
  let machine: SqliteStateMachine | undefined;
  try {
    machine = new SqliteStateMachine({ path: join(mountPoint, 'db.sqlite') });
    machine.apply(1, entry(['CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)', "INSERT INTO t(v) VALUES (x'01')"]));
    const before = machine.checksum();
    const fillerPath = fillDisk(mountPoint);
    const big = entry([statement('INSERT INTO t(v) VALUES (?)', new Uint8Array(512 * 1024).fill(3)), 'SELECT count(*) FROM t']);
    const current = machine;
    assert.throws(
      () => current.apply(2, big),
      (error: unknown) => {
        assert.ok(error instanceof StateMachineHaltedError, String(error));
        assert.match(error.code, /^SQLITE_(FULL|IOERR)/);
        assert.equal(error.entryIndex, 2);
        return true;
      },
    );
    assert.equal(machine.appliedIndex, 1);
    assert.equal(machine.healthy, false);
    assert.match(machine.status().haltReason ?? '', /halted at entry 2: SQLITE_(FULL|IOERR)/);
    assert.throws(() => current.apply(2, big), StateMachineHaltedError, 'still full: still halted, still not applied');
    assert.equal(machine.appliedIndex, 1);
    assert.deepEqual(machine.checksum(), before, 'nothing of the failed entry is visible');
    unlinkSync(fillerPath);
    const outcome = machine.apply(2, big);
    assert.deepEqual(outcome.results[1], { kind: 'rows', columns: ['count(*)'], types: ['integer'], rows: [[2]] });
    assert.equal(machine.healthy, true);
    assert.equal(machine.appliedIndex, 2);
    machine.close();
    machine = new SqliteStateMachine({ path: join(mountPoint, 'db.sqlite') });
    assert.equal(machine.appliedIndex, 2, 'the retried entry is durable');
  } finally {
    machine?.close();
    disk.remove();
  }
});

test('disk full while staging a restore: ENVIRONMENT (a node halts and retries), the old database intact; with space back it completes', async (context) => {
  const disk = smallDiskOrSkip(context);
  if (disk === undefined) return;
  const mountPoint = disk.path;
  const sourceDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-sm-source-'));
  let machine: SqliteStateMachine | undefined;
  let source: SqliteStateMachine | undefined;
  try {
    source = new SqliteStateMachine({ path: join(sourceDirectory, 'db.sqlite') });
    source.apply(1, entry(['CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)']));
    for (let index = 2; index <= 5; index++) source.apply(index, entry([statement('INSERT INTO t(v) VALUES (?)', new Uint8Array(256 * 1024).fill(index))]));
    const snapshotPath = join(sourceDirectory, 'snapshot.db');
    assert.equal((await source.snapshot(snapshotPath)).appliedIndex, 5);
    machine = new SqliteStateMachine({ path: join(mountPoint, 'db.sqlite') });
    machine.apply(1, entry(['CREATE TABLE mine(v)', "INSERT INTO mine VALUES ('kept')"]));
    const before = machine.checksum();
    const fillerPath = fillDisk(mountPoint);
    const full = machine;
    await assert.rejects(full.restore(snapshotPath), (error: unknown) => {
      assert.ok(error instanceof StateMachineError, String(error));
      assert.equal(error.code, 'ENVIRONMENT', error.message);
      assert.match(error.message, /^the disk or the system refused \((ENOSPC|SQLITE_FULL)\)/);
      return true;
    });
    assert.equal(machine.appliedIndex, 1);
    assert.deepEqual(machine.checksum(), before, 'the old database is untouched');
    assert.ok(!existsSync(join(mountPoint, 'db.sqlite.restore')), 'no staging copy left behind');
    unlinkSync(fillerPath);
    assert.equal((await machine.restore(snapshotPath)).appliedIndex, 5, 'the same restore succeeds with space back');
    assert.deepEqual(machine.checksum(), source.checksum());
  } finally {
    machine?.close();
    source?.close();
    disk.remove();
    rmSync(sourceDirectory, { recursive: true, force: true });
  }
});
