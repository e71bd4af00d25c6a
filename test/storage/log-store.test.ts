import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { StorageError } from '../../src/storage/errors.js';
import { RaftStorageError, entryOverheadBytes, type Entry } from '../../src/raft/types.js';
import type { StorageOptions } from '../../src/storage/options.js';
import { RecordKind, encodeMetadataRecord } from '../../src/storage/record-format.js';
import { entryData, makeEntries, makeTemporaryDirectory, removeDirectory, summary } from './helpers.js';

async function withStore(
  label: string,
  options: Partial<StorageOptions>,
  body: (directory: string, reopen: (store: DurableStorage) => Promise<DurableStorage>, store: DurableStorage) => Promise<void>,
): Promise<void> {
  const directory = makeTemporaryDirectory(label);
  const open: DurableStorage[] = [];
  const reopen = async (store: DurableStorage): Promise<DurableStorage> => {
    await store.close();
    const next = await DurableStorage.open(directory, options);
    open.push(next);
    return next;
  };
  try {
    const store = await DurableStorage.open(directory, options);
    open.push(store);
    await body(directory, reopen, store);
  } finally {
    for (const store of open) await store.close();
    removeDirectory(directory);
  }
}

function isCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => (error instanceof StorageError || error instanceof RaftStorageError) && error.code === code;
}

test('a fresh store is empty and reads as an empty log', async () => {
  await withStore('fresh', {}, async (_directory, reopen, store) => {
    assert.equal(store.isEmpty(), true);
    assert.deepEqual(store.initialState(), { hardState: { term: 0, vote: '', commit: 0 }, confState: { voters: [], learners: [] } });
    assert.equal(store.firstIndex(), 1);
    assert.equal(store.lastIndex(), 0);
    assert.equal(store.term(0), 0);
    assert.throws(() => store.term(1), isCode('UNAVAILABLE'));
    assert.deepEqual(store.entries(1, 1, 100), []);
    assert.deepEqual(store.snapshot().metadata, { index: 0, term: 0, confState: { voters: [], learners: [] } });
    store = await reopen(store);
    assert.equal(store.isEmpty(), true);
    assert.equal(store.segmentCount(), 0);
  });
});

test('append, read back, and read again after reopen', async () => {
  await withStore('append', {}, async (_directory, reopen, store) => {
    const first = makeEntries(1, 10, 1);
    const second = makeEntries(11, 5, 2);
    await store.save({ entries: first, hardState: { term: 1, vote: 'a', commit: 3 } });
    await store.save({ entries: second, hardState: { term: 2, vote: '', commit: 12 } });
    assert.equal(store.lastIndex(), 15);
    assert.equal(store.term(10), 1);
    assert.equal(store.term(11), 2);
    assert.deepEqual(summary(store.entries(1, 16, Number.MAX_SAFE_INTEGER)), summary([...first, ...second]));
    store = await reopen(store);
    assert.equal(store.isEmpty(), false);
    assert.deepEqual(store.initialState().hardState, { term: 2, vote: '', commit: 12 });
    assert.equal(store.firstIndex(), 1);
    assert.equal(store.lastIndex(), 15);
    assert.deepEqual(summary(store.entries(1, 16, Number.MAX_SAFE_INTEGER)), summary([...first, ...second]));
    assert.deepEqual(summary(store.entries(4, 12, Number.MAX_SAFE_INTEGER)), summary([...first, ...second].slice(3, 11)));
    assert.throws(() => store.entries(1, 17, 100), isCode('UNAVAILABLE'));
    assert.throws(() => store.term(16), isCode('UNAVAILABLE'));
  });
});

test('an append at or below the last index truncates the conflicting suffix, also after reopen', async () => {
  await withStore('truncate', {}, async (_directory, reopen, store) => {
    await store.save({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: 'a', commit: 2 } });
    await store.save({ entries: makeEntries(6, 2, 3), hardState: { term: 3, vote: 'b', commit: 2 } });
    const expected = [...makeEntries(1, 5, 1), ...makeEntries(6, 2, 3)];
    assert.equal(store.lastIndex(), 7);
    assert.deepEqual(summary(store.entries(1, 8, Infinity)), summary(expected));
    store = await reopen(store);
    assert.equal(store.lastIndex(), 7);
    assert.deepEqual(summary(store.entries(1, 8, Infinity)), summary(expected));
    await store.save({ entries: makeEntries(8, 3, 3) });
    await store.save({ entries: makeEntries(3, 1, 4), hardState: { term: 4, vote: '', commit: 3 } });
    const final = [...makeEntries(1, 2, 1), ...makeEntries(3, 1, 4)];
    assert.deepEqual(summary(store.entries(1, 4, Infinity)), summary(final));
    store = await reopen(store);
    assert.equal(store.lastIndex(), 3);
    assert.deepEqual(summary(store.entries(1, 4, Infinity)), summary(final));
  });
});

test('entries() stops at bytesMax (data + entryOverheadBytes each, as the core counts) but returns at least one', async () => {
  await withStore('max-bytes', {}, async (_directory, _reopen, store) => {
    await store.save({ entries: makeEntries(1, 10, 1, 100) });
    const each = 100 + entryOverheadBytes;
    assert.equal(store.entries(1, 11, 0).length, 1);
    assert.equal(store.entries(1, 11, each * 2 - 1).length, 1);
    assert.equal(store.entries(1, 11, each * 2).length, 2);
    assert.equal(store.entries(1, 11, each * 3 - 1).length, 2);
    assert.equal(store.entries(1, 11, each * 3).length, 3);
    assert.equal(store.entries(1, 11, each * 10).length, 10);
    assert.equal(
      store
        .entries(3, 11, each * 2.5)
        .map((entry) => entry.index)
        .join(','),
      '3,4',
    );
    assert.throws(() => store.entries(5, 4, 100), isCode('INVALID_ARGUMENT'));
  });
});

test('reads coalesce into chunks no larger than readChunkBytesMax and still return every entry', async () => {
  await withStore('read-chunk', { readChunkBytesMax: 300 }, async (_directory, _reopen, store) => {
    const entries = makeEntries(1, 20, 1, 100);
    await store.save({ entries });
    assert.deepEqual(summary(store.entries(1, 21, Infinity)), summary(entries));
  });
});

test('hard state is persisted and checked: no lower term, no second vote in a term, commit within the log', async () => {
  await withStore('hard-state', {}, async (_directory, reopen, store) => {
    await store.save({ hardState: { term: 5, vote: 'n1', commit: 0 } });
    store = await reopen(store);
    assert.deepEqual(store.initialState().hardState, { term: 5, vote: 'n1', commit: 0 });
    await assert.rejects(store.save({ hardState: { term: 4, vote: '', commit: 0 } }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.save({ hardState: { term: 5, vote: 'n2', commit: 0 } }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.save({ hardState: { term: 5, vote: 'n1', commit: 1 } }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.save({ hardState: { term: -1, vote: '', commit: 0 } } as never), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.save({ hardState: { term: 6, vote: 7, commit: 0 } } as never), isCode('INVALID_ARGUMENT'));
    await store.save({ entries: makeEntries(1, 3, 5), hardState: { term: 6, vote: 'n2', commit: 3 } });
    await assert.rejects(store.save({ hardState: { term: 6, vote: 'n2', commit: 2 } }), isCode('INVALID_ARGUMENT'));
    store = await reopen(store);
    assert.deepEqual(store.initialState().hardState, { term: 6, vote: 'n2', commit: 3 });
  });
});

test('bad entries are refused with a clear error and nothing stored changes', async () => {
  await withStore('bad-input', { entryBytesMax: 1000 }, async (_directory, reopen, store) => {
    const good = makeEntries(1, 5, 2);
    await store.save({ entries: good, hardState: { term: 2, vote: '', commit: 4 } });
    const cases: [string, unknown][] = [
      ['gap after the log', makeEntries(7, 2, 2)],
      ['non-contiguous indexes', [...makeEntries(6, 1, 2), ...makeEntries(8, 1, 2)]],
      ['decreasing term', [...makeEntries(6, 1, 3), ...makeEntries(7, 1, 2)]],
      ['term below the previous entry', makeEntries(6, 1, 1)],
      ['unknown type', [{ index: 6, term: 2, type: 'bogus', data: new Uint8Array(1) }]],
      ['data not bytes', [{ index: 6, term: 2, type: 'normal', data: 'text' }]],
      ['zero index', [{ index: 0, term: 2, type: 'normal', data: new Uint8Array(1) }]],
      ['fractional term', [{ index: 6, term: 2.5, type: 'normal', data: new Uint8Array(1) }]],
      ['replacing a committed entry with another term', makeEntries(3, 1, 3)],
      ['cutting the log below the commit index', makeEntries(5, 1, 2).map((entry) => ({ ...entry, index: 3 }))],
      ['not an array', 'entries'],
    ];
    for (const [name, entries] of cases) {
      await assert.rejects(store.save({ entries: entries as never }), isCode('INVALID_ARGUMENT'), name);
    }
    await assert.rejects(store.save(null as never), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.save({ confState: { voters: [''], learners: [] } }), isCode('INVALID_ARGUMENT'));
    store = await reopen(store);
    assert.equal(store.lastIndex(), 5);
    assert.deepEqual(summary(store.entries(1, 6, Infinity)), summary(good));
    assert.deepEqual(store.initialState().hardState, { term: 2, vote: '', commit: 4 });
  });
});

test('entryBytesMax is accepted exactly and refused one byte over', async () => {
  await withStore('entry-bound', { entryBytesMax: 4096 }, async (_directory, reopen, store) => {
    const atLimit = [{ index: 1, term: 1, type: 'normal' as const, data: entryData(1, 1, 4096) }];
    await store.save({ entries: atLimit });
    const overLimit = [{ index: 2, term: 1, type: 'normal' as const, data: new Uint8Array(4097) }];
    await assert.rejects(store.save({ entries: overLimit }), isCode('TOO_LARGE'));
    store = await reopen(store);
    assert.deepEqual(summary(store.entries(1, 2, 0)), summary(atLimit));
    assert.equal(store.lastIndex(), 1);
  });
});

test('one save larger than a frame allows is refused as TOO_LARGE; the largest allowed one is stored', async () => {
  const options = { entryBytesMax: 1024, flushBytesMax: 4096 + 16 + 1024, metadataRecordBytesMax: 1024 };
  await withStore('save-bound', options, async (_directory, reopen, store) => {
    // saveBytesMax = 4096: four records of 28 + 996 bytes fill it exactly.
    await store.save({ entries: makeEntries(1, 4, 1, 996) });
    await assert.rejects(store.save({ entries: makeEntries(5, 4, 1, 997) }), isCode('TOO_LARGE'));
    store = await reopen(store);
    assert.equal(store.lastIndex(), 4);
  });
});

test('pendingBytesMax: saves beyond the queue bound are refused with OVERLOADED, the rest land', async () => {
  const options = { entryBytesMax: 1000, flushBytesMax: 4096, metadataRecordBytesMax: 1024, pendingBytesMax: 4 * 1028 };
  await withStore('pending-bound', options, async (_directory, reopen, store) => {
    const saves = [1, 2, 3, 4, 5].map((index) => store.save({ entries: makeEntries(index, 1, 1, 1000) }));
    const outcomes = await Promise.allSettled(saves);
    assert.deepEqual(
      outcomes.map((outcome) => outcome.status),
      ['fulfilled', 'fulfilled', 'fulfilled', 'fulfilled', 'rejected'],
    );
    const failure = outcomes[4] as PromiseRejectedResult;
    assert.equal((failure.reason as StorageError).code, 'OVERLOADED');
    // The refused save left no trace: the next one must continue at 5, not 6.
    await assert.rejects(store.save({ entries: makeEntries(6, 1, 1, 1000) }), isCode('INVALID_ARGUMENT'));
    await store.save({ entries: makeEntries(5, 1, 1, 1000) });
    store = await reopen(store);
    assert.equal(store.lastIndex(), 5);
  });
});

test('concurrent saves are coalesced into fewer flushes, each resolving once durable', async () => {
  await withStore('group-commit', {}, async (_directory, reopen, store) => {
    const saveCount = 50;
    const saves: Promise<void>[] = [];
    for (let index = 1; index <= saveCount; index++)
      saves.push(store.save({ entries: makeEntries(index, 1, 1), hardState: { term: 1, vote: '', commit: index - 1 } }));
    await Promise.all(saves);
    const stats = store.stats();
    assert.equal(stats.savedCount, saveCount);
    assert.ok(stats.flushCount < saveCount, `flushes ${stats.flushCount} < saves ${saveCount}`);
    store = await reopen(store);
    assert.equal(store.lastIndex(), saveCount);
    assert.equal(store.initialState().hardState.commit, saveCount - 1);
  });
});

test('bootstrap stores the first membership; isEmpty tells a fresh node from a restarted one', async () => {
  await withStore('bootstrap', {}, async (_directory, reopen, store) => {
    const confState = { voters: ['n1', 'n2', 'n3'], learners: ['n4'] };
    await store.bootstrap(confState);
    assert.equal(store.isEmpty(), false);
    await assert.rejects(store.bootstrap(confState), isCode('INVALID_ARGUMENT'));
    store = await reopen(store);
    assert.equal(store.isEmpty(), false);
    assert.deepEqual(store.initialState().confState, confState);
    assert.deepEqual(store.snapshot().metadata.confState, confState);
    await store.save({ confState: { voters: ['n1', 'n2'], learners: [] } });
    store = await reopen(store);
    assert.deepEqual(store.initialState().confState, { voters: ['n1', 'n2'], learners: [] });
  });
});

test('segments roll at segmentBytesMax; compaction across segment boundaries deletes whole old segments', async () => {
  // Each save below is one frame of about 330 bytes (two 128-byte entry records and a
  // hard state record); the first frame of a segment also carries a checkpoint record.
  await withStore('compact', { segmentBytesMax: 1024 }, async (directory, reopen, store) => {
    for (let index = 1; index <= 40; index += 2) {
      const term = 1 + Math.floor(index / 10);
      await store.save({ entries: makeEntries(index, 2, term, 100), hardState: { term, vote: '', commit: index + 1 } });
    }
    const segmentFiles = () => fs.readdirSync(join(directory, 'log')).filter((name) => name.endsWith('.seg'));
    for (const name of segmentFiles()) assert.ok(fs.statSync(join(directory, 'log', name)).size <= 1024, `${name} within segmentBytesMax`);
    const segmentsBefore = store.segmentCount();
    assert.ok(segmentsBefore >= 6, `expected many segments, got ${segmentsBefore}`);
    await assert.rejects(store.compact(20), isCode('INVALID_ARGUMENT'), 'no snapshot covers 20 yet');
    await store.snapshots.writeBytes({ index: 25, term: store.term(25), confState: { voters: ['n1'], learners: [] } }, new Uint8Array([1, 2, 3]));
    await store.compact(20);
    assert.equal(store.firstIndex(), 21);
    assert.throws(() => store.term(19), isCode('COMPACTED'));
    assert.throws(() => store.entries(20, 22, Infinity), isCode('COMPACTED'));
    assert.ok(store.segmentCount() < segmentsBefore, 'old segments deleted');
    assert.equal(segmentFiles().length, store.segmentCount());
    const expected = summary(store.entries(21, 41, Infinity));
    const term20 = store.term(20);
    store = await reopen(store);
    assert.equal(store.firstIndex(), 21);
    assert.equal(store.lastIndex(), 40);
    assert.equal(store.term(20), term20);
    assert.deepEqual(summary(store.entries(21, 41, Infinity)), expected);
    await assert.rejects(store.compact(26), isCode('INVALID_ARGUMENT'), 'beyond the newest snapshot');
    await store.compact(25);
    store = await reopen(store);
    assert.equal(store.firstIndex(), 26);
    await store.save({ entries: makeEntries(41, 1, 5, 100) });
    assert.equal(store.lastIndex(), 41);
  });
});

test('a segment holding a truncated-away suffix is deleted once compaction passes the surviving entries', async () => {
  await withStore('compact-truncated', { segmentBytesMax: 700 }, async (_directory, reopen, store) => {
    for (let index = 1; index <= 12; index += 2) await store.save({ entries: makeEntries(index, 2, 1, 100) });
    await store.save({ entries: makeEntries(3, 2, 2, 100) });
    assert.equal(store.lastIndex(), 4);
    const before = store.segmentCount();
    await store.snapshots.writeBytes({ index: 4, term: 2, confState: { voters: ['n1'], learners: [] } }, new Uint8Array([9]));
    await store.compact(4);
    assert.ok(store.segmentCount() < before, `segments ${store.segmentCount()} < ${before}`);
    store = await reopen(store);
    assert.equal(store.firstIndex(), 5);
    assert.equal(store.lastIndex(), 4);
    assert.equal(store.term(4), 2);
  });
});

test('installing a received snapshot resets the log and shows in initialState and snapshot()', async () => {
  await withStore('install', { segmentBytesMax: 1024 }, async (_directory, reopen, store) => {
    for (let index = 1; index <= 20; index += 2) await store.save({ entries: makeEntries(index, 2, 1, 100), hardState: { term: 1, vote: '', commit: index } });
    const confState = { voters: ['a', 'b', 'c'], learners: [] };
    const metadata = { index: 100, term: 7, confState };
    await assert.rejects(store.save({ snapshot: { metadata, data: new Uint8Array(0) } }), isCode('INVALID_ARGUMENT'), 'no data and not in the store');
    await store.save({ snapshot: { metadata, data: new Uint8Array([5, 6, 7]) }, hardState: { term: 7, vote: '', commit: 100 } });
    const check = (current: DurableStorage): void => {
      assert.equal(current.firstIndex(), 101);
      assert.equal(current.lastIndex(), 100);
      assert.equal(current.term(100), 7);
      assert.deepEqual(current.initialState(), { hardState: { term: 7, vote: '', commit: 100 }, confState });
      assert.deepEqual(current.snapshot().metadata, metadata);
      assert.equal(current.snapshots.latest()?.dataBytes, 3);
    };
    check(store);
    assert.equal(store.segmentCount(), 1, 'older segments deleted');
    store = await reopen(store);
    check(store);
    await assert.rejects(
      store.save({ snapshot: { metadata: { ...metadata, index: 90 }, data: new Uint8Array([1]) } }),
      isCode('INVALID_ARGUMENT'),
      'stale snapshot',
    );
    await store.save({ entries: makeEntries(101, 3, 7) });
    store = await reopen(store);
    assert.equal(store.lastIndex(), 103);
    // A snapshot streamed into the store first can be installed with empty data.
    const writer = await store.snapshots.begin({ index: 200, term: 8, confState }, { addresses: { a: '127.0.0.1:1' } });
    await writer.write(new Uint8Array([1, 2]));
    await writer.commit();
    await store.save({ snapshot: { metadata: { index: 200, term: 8, confState }, data: new Uint8Array(0) } });
    store = await reopen(store);
    assert.equal(store.lastIndex(), 200);
    assert.deepEqual(store.snapshots.latest()?.context, { addresses: { a: '127.0.0.1:1' } });
  });
});

test('a second open of the same directory is refused with LOCKED, in this process and another', async () => {
  await withStore('lock', {}, async (directory, _reopen, store) => {
    await assert.rejects(DurableStorage.open(directory), isCode('LOCKED'));
    const { spawnSync } = await import('node:child_process');
    const moduleUrl = new URL('../../src/storage/durable-storage.ts', import.meta.url).href;
    const script = [
      `import('${moduleUrl}')`,
      `.then(m => m.DurableStorage.open(${JSON.stringify(directory)}))`,
      `.then(() => process.exit(0), (e) => { console.log(e.code + ': ' + e.message); process.exit(3); })`,
    ].join('');
    const child = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(child.status, 3, child.stderr);
    assert.match(child.stdout, /^LOCKED: data directory .* is locked by running process \d+/);
    await store.save({ entries: makeEntries(1, 1, 1) });
  });
});

test('a lock file left by a dead process is no obstacle; close releases the lock (the file stays)', async () => {
  const directory = makeTemporaryDirectory('stale-lock');
  try {
    fs.writeFileSync(join(directory, 'LOCK'), JSON.stringify({ pid: 2 ** 22 + 12345, startTime: '1' }));
    const store = await DurableStorage.open(directory);
    await assert.rejects(DurableStorage.open(directory), isCode('LOCKED'));
    await store.close();
    // The file is never unlinked (a waiter could lock the unlinked inode); the kernel lock is what counts.
    assert.equal(fs.existsSync(join(directory, 'LOCK')), true);
    const again = await DurableStorage.open(directory);
    await again.close();
  } finally {
    removeDirectory(directory);
  }
});

test('after close, saves and reads fail with CLOSED', async () => {
  const directory = makeTemporaryDirectory('closed');
  try {
    const store = await DurableStorage.open(directory);
    const pending = store.save({ entries: makeEntries(1, 1, 1) });
    await store.close();
    await pending;
    await assert.rejects(store.save({ entries: makeEntries(2, 1, 1) }), isCode('CLOSED'));
    assert.throws(() => store.lastIndex(), isCode('CLOSED'));
    const again = await DurableStorage.open(directory);
    assert.equal(again.lastIndex(), 1);
    await again.close();
  } finally {
    removeDirectory(directory);
  }
});

test('invalid options are refused', async () => {
  const directory = makeTemporaryDirectory('options');
  try {
    await assert.rejects(DurableStorage.open(directory, { segmentBytesMax: 0 }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(DurableStorage.open(directory, { entryBytesMax: 10_000, flushBytesMax: 5_000 }), isCode('INVALID_ARGUMENT'));
  } finally {
    removeDirectory(directory);
  }
});

test('a segment fills to exactly segmentBytesMax and the next frame starts a new segment', async () => {
  const segmentBytesMax = 2048;
  await withStore('segment-bound', { segmentBytesMax }, async (directory, reopen, store) => {
    const checkpointBytes = encodeMetadataRecord(RecordKind.checkpoint, {
      hardState: null,
      confState: null,
      compactIndex: 0,
      compactTerm: 0,
      installedSnapshot: null,
    }).length;
    const firstFileBytes = 24 + 16 + checkpointBytes + 28 + 100;
    const fillingDataBytes = segmentBytesMax - firstFileBytes - 16 - 28;
    await store.save({ entries: makeEntries(1, 1, 1, 100) });
    await store.save({ entries: makeEntries(2, 1, 1, fillingDataBytes) });
    const firstSegment = join(directory, 'log', `${'1'.padStart(20, '0')}.seg`);
    assert.equal(fs.statSync(firstSegment).size, segmentBytesMax);
    assert.equal(store.segmentCount(), 1);
    await store.save({ entries: makeEntries(3, 1, 1, 1) });
    assert.equal(store.segmentCount(), 2);
    assert.equal(fs.statSync(firstSegment).size, segmentBytesMax);
    store = await reopen(store);
    assert.equal(store.segmentCount(), 2);
    assert.deepEqual(
      summary(store.entries(1, 4, Infinity)),
      summary([...makeEntries(1, 1, 1, 100), ...makeEntries(2, 1, 1, fillingDataBytes), ...makeEntries(3, 1, 1, 1)]),
    );
  });
});

/** Flips one byte of entry 3's data in the first segment (entries 1-3 of 64 bytes each, entry 3 last). */
function damageThirdEntry(directory: string): string {
  const path = join(directory, 'log', `${'1'.padStart(20, '0')}.seg`);
  const bytes = fs.readFileSync(path);
  const offset = bytes.length - 10;
  const handle = fs.openSync(path, 'r+');
  fs.writeSync(handle, Buffer.from([bytes[offset]! ^ 0xff]), 0, 1, offset);
  fs.closeSync(handle);
  return path;
}

test('a record damaged after open is caught on read: CORRUPT naming file and offset, store marked unhealthy', async () => {
  await withStore('read-corrupt', {}, async (directory, reopen, store) => {
    await store.save({ entries: makeEntries(1, 3, 1, 64) });
    // Reopened, the store holds none of them in memory: every read goes to the segment.
    store = await reopen(store);
    const path = damageThirdEntry(directory);
    assert.equal(store.entries(1, 3, Infinity).length, 2, 'undamaged entries still read');
    assert.throws(
      () => store.entries(3, 4, Infinity),
      (error: unknown) => {
        assert.ok(isCode('CORRUPT')(error), String(error));
        assert.match((error as Error).message, new RegExp(`${path} is corrupt at byte offset \\d+: entry 3`));
        return true;
      },
    );
    assert.equal(store.healthy, false);
    assert.equal(store.lastError?.code, 'CORRUPT');
  });
});

test('entries saved by this process are read back from memory, exactly as saved; after a reopen they come from the disk and are checked', async () => {
  await withStore('recent-entries', {}, async (directory, reopen, store) => {
    const saved = makeEntries(1, 3, 1, 64);
    await store.save({ entries: saved });
    damageThirdEntry(directory);
    assert.deepEqual(summary(store.entries(1, 4, Infinity)), summary(saved), 'held in memory: the damage on disk is not read');
    assert.equal(store.healthy, true);
    // Reopened, the store reads the disk: the damaged frame, last in the log, is cut off as a torn tail.
    store = await reopen(store);
    assert.equal(store.lastIndex(), 0);
    assert.equal(store.recovery.repairs.length, 1);
  });
});

test('with recentEntriesBytesMax 0 nothing is held: a record damaged after its save is caught on the next read', async () => {
  await withStore('recent-entries-off', { recentEntriesBytesMax: 0 }, async (directory, _reopen, store) => {
    await store.save({ entries: makeEntries(1, 3, 1, 64) });
    damageThirdEntry(directory);
    assert.equal(store.entries(1, 3, Infinity).length, 2);
    assert.throws(() => store.entries(3, 4, Infinity), isCode('CORRUPT'));
    assert.equal(store.healthy, false);
  });
});

test('a suffix replaced by a newer term is never read from memory as it was', async () => {
  const options = { recentEntriesBytesMax: 4 * (1024 + 128) };
  await withStore('recent-entries-suffix', options, async (_directory, reopen, store) => {
    const first = makeEntries(1, 6, 1, 1024);
    await store.save({ entries: first });
    const replacement = makeEntries(4, 2, 2, 1024);
    await store.save({ entries: replacement, hardState: { term: 2, vote: '', commit: 0 } });
    const expected = summary([...first.slice(0, 3), ...replacement]);
    assert.deepEqual(summary(store.entries(1, 6, Infinity)), expected);
    assert.throws(() => store.entries(6, 7, Infinity), isCode('UNAVAILABLE'), 'the replaced entry 6 is gone, from memory too');
    store = await reopen(store);
    assert.deepEqual(summary(store.entries(1, 6, Infinity)), expected);
  });
});

test('operating-system errors map to DISK_FULL or IO_ERROR with the cause kept', async () => {
  const { storageErrorFromSystem } = await import('../../src/storage/errors.js');
  const full = storageErrorFromSystem(Object.assign(new Error('no space'), { code: 'ENOSPC' }), 'writing');
  assert.equal(full.code, 'DISK_FULL');
  const quota = storageErrorFromSystem(Object.assign(new Error('quota'), { code: 'EDQUOT' }), 'writing');
  assert.equal(quota.code, 'DISK_FULL');
  const failure = Object.assign(new Error('bad sector'), { code: 'EIO' });
  const io = storageErrorFromSystem(failure, 'syncing');
  assert.equal(io.code, 'IO_ERROR');
  assert.equal(io.cause, failure);
  assert.match(io.message, /I\/O error while syncing: bad sector/);
});

test('save() leaves the event loop free while the disk syncs', async () => {
  await withStore('event-loop', {}, async (_directory, _reopen, store) => {
    let turns = 0;
    let saving = true;
    const spin = (): void => {
      turns++;
      if (saving) setImmediate(spin);
    };
    setImmediate(spin);
    await store.save({ entries: makeEntries(1, 1, 1) });
    saving = false;
    assert.ok(turns >= 1, `event loop turned ${turns} times during the save`);
  });
});

test('a lock file naming this very process but not held by it (a restarted container) is taken over', async () => {
  const directory = makeTemporaryDirectory('own-pid-lock');
  try {
    fs.writeFileSync(join(directory, 'LOCK'), JSON.stringify({ pid: process.pid, startTime: null }));
    const store = await DurableStorage.open(directory);
    await assert.rejects(DurableStorage.open(directory), isCode('LOCKED'));
    await store.close();
  } finally {
    removeDirectory(directory);
  }
});

test('hard state, membership and an installed snapshot survive deletion of the segments that first held them', async () => {
  await withStore('checkpoint', { segmentBytesMax: 1024 }, async (directory, reopen, store) => {
    const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };
    await store.bootstrap(confState);
    const metadata = { index: 10, term: 2, confState };
    await store.save({ snapshot: { metadata, data: new Uint8Array([1]) }, hardState: { term: 2, vote: 'n2', commit: 10 } });
    for (let index = 11; index <= 60; index += 2) await store.save({ entries: makeEntries(index, 2, 2, 100) });
    assert.ok(store.segmentCount() >= 5);
    await store.snapshots.writeBytes({ index: 50, term: 2, confState }, new Uint8Array([2]));
    await store.compact(50);
    for (const sequence of [1, 2, 3]) {
      assert.equal(fs.existsSync(join(directory, 'log', `${String(sequence).padStart(20, '0')}.seg`)), false, `segment ${sequence} deleted`);
    }
    store = await reopen(store);
    assert.deepEqual(store.initialState(), { hardState: { term: 2, vote: 'n2', commit: 10 }, confState });
    assert.equal(store.firstIndex(), 51);
    assert.equal(store.lastIndex(), 60);
    assert.equal(store.term(50), 2);
    assert.deepEqual(store.snapshot().metadata, { index: 50, term: 2, confState });
  });
});

test('opening a data directory that cannot be created gives a clear IO_ERROR naming it', async () => {
  const directory = makeTemporaryDirectory('not-a-directory');
  try {
    const file = join(directory, 'plain-file');
    fs.writeFileSync(file, 'x');
    await assert.rejects(DurableStorage.open(file), (error: unknown) => isCode('IO_ERROR')(error) && (error as Error).message.includes(file));
    assert.equal(fs.readFileSync(file, 'utf8'), 'x');
  } finally {
    removeDirectory(directory);
  }
});

test('segments written under a larger segmentBytesMax still open after the option is lowered', async () => {
  const directory = makeTemporaryDirectory('lowered-segment-size');
  try {
    let store = await DurableStorage.open(directory, { segmentBytesMax: 1024 * 1024 });
    await store.save({ entries: makeEntries(1, 100, 1, 1000) });
    await store.close();
    store = await DurableStorage.open(directory, { segmentBytesMax: 4096, flushBytesMax: 8192, entryBytesMax: 2048, metadataRecordBytesMax: 4096 });
    assert.equal(store.lastIndex(), 100);
    await store.save({ entries: makeEntries(101, 1, 1, 1000) });
    assert.equal(store.segmentCount(), 2);
    await store.close();
  } finally {
    removeDirectory(directory);
  }
});

test('a received snapshot whose install record never became durable is discarded on open', async () => {
  await withStore('pending-install', {}, async (_directory, reopen, store) => {
    const confState = { voters: ['n1'], learners: [] };
    await store.save({ entries: makeEntries(1, 5, 1), hardState: { term: 1, vote: '', commit: 4 } });
    await store.snapshots.writeBytes({ index: 3, term: 1, confState }, new Uint8Array([3]));
    await store.snapshots.writeBytes({ index: 90, term: 4, confState }, new Uint8Array([90]));
    store = await reopen(store);
    assert.deepEqual(store.recovery.discardedSnapshots, [{ index: 90, term: 4, confState }]);
    assert.deepEqual(
      store.snapshots.list().map((info) => info.metadata.index),
      [3],
    );
    assert.deepEqual(store.snapshot().metadata, { index: 3, term: 1, confState });
    await store.snapshots.writeBytes({ index: 90, term: 4, confState }, new Uint8Array([90]));
    await store.save({ snapshot: { metadata: { index: 90, term: 4, confState }, data: new Uint8Array(0) }, hardState: { term: 4, vote: '', commit: 90 } });
    store = await reopen(store);
    assert.deepEqual(store.recovery.discardedSnapshots, []);
    assert.equal(store.snapshots.latest()?.metadata.index, 90);
    assert.equal(store.lastIndex(), 90);
  });
});

test('frames just under and just over the inline-write bound are written and read back alike', async () => {
  const { inlineWriteBytesMax } = await import('../../src/storage/segment-files.js');
  await withStore('inline-bound', {}, async (_directory, reopen, store) => {
    // Frame overhead is small and fixed: sweeping the entry size across the bound puts
    // some frames on the event-loop write path and the rest on the thread-pool path.
    const written: Entry[] = [];
    let index = 1;
    for (let dataBytes = inlineWriteBytesMax - 1024; dataBytes <= inlineWriteBytesMax + 1024; dataBytes += 128) {
      const entries = makeEntries(index, 1, 1, dataBytes);
      await store.save({ entries });
      written.push(...entries);
      index += 1;
    }
    assert.deepEqual(summary(store.entries(1, index, Number.MAX_SAFE_INTEGER)), summary(written));
    store = await reopen(store);
    assert.deepEqual(summary(store.entries(1, index, Number.MAX_SAFE_INTEGER)), summary(written));
  });
});

test('a snapshot the log reaches at its term survives a crash that left the stored commit behind it', async () => {
  await withStore('snapshot-ahead-of-commit', {}, async (_directory, reopen, first) => {
    const confState = { voters: ['a'], learners: [] };
    // The commit index is saved lazily: the snapshot of applied entry 10 is ahead of it.
    await first.save({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: 'a', commit: 9 }, confState });
    const writer = await first.snapshots.begin({ index: 10, term: 1, confState }, {});
    await writer.write(new Uint8Array([1, 2, 3]));
    await writer.commit();
    await first.compact(5);
    const store = await reopen(first);
    assert.equal(store.snapshots.latest()?.metadata.index, 10, 'the newest snapshot is kept');
    assert.deepEqual(store.recovery.discardedSnapshots, []);
    assert.equal(store.snapshot().metadata.index, 10);
    assert.equal(store.firstIndex(), 6);
  });
});

test('a received snapshot whose install never became durable is discarded at open, and reported', async () => {
  await withStore('snapshot-not-installed', {}, async (_directory, reopen, first) => {
    const confState = { voters: ['a'], learners: [] };
    await first.save({ entries: makeEntries(1, 10, 1), hardState: { term: 2, vote: 'a', commit: 5 }, confState });
    for (const metadata of [
      { index: 8, term: 2 },
      { index: 20, term: 2 },
    ]) {
      // 8/2 conflicts with the log's 8/1 (uncommitted here); 20 is beyond the log.
      const writer = await first.snapshots.begin({ ...metadata, confState }, {});
      await writer.write(new Uint8Array([9]));
      await writer.commit();
    }
    const store = await reopen(first);
    assert.deepEqual(store.recovery.discardedSnapshots.map((metadata) => `${metadata.index}/${metadata.term}`).sort(), ['20/2', '8/2']);
    assert.equal(store.snapshots.latest(), undefined);
    assert.equal(store.lastIndex(), 10);
  });
});

test('retention keeps the snapshot the log is compacted behind when received snapshots fill the store (sim finding R2)', async () => {
  await withStore('retention-guard', {}, async (_directory, reopen, first) => {
    const confState = { voters: ['a', 'b'], learners: [] };
    await first.save({ entries: makeEntries(1, 10, 1), hardState: { term: 1, vote: 'a', commit: 8 }, confState });
    const own = await first.snapshots.begin({ index: 6, term: 1, confState }, {});
    await own.write(new Uint8Array([6]));
    await own.commit();
    await first.compact(4);
    // Two snapshots from successive leaders, stored but never installed through the log.
    for (const metadata of [
      { index: 12, term: 2 },
      { index: 11, term: 3 },
    ]) {
      const writer = await first.snapshots.begin({ ...metadata, confState }, {});
      await writer.write(new Uint8Array([9]));
      await writer.commit();
    }
    assert.equal(first.snapshots.find(6, 1)?.metadata.index, 6, 'the snapshot covering the compacted log is kept beside the retained ones');
    const store = await reopen(first);
    assert.deepEqual(store.recovery.discardedSnapshots.map((metadata) => metadata.index).sort(), [11, 12]);
    assert.equal(store.snapshots.latest()?.metadata.index, 6, 'after the crash the store still has a snapshot for its compacted prefix');
    assert.equal(store.snapshot().metadata.index, 6);
  });
});
