/**
 * Disk full on a real 1 MiB tmpfs: write until ENOSPC, check the clear DISK_FULL error
 * and that the store is unchanged (the partial frame rolled back), free space, check
 * that the same save then succeeds and nothing was lost, reopen and verify. Skipped
 * with a printed reason where mounting is impossible (not root, no tmpfs).
 */
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { StorageError } from '../../src/storage/errors.js';
import type { StorageOptions } from '../../src/storage/options.js';
import { makeEntries, makeTemporaryDirectory, removeDirectory, summary } from './helpers.js';

const mountBytes = 1024 * 1024;
const fillerBytes = 256 * 1024;
const savesMax = 1000;

function mountTmpfs(t: TestContext): string | undefined {
  const directory = makeTemporaryDirectory('disk-full');
  if (process.getuid?.() !== 0) {
    removeDirectory(directory);
    t.skip('disk-full test needs root to mount a size-limited tmpfs');
    return undefined;
  }
  const result = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${mountBytes}`, 'tmpfs', directory], { encoding: 'utf8' });
  if (result.status !== 0) {
    removeDirectory(directory);
    t.skip(`cannot mount tmpfs: ${result.stderr || result.error?.message}`);
    return undefined;
  }
  return directory;
}

function unmount(directory: string): void {
  spawnSync('umount', [directory]);
  removeDirectory(directory);
}

async function fillUntilDiskFull(store: DurableStorage, firstIndex: number): Promise<{ nextIndex: number; failure: StorageError }> {
  let nextIndex = firstIndex;
  for (let save = 0; save < savesMax; save++) {
    try {
      await store.save({ entries: makeEntries(nextIndex, 8, 1, 1000), hardState: { term: 1, vote: '', commit: nextIndex - 1 } });
    } catch (error) {
      assert.ok(error instanceof StorageError, String(error));
      return { nextIndex, failure: error };
    }
    nextIndex += 8;
  }
  assert.fail(`no ENOSPC after ${savesMax} saves`);
}

async function scenario(t: TestContext, options: Partial<StorageOptions>): Promise<void> {
  const mount = mountTmpfs(t);
  if (mount === undefined) return;
  const directory = join(mount, 'data');
  const filler = join(mount, 'filler');
  try {
    fs.writeFileSync(filler, Buffer.alloc(fillerBytes, 1));
    const opened: DurableStorage[] = [];
    try {
      await fillCheckAndResume(directory, filler, options, opened);
    } finally {
      for (const store of opened) await store.close();
    }
  } finally {
    unmount(mount);
  }
}

async function fillCheckAndResume(directory: string, filler: string, options: Partial<StorageOptions>, opened: DurableStorage[]): Promise<void> {
  {
    let store = await DurableStorage.open(directory, options);
    opened.push(store);
    const { nextIndex, failure } = await fillUntilDiskFull(store, 1);
    assert.equal(failure.code, 'DISK_FULL');
    assert.match(failure.message, /disk full while saving to .*ENOSPC/);
    assert.equal(store.healthy, false);
    assert.equal(store.lastError?.code, 'DISK_FULL');
    assert.equal(store.lastIndex(), nextIndex - 1, 'the failed save left nothing behind');
    const before = summary(store.entries(1, nextIndex, Infinity));
    // A save queued behind a failing one is refused too, and leaves nothing.
    const outcomes = await Promise.allSettled([
      store.save({ entries: makeEntries(nextIndex, 8, 1, 1000) }),
      store.save({ entries: makeEntries(nextIndex + 8, 8, 1, 1000) }),
    ]);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['rejected', 'rejected'],
    );
    assert.equal(store.lastIndex(), nextIndex - 1);
    fs.rmSync(filler);
    await store.save({ entries: makeEntries(nextIndex, 8, 1, 1000), hardState: { term: 1, vote: '', commit: nextIndex - 1 } });
    assert.equal(store.healthy, true);
    await store.save({ entries: makeEntries(nextIndex + 8, 8, 1, 1000) });
    const expected = [...before, ...summary([...makeEntries(nextIndex, 8, 1, 1000), ...makeEntries(nextIndex + 8, 8, 1, 1000)])];
    assert.deepEqual(summary(store.entries(1, nextIndex + 16, Infinity)), expected);
    await store.close();
    store = await DurableStorage.open(directory, options);
    opened.push(store);
    assert.equal(store.recovery.repairs.length, 0, 'no torn tail was left behind');
    assert.deepEqual(summary(store.entries(1, nextIndex + 16, Infinity)), expected);
    assert.equal(store.initialState().hardState.commit, nextIndex - 1);
  }
}

test('disk full while appending to a segment: DISK_FULL, nothing lost, writes resume once space returns', async (t) => {
  await scenario(t, { segmentBytesMax: 64 * 1024 * 1024 });
});

test('disk full while starting a new segment: DISK_FULL, the partial segment is removed, writes resume', async (t) => {
  await scenario(t, { segmentBytesMax: 1 });
});

test('disk full while writing a snapshot: DISK_FULL, no partial snapshot left, the log still works', async (t) => {
  const mount = mountTmpfs(t);
  if (mount === undefined) return;
  try {
    const store = await DurableStorage.open(join(mount, 'data'));
    try {
      await store.save({ entries: makeEntries(1, 3, 1) });
      const writer = await store.snapshots.begin({ index: 3, term: 1, confState: { voters: ['n1'], learners: [] } });
      const chunk = Buffer.alloc(64 * 1024, 7);
      let failure: unknown;
      for (let chunkNumber = 0; chunkNumber < 64 && failure === undefined; chunkNumber++)
        await writer.write(chunk).catch((error: unknown) => (failure = error));
      assert.ok(failure instanceof StorageError && failure.code === 'DISK_FULL', String(failure));
      await writer.abort();
      assert.equal(store.snapshots.list().length, 0);
      assert.deepEqual(fs.readdirSync(join(mount, 'data', 'snapshots')), []);
      await store.save({ entries: makeEntries(4, 1, 1) });
      assert.equal(store.lastIndex(), 4);
    } finally {
      await store.close();
    }
  } finally {
    unmount(mount);
  }
});
