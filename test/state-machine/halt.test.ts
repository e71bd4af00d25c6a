/**
 * Environmental failures are not results: on a full disk the entry is not applied, the
 * machine reports unhealthy, and the same entry applies once space is back. Runs on a
 * size-limited tmpfs (needs root to mount; skipped with the reason otherwise).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, rmdirSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import { StateMachineError, StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { entry, statement } from './helpers.js';

const mountSizeBytes = 4 * 1024 * 1024;
const fillChunkBytes = 64 * 1024;
const fillChunkCountMax = (2 * mountSizeBytes) / fillChunkBytes;

function tryMount(mountPoint: string): string | undefined {
  if (process.getuid?.() !== 0) return 'not running as root, cannot mount a tmpfs';
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mountSizeBytes}`, 'tmpfs', mountPoint], { encoding: 'utf8' });
  return mounted.status === 0 ? undefined : `mount failed: ${mounted.stderr.trim()}`;
}

/** Writes a filler file until the file system is full; returns its path. */
function fillFileSystem(directory: string): string {
  const fillerPath = join(directory, 'filler');
  const descriptor = openSync(fillerPath, 'w');
  const chunk = Buffer.alloc(fillChunkBytes, 1);
  try {
    for (let chunkIndex = 0; chunkIndex < fillChunkCountMax; chunkIndex++) {
      try {
        writeSync(descriptor, chunk);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOSPC') return fillerPath;
        throw error;
      }
    }
  } finally {
    closeSync(descriptor);
  }
  throw new Error('the file system never filled up');
}

test('disk full during apply halts with a coded error, keeps the index, and the same entry applies later', (context) => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'quorumlite-sm-full-'));
  const skipReason = tryMount(mountPoint);
  if (skipReason !== undefined) {
    console.log(`skipping disk-full test: ${skipReason}`);
    rmdirSync(mountPoint);
    context.skip(skipReason);
    return;
  }
  let machine: SqliteStateMachine | undefined;
  try {
    machine = new SqliteStateMachine({ path: join(mountPoint, 'db.sqlite') });
    machine.apply(1, entry(['CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)', "INSERT INTO t(v) VALUES (x'01')"]));
    const before = machine.checksum();
    const fillerPath = fillFileSystem(mountPoint);
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
    spawnSync('umount', [mountPoint]);
    rmdirSync(mountPoint);
  }
});

test('disk full while staging a restore: ENVIRONMENT (a node halts and retries), the old database intact; with space back it completes', async (context) => {
  const mountPoint = mkdtempSync(join(tmpdir(), 'quorumlite-sm-full-'));
  const skipReason = tryMount(mountPoint);
  if (skipReason !== undefined) {
    console.log(`skipping disk-full test: ${skipReason}`);
    rmdirSync(mountPoint);
    context.skip(skipReason);
    return;
  }
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
    const fillerPath = fillFileSystem(mountPoint);
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
    spawnSync('umount', [mountPoint]);
    rmdirSync(mountPoint);
    rmSync(sourceDirectory, { recursive: true, force: true });
  }
});
