import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { SnapshotStore, type SnapshotStoreOptions } from '../../src/storage/snapshot-store.js';
import { StorageError } from '../../src/storage/errors.js';
import { crc32c, crc32cUpdate } from '../../src/storage/crc32c.js';
import { entryData, makeTemporaryDirectory, removeDirectory } from './helpers.js';

const storeOptions: SnapshotStoreOptions = { retainCount: 2, snapshotBytesMax: 64 * 1024 * 1024, contextBytesMax: 1024 };
const threeVoters = { voters: ['n1', 'n2', 'n3'], learners: [] };

async function withSnapshots(label: string, options: SnapshotStoreOptions, body: (directory: string, store: SnapshotStore) => Promise<void>): Promise<void> {
  const directory = makeTemporaryDirectory(label);
  try {
    await body(directory, await SnapshotStore.open(directory, options));
  } finally {
    removeDirectory(directory);
  }
}

function isCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => error instanceof StorageError && error.code === code;
}

async function readAll(store: SnapshotStore, index: number, term: number): Promise<Buffer> {
  const info = store.find(index, term);
  assert.ok(info !== undefined);
  const handle = await store.openData(info);
  try {
    const chunks: Buffer[] = [];
    for await (const chunk of handle.createReadStream()) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  } finally {
    await handle.close().catch(() => undefined);
  }
}

test('a snapshot streamed in chunks is stored whole with its metadata and context, and streams back', async () => {
  await withSnapshots('snapshot-stream', storeOptions, async (directory, store) => {
    const writer = await store.begin({ index: 10, term: 2, confState: threeVoters }, { members: { n1: '127.0.0.1:4002' } });
    const parts = [entryData(1, 1, 1000), entryData(2, 1, 5000), entryData(3, 1, 1)];
    for (const part of parts) await writer.write(part);
    const info = await writer.commit();
    const data = Buffer.concat(parts);
    assert.deepEqual(info.metadata, { index: 10, term: 2, confState: threeVoters });
    assert.deepEqual(info.context, { members: { n1: '127.0.0.1:4002' } });
    assert.equal(info.dataBytes, data.length);
    assert.equal(info.dataCrc32c, crc32c(data));
    assert.deepEqual(await readAll(store, 10, 2), data);
    const reopened = await SnapshotStore.open(directory, storeOptions);
    assert.deepEqual(reopened.latest(), info);
    await reopened.verify(info);
  });
});

test('a producer may write the data file itself (e.g. a SQLite backup) before commit', async () => {
  await withSnapshots('snapshot-path', storeOptions, async (_directory, store) => {
    const writer = await store.begin({ index: 5, term: 1, confState: threeVoters });
    const data = Buffer.from(entryData(5, 1, 12345));
    fs.writeFileSync(writer.dataPath, data);
    const info = await writer.commit();
    assert.equal(info.dataBytes, data.length);
    assert.deepEqual(await readAll(store, 5, 1), data);
  });
});

test('the newest retainCount snapshots are kept; an open handle keeps streaming a removed one', async () => {
  await withSnapshots('snapshot-retain', storeOptions, async (directory, store) => {
    await store.writeBytes({ index: 1, term: 1, confState: threeVoters }, entryData(1, 1, 100));
    const oldest = store.find(1, 1)!;
    const handle = await store.openData(oldest);
    await store.writeBytes({ index: 3, term: 1, confState: threeVoters }, entryData(3, 1, 100));
    await store.writeBytes({ index: 2, term: 1, confState: threeVoters }, entryData(2, 1, 100));
    await store.writeBytes({ index: 4, term: 2, confState: threeVoters }, entryData(4, 2, 100));
    assert.deepEqual(
      store.list().map((info) => info.metadata.index),
      [4, 3],
    );
    const onDisk = fs.readdirSync(directory).sort();
    assert.deepEqual(onDisk, ['snapshot-00000000000000000003-00000000000000000001', 'snapshot-00000000000000000004-00000000000000000002']);
    const buffer = Buffer.alloc(100);
    await handle.read(buffer, 0, 100, 0);
    await handle.close();
    assert.deepEqual(buffer, Buffer.from(entryData(1, 1, 100)));
    await assert.rejects(store.openData(oldest), isCode('NOT_FOUND'));
    const reopened = await SnapshotStore.open(directory, storeOptions);
    assert.deepEqual(
      reopened.list().map((info) => info.metadata.index),
      [4, 3],
    );
  });
});

test('unfinished writes are removed on open; an aborted writer leaves nothing', async () => {
  await withSnapshots('snapshot-tmp', storeOptions, async (directory, store) => {
    const writer = await store.begin({ index: 7, term: 1, confState: threeVoters });
    await writer.write(new Uint8Array(10));
    await writer.abort();
    assert.deepEqual(fs.readdirSync(directory), []);
    const unfinished = await store.begin({ index: 8, term: 1, confState: threeVoters });
    await unfinished.write(new Uint8Array(10));
    assert.equal(fs.readdirSync(directory).length, 1);
    const reopened = await SnapshotStore.open(directory, storeOptions);
    assert.deepEqual(fs.readdirSync(directory), []);
    assert.equal(reopened.latest(), undefined);
  });
});

test('writing the same index and term again keeps the durable snapshot', async () => {
  await withSnapshots('snapshot-same', storeOptions, async (directory, store) => {
    const first = await store.writeBytes({ index: 9, term: 3, confState: threeVoters }, entryData(9, 3, 50));
    const second = await store.writeBytes({ index: 9, term: 3, confState: threeVoters }, entryData(9, 3, 60));
    assert.deepEqual(second, first);
    assert.equal(fs.readdirSync(directory).length, 1);
  });
});

test("rewriteMembership replaces a snapshot's membership and context atomically, keeping its data; a reopen reads the new ones", async () => {
  await withSnapshots('snapshot-rewrite', storeOptions, async (directory, store) => {
    const data = entryData(9, 3, 50);
    await store.writeBytes({ index: 9, term: 3, confState: threeVoters }, data, { n1: 'old' });
    const oneVoter = { voters: ['n1'], learners: ['n4'] };
    const rewritten = await store.rewriteMembership(9, 3, oneVoter, { n1: 'new' });
    assert.deepEqual(rewritten.metadata, { index: 9, term: 3, confState: oneVoter });
    assert.deepEqual(store.find(9, 3)?.context, { n1: 'new' });
    assert.deepEqual(await readAll(store, 9, 3), Buffer.from(data));
    const reopened = await SnapshotStore.open(directory, storeOptions);
    assert.deepEqual(reopened.latest()?.metadata.confState, oneVoter);
    assert.deepEqual(reopened.latest()?.context, { n1: 'new' });
    await reopened.verify(reopened.latest()!);
    // A rewrite interrupted before its rename leaves the old metadata and a stray file that changes nothing.
    fs.writeFileSync(join(store.find(9, 3)!.dataPath, '..', 'meta.json.rewrite'), '{"torn');
    assert.deepEqual((await SnapshotStore.open(directory, storeOptions)).latest()?.metadata.confState, oneVoter);
    await store.rewriteMembership(9, 3, threeVoters, null);
    assert.deepEqual((await SnapshotStore.open(directory, storeOptions)).latest()?.metadata.confState, threeVoters);
    await assert.rejects(store.rewriteMembership(8, 3, threeVoters, null), isCode('NOT_FOUND'));
    await assert.rejects(store.rewriteMembership(9, 3, threeVoters, 'x'.repeat(2048)), isCode('TOO_LARGE'));
  });
});

test('snapshotBytesMax is accepted exactly and refused one byte over, by write and by direct file', async () => {
  const options = { ...storeOptions, snapshotBytesMax: 4096 };
  await withSnapshots('snapshot-bound', options, async (directory, store) => {
    await store.writeBytes({ index: 1, term: 1, confState: threeVoters }, new Uint8Array(4096));
    await assert.rejects(store.writeBytes({ index: 2, term: 1, confState: threeVoters }, new Uint8Array(4097)), isCode('TOO_LARGE'));
    const writer = await store.begin({ index: 3, term: 1, confState: threeVoters });
    fs.writeFileSync(writer.dataPath, new Uint8Array(4097));
    await assert.rejects(writer.commit(), isCode('TOO_LARGE'));
    assert.deepEqual(
      store.list().map((info) => info.metadata.index),
      [1],
    );
    assert.equal(fs.readdirSync(directory).length, 1);
  });
});

test('bad metadata and oversized or non-JSON context are refused', async () => {
  await withSnapshots('snapshot-bad', storeOptions, async (directory, store) => {
    await assert.rejects(store.begin({ index: 0, term: 1, confState: threeVoters }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.begin({ index: 1, term: 0.5, confState: threeVoters }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.begin({ index: 1, term: 1, confState: { voters: 'n1' } as never }), isCode('INVALID_ARGUMENT'));
    await assert.rejects(store.begin({ index: 1, term: 1, confState: threeVoters }, { text: 'x'.repeat(2000) }), isCode('TOO_LARGE'));
    await assert.rejects(
      store.begin({ index: 1, term: 1, confState: threeVoters }, () => 1),
      isCode('TOO_LARGE'),
    );
    assert.deepEqual(fs.readdirSync(directory), []);
  });
});

test('contextBytesMax: a context of exactly the bound is stored, one byte over is TOO_LARGE', async () => {
  await withSnapshots('snapshot-context-bound', storeOptions, async (directory, store) => {
    // JSON {"text":"..."} is the text plus 11 bytes.
    const atBound = { text: 'x'.repeat(storeOptions.contextBytesMax - 11) };
    assert.equal(Buffer.byteLength(JSON.stringify(atBound)), storeOptions.contextBytesMax);
    const overBound = { text: 'x'.repeat(storeOptions.contextBytesMax - 10) };
    await assert.rejects(store.begin({ index: 2, term: 1, confState: threeVoters }, overBound), isCode('TOO_LARGE'));
    assert.deepEqual(fs.readdirSync(directory), []);
    const writer = await store.begin({ index: 1, term: 1, confState: threeVoters }, atBound);
    await writer.write(Buffer.from('data'));
    const info = await writer.commit();
    assert.deepEqual(info.context, atBound);
    assert.deepEqual((await SnapshotStore.open(directory, storeOptions)).find(1, 1)?.context, atBound);
  });
});

test('damaged snapshot files are reported as CORRUPT naming the file', async () => {
  await withSnapshots('snapshot-corrupt', storeOptions, async (directory, store) => {
    const info = await store.writeBytes({ index: 4, term: 1, confState: threeVoters }, entryData(4, 1, 1000));
    const bytes = fs.readFileSync(info.dataPath);
    bytes[500] = bytes[500]! ^ 0x10;
    fs.writeFileSync(info.dataPath, bytes);
    await assert.rejects(store.verify(info), (error: unknown) => isCode('CORRUPT')(error) && (error as Error).message.includes(info.dataPath));
    fs.writeFileSync(info.dataPath, bytes.subarray(0, 999));
    await assert.rejects(
      SnapshotStore.open(directory, storeOptions),
      (error: unknown) => isCode('CORRUPT')(error) && (error as Error).message.includes(info.dataPath),
    );
    fs.writeFileSync(join(info.dataPath, '..', 'meta.json'), '{"index":');
    await assert.rejects(
      SnapshotStore.open(directory, storeOptions),
      (error: unknown) => isCode('CORRUPT')(error) && (error as Error).message.includes('meta.json'),
    );
  });
});

test('a large snapshot is written and read back in bounded chunks', async () => {
  await withSnapshots('snapshot-large', { ...storeOptions, snapshotBytesMax: 32 * 1024 * 1024 }, async (_directory, store) => {
    const chunk = Buffer.from(entryData(77, 1, 1024 * 1024));
    const chunkCount = 24;
    const writer = await store.begin({ index: 77, term: 1, confState: threeVoters });
    let expectedCrc = 0;
    for (let chunkNumber = 0; chunkNumber < chunkCount; chunkNumber++) {
      chunk[0] = chunkNumber;
      expectedCrc = crc32cUpdate(expectedCrc, chunk);
      await writer.write(chunk);
    }
    const info = await writer.commit();
    assert.equal(info.dataBytes, chunkCount * chunk.length);
    assert.equal(info.dataCrc32c, expectedCrc);
    const handle = await store.openData(info);
    let readCrc = 0;
    let readBytes = 0;
    for await (const piece of handle.createReadStream({ highWaterMark: 256 * 1024 })) {
      assert.ok((piece as Buffer).length <= 256 * 1024);
      readCrc = crc32cUpdate(readCrc, piece as Buffer);
      readBytes += (piece as Buffer).length;
    }
    assert.equal(readBytes, info.dataBytes);
    assert.equal(readCrc, expectedCrc);
  });
});
