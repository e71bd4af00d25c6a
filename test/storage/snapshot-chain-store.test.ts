/**
 * Chains in the snapshot store: a root and deltas naming their parents, kept together by
 * retention, and folds that make a delta's root its own state in place (snapshot-fold.ts),
 * finished or undone after a kill at every step.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { SnapshotStore, type SnapshotStoreOptions } from '../../src/storage/snapshot-store.js';
import { StorageError } from '../../src/storage/errors.js';
import { entryData, makeTemporaryDirectory, removeDirectory } from './helpers.js';
import { fillDisk, mountSmallDisk } from '../small-disk.js';

const storeOptions: SnapshotStoreOptions = { retainCount: 2, snapshotBytesMax: 1 << 20, contextBytesMax: 1024 };
const voters = { voters: ['n1'], learners: [] };
const childScript = new URL('./fixtures/fold-crash-child.ts', import.meta.url).pathname;

async function put(
  store: SnapshotStore,
  index: number,
  layout: { format: 'base' | 'delta' | 'full'; parent?: { index: number; term: number } },
  proof = `proof-${index}`,
  internalBytes = 100 + index,
): Promise<void> {
  const files = layout.format === 'full' ? [] : ['internal'];
  const writer = await store.begin({ index, term: 1, confState: voters }, { at: index }, { ...layout, proof, files });
  fs.writeFileSync(writer.dataPath, entryData(index, 1, 3000 + index));
  for (const name of files) fs.writeFileSync(writer.pathOf(name), entryData(index, 2, internalBytes));
  await writer.commit();
}

/** What a chain means without SQLite: the root's data, then the WALs to apply in order (a pending one first), and the internal state. */
function meaning(store: SnapshotStore, index: number): { readonly layers: string[]; readonly internal: string | undefined } {
  const head = store.find(index, 1);
  assert.ok(head !== undefined, `snapshot ${index} is stored`);
  const chain = store.chain(head);
  const hex = (path: string): string => fs.readFileSync(path).toString('hex');
  const [root, ...deltas] = chain;
  assert.ok(root !== undefined);
  const pending = fs.existsSync(`${root.dataPath}-wal`) ? [hex(`${root.dataPath}-wal`)] : [];
  const internal = head.files['internal'];
  return {
    layers: [hex(root.dataPath), ...pending, ...deltas.map((delta) => hex(delta.dataPath))],
    internal: internal === undefined ? undefined : hex(internal),
  };
}

test('deltas name a stored parent; chains resolve root first; retention keeps whole chains', async () => {
  const directory = makeTemporaryDirectory('chain-store');
  try {
    const store = await SnapshotStore.open(directory, { ...storeOptions, retainCount: 1 });
    await put(store, 10, { format: 'base' });
    await put(store, 12, { format: 'delta', parent: { index: 10, term: 1 } });
    await put(store, 15, { format: 'delta', parent: { index: 12, term: 1 } });
    assert.deepEqual(
      store.list().map((info) => [info.metadata.index, info.format, info.proof]),
      [
        [15, 'delta', 'proof-15'],
        [12, 'delta', 'proof-12'],
        [10, 'base', 'proof-10'],
      ],
      'retainCount 1 keeps the newest with its whole chain',
    );
    assert.deepEqual(
      store.chain(store.latest()!).map((info) => info.metadata.index),
      [10, 12, 15],
    );
    await assert.rejects(
      put(store, 20, { format: 'delta', parent: { index: 11, term: 1 } }),
      (error: unknown) => error instanceof StorageError && error.code === 'NOT_FOUND',
    );
    const reopened = await SnapshotStore.open(directory, storeOptions);
    assert.deepEqual(reopened.latest()?.files['internal'], join(directory, 'snapshot-00000000000000000015-00000000000000000001', 'internal'));
    await put(reopened, 30, { format: 'full' });
    await put(reopened, 31, { format: 'full' });
    assert.deepEqual(
      reopened.list().map((info) => info.metadata.index),
      [31, 30],
      'a newer root lets the old chain go',
    );
    // A delta whose root is gone (removed by hand) is dropped at open.
    await put(reopened, 33, { format: 'delta', parent: { index: 31, term: 1 } });
    assert.deepEqual(
      reopened.list().map((info) => info.metadata.index),
      [33, 31],
    );
    fs.rmSync(join(directory, 'snapshot-00000000000000000031-00000000000000000001'), { recursive: true });
    assert.deepEqual((await SnapshotStore.open(directory, storeOptions)).list(), []);
  } finally {
    removeDirectory(directory);
  }
});

test('a fold gives the root the delta’s identity, the delta waiting beside it as its WAL; folds and readers exclude each other', async () => {
  const directory = makeTemporaryDirectory('chain-fold');
  try {
    const store = await SnapshotStore.open(directory, storeOptions);
    await put(store, 10, { format: 'base' });
    await put(store, 12, { format: 'delta', parent: { index: 10, term: 1 } });
    const before = meaning(store, 12);
    const release = await store.readLock();
    assert.equal(store.beginFold(), undefined, 'a reader holds the chain');
    release();
    const fold = store.beginFold();
    assert.ok(fold !== undefined);
    assert.equal(store.beginFold(), undefined, 'one fold at a time');
    let readerIn = false;
    const reading = store.readLock().then((releaseReader) => {
      readerIn = true;
      releaseReader();
    });
    await fold.place();
    assert.equal(readerIn, false, 'a reader waits for the fold in progress');
    fold.release();
    await reading;
    assert.deepEqual(
      store.list().map((info) => [info.metadata.index, info.format, info.proof, info.context]),
      [[12, 'base', 'proof-12', { at: 12 }]],
    );
    assert.deepEqual(meaning(store, 12), before, 'the same state: root data, then the delta as its WAL');
    assert.equal(store.hasPendingWal(store.latest()!), true);
    assert.deepEqual(fs.readdirSync(directory), ['snapshot-00000000000000000012-00000000000000000001']);
    const reopened = await SnapshotStore.open(directory, storeOptions);
    assert.deepEqual(meaning(reopened, 12), before);
  } finally {
    removeDirectory(directory);
  }
});

test('a fold killed after any step is finished or undone at open: the newest snapshot keeps its state', async () => {
  for (const step of ['intent-written', 'wal-placed', 'side-files-copied', 'meta-rewritten', 'delta-removed', 'renamed', 'none']) {
    const directory = makeTemporaryDirectory(`fold-kill-${step}`);
    try {
      const store = await SnapshotStore.open(directory, storeOptions);
      await put(store, 10, { format: 'full' });
      await put(store, 12, { format: 'delta', parent: { index: 10, term: 1 } });
      await put(store, 14, { format: 'delta', parent: { index: 12, term: 1 } });
      const before = { at12: meaning(store, 12), at14: meaning(store, 14) };
      const child = spawnSync(process.execPath, ['--import', 'tsx', childScript, directory, step], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(child.signal, step === 'none' ? null : 'SIGKILL', `${step}: ${child.stderr}`);
      const reopened = await SnapshotStore.open(directory, storeOptions);
      assert.deepEqual(meaning(reopened, 12), before.at12, `killed after ${step}: snapshot 12`);
      assert.deepEqual(meaning(reopened, 14), before.at14, `killed after ${step}: snapshot 14`);
      const folded = !['intent-written'].includes(step);
      assert.equal(reopened.find(10, 1) === undefined, folded, `killed after ${step}: the root ${folded ? 'became' : 'is still'} 10`);
      assert.ok(!fs.readdirSync(directory).some((name) => name.startsWith('fold') || name.startsWith('tmp-')), fs.readdirSync(directory).join());
    } finally {
      removeDirectory(directory);
    }
  }
});

/** The store's files but its snapshot directories' contents: leftovers of a fold. */
function foldLeftovers(directory: string): string[] {
  return fs.readdirSync(directory).filter((name) => name.startsWith('fold') || name.startsWith('tmp-'));
}

/**
 * Found by the fault suite (bounded list-append with a full disk): a fold on the leader met
 * ENOSPC copying the delta's side file, after the delta's data had moved beside the root.
 * The store still listed the delta with its data where it had been, so every later fold and
 * every snapshot sent to a new member failed with ENOENT until the process restarted, and
 * the member never caught up. Now the next reader or fold finishes it first, as open does.
 */
test('a fold that throws after any step is finished or undone by the next reader, as open would after a crash', async () => {
  for (const step of ['intent-written', 'wal-placed', 'side-files-copied', 'meta-rewritten', 'delta-removed', 'renamed'] as const) {
    const directory = makeTemporaryDirectory(`fold-throw-${step}`);
    try {
      // Throws at the step in the fold and, for the steps settling repeats, once more in the first attempt to settle it.
      const repeated = ['side-files-copied', 'delta-removed'].includes(step);
      let throwsLeft = repeated ? 2 : 1;
      const store = await SnapshotStore.open(directory, {
        ...storeOptions,
        onFoldStep: (reached) => {
          if (reached === step && throwsLeft-- > 0) throw new Error(`injected after ${step}`);
        },
      });
      await put(store, 10, { format: 'full' });
      await put(store, 12, { format: 'delta', parent: { index: 10, term: 1 } });
      await put(store, 14, { format: 'delta', parent: { index: 12, term: 1 } });
      const before = { at12: meaning(store, 12), at14: meaning(store, 14) };
      const fold = store.beginFold();
      assert.ok(fold !== undefined);
      await assert.rejects(fold.place(), new RegExp(`injected after ${step}`));
      fold.release();
      assert.equal(store.beginFold(), undefined, `${step}: no fold begins before the failed one is settled`);
      if (repeated) {
        await assert.rejects(store.readLock(), /injected/, `${step}: a reader fails while the fold cannot be settled`);
      }
      const release = await store.readLock();
      release();
      assert.deepEqual(meaning(store, 12), before.at12, `thrown after ${step}: snapshot 12`);
      assert.deepEqual(meaning(store, 14), before.at14, `thrown after ${step}: snapshot 14`);
      const folded = step !== 'intent-written';
      assert.equal(store.find(10, 1) === undefined, folded, `thrown after ${step}: the root ${folded ? 'became' : 'is still'} 10`);
      assert.deepEqual(foldLeftovers(directory), [], step);
      const reopened = await SnapshotStore.open(directory, storeOptions);
      assert.deepEqual(
        reopened.list().map((info) => `${info.metadata.index}:${info.format}`),
        store.list().map((info) => `${info.metadata.index}:${info.format}`),
        `${step}: the store describes what is on disk`,
      );
      assert.deepEqual(meaning(reopened, 14), before.at14);
    } finally {
      removeDirectory(directory);
    }
  }
});

test('a fold that meets a full disk leaves the chain readable once space returns, without a restart', async (t) => {
  const disk = mountSmallDisk('fold-full', 4 * 1024 * 1024);
  try {
    if (disk.skipped(t)) return;
    const directory = join(disk.path, 'snapshots');
    const store = await SnapshotStore.open(directory, storeOptions);
    const internalBytes = 256 * 1024;
    await put(store, 10, { format: 'base' }, 'proof-10', internalBytes);
    await put(store, 12, { format: 'delta', parent: { index: 10, term: 1 } }, 'proof-12', internalBytes);
    await put(store, 14, { format: 'delta', parent: { index: 12, term: 1 } }, 'proof-14', internalBytes);
    const before = meaning(store, 14);
    // Room for the fold's intent file, not for a copy of the delta's side file.
    const filler = fillDisk(disk.path, 16 * 1024);
    const fold = store.beginFold();
    assert.ok(fold !== undefined);
    await assert.rejects(fold.place(), /ENOSPC/);
    fold.release();
    await assert.rejects(store.readLock(), /ENOSPC/, 'still full: the fold cannot be finished, and the reader is told so');
    fs.rmSync(filler);
    const release = await store.readLock();
    release();
    assert.deepEqual(meaning(store, 14), before, 'the chain reads as before the fold');
    assert.deepEqual(
      store.list().map((info) => info.metadata.index),
      [14, 12],
      'the fold finished: 12 is the root',
    );
    for (const link of store.chain(store.latest()!)) assert.ok(fs.existsSync(link.dataPath), link.dataPath);
  } finally {
    disk.remove();
  }
});

test('a snapshot directory written before formats existed opens as one full snapshot, its own chain', async () => {
  const directory = makeTemporaryDirectory('old-format-store');
  try {
    const snapshot = join(directory, 'snapshot-00000000000000000010-00000000000000000002');
    fs.mkdirSync(snapshot);
    fs.copyFileSync(new URL('../state-machine/fixtures/old-format-snapshot.db', import.meta.url), join(snapshot, 'data'));
    fs.copyFileSync(new URL('./fixtures/old-format-meta.json', import.meta.url), join(snapshot, 'meta.json'));
    const store = await SnapshotStore.open(directory, storeOptions);
    const info = store.latest();
    assert.ok(info !== undefined);
    assert.deepEqual([info.metadata.index, info.metadata.term, info.format, info.proof, info.files], [10, 2, 'full', undefined, {}]);
    assert.deepEqual(store.chain(info), [info]);
    await store.verify(info);
    await put(store, 12, { format: 'delta', parent: { index: 10, term: 2 } });
  } finally {
    removeDirectory(directory);
  }
});
