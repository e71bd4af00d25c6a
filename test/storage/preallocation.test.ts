/**
 * Preallocated segments (segment-files.ts): the active segment is kept zero-filled ahead
 * of its frames, replay takes that tail of zeros for room (no repair, nothing lost, the
 * room kept), a torn frame inside it is still cut off, and a rolled segment is cut back to
 * its frames first.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { makeEntries, makeTemporaryDirectory, removeDirectory, summary } from './helpers.js';

const preallocationBytes = 64 * 1024;

function segmentPath(directory: string, sequence: number): string {
  return join(directory, 'log', `${String(sequence).padStart(20, '0')}.seg`);
}

async function withDirectory(label: string, body: (directory: string) => Promise<void>): Promise<void> {
  const directory = makeTemporaryDirectory(label);
  try {
    await body(directory);
  } finally {
    removeDirectory(directory);
  }
}

/** The entries 1..count as saved one per save (entry data depends on the call that made it). */
function savedOneByOne(count: number, dataBytes: number): string[] {
  return summary(Array.from({ length: count }, (_, offset) => makeEntries(offset + 1, 1, 1, dataBytes)).flat());
}

/** Saves until the background zero fill has run (it starts after a flush). */
async function settledStore(directory: string, entryCount: number): Promise<DurableStorage> {
  const store = await DurableStorage.open(directory, { preallocationBytes });
  for (let index = 1; index <= entryCount; index++) await store.save({ entries: makeEntries(index, 1, 1, 100) });
  await store.close();
  return DurableStorage.open(directory, { preallocationBytes });
}

test('the active segment is zero-filled ahead of its frames; reopening keeps every entry and the room, with no repair', async () => {
  await withDirectory('prealloc-reopen', async (directory) => {
    const store = await settledStore(directory, 5);
    try {
      const stats = store.stats();
      assert.equal(fs.statSync(segmentPath(directory, 1)).size, stats.activeSegmentFileBytes);
      assert.ok(
        stats.activeSegmentFileBytes >= stats.activeSegmentBytes + preallocationBytes / 2,
        `file ${stats.activeSegmentFileBytes} bytes, frames ${stats.activeSegmentBytes}`,
      );
      assert.deepEqual(store.recovery.repairs, []);
      assert.deepEqual(summary(store.entries(1, 6, Infinity)), savedOneByOne(5, 100));
      await store.save({ entries: makeEntries(6, 1, 1, 100) });
    } finally {
      await store.close();
    }
    const reopened = await DurableStorage.open(directory, { preallocationBytes });
    try {
      assert.deepEqual(reopened.recovery.repairs, []);
      assert.equal(reopened.lastIndex(), 6);
    } finally {
      await reopened.close();
    }
  });
});

test('a torn frame written into the preallocated room is cut off as a torn tail', async () => {
  await withDirectory('prealloc-torn', async (directory) => {
    const store = await settledStore(directory, 3);
    const framesEnd = store.stats().activeSegmentBytes;
    await store.close();
    const descriptor = fs.openSync(segmentPath(directory, 1), 'r+');
    fs.writeSync(descriptor, Buffer.from('half a frame'), 0, 12, framesEnd);
    fs.closeSync(descriptor);
    const reopened = await DurableStorage.open(directory, { preallocationBytes });
    try {
      assert.equal(reopened.recovery.repairs.length, 1);
      assert.equal(reopened.recovery.repairs[0]!.offset, framesEnd);
      assert.equal(reopened.lastIndex(), 3);
    } finally {
      await reopened.close();
    }
  });
});

test('a segment is cut back to its frames before the next one starts, so replay takes both', async () => {
  await withDirectory('prealloc-roll', async (directory) => {
    const options = { preallocationBytes, segmentBytesMax: 4 * preallocationBytes };
    const store = await DurableStorage.open(directory, options);
    const entryCount = 40;
    try {
      for (let index = 1; index <= entryCount; index++) await store.save({ entries: makeEntries(index, 1, 1, 8 * 1024) });
      assert.ok(store.segmentCount() >= 2, `${store.segmentCount()} segments`);
      const first = fs.readFileSync(segmentPath(directory, 1));
      assert.notEqual(first[first.length - 1], 0, 'the rolled segment ends with its last frame');
    } finally {
      await store.close();
    }
    const reopened = await DurableStorage.open(directory, options);
    try {
      assert.deepEqual(reopened.recovery.repairs, []);
      assert.deepEqual(summary(reopened.entries(1, entryCount + 1, Infinity)), savedOneByOne(entryCount, 8 * 1024));
    } finally {
      await reopened.close();
    }
  });
});

test('zeros after the last frame of a rolled segment are refused as corruption', async () => {
  await withDirectory('prealloc-rolled-zeros', async (directory) => {
    const options = { preallocationBytes, segmentBytesMax: 4 * preallocationBytes };
    const store = await DurableStorage.open(directory, options);
    for (let index = 1; index <= 40; index++) await store.save({ entries: makeEntries(index, 1, 1, 8 * 1024) });
    await store.close();
    fs.appendFileSync(segmentPath(directory, 1), Buffer.alloc(4096));
    await assert.rejects(DurableStorage.open(directory, options), /is corrupt at byte offset \d+: zeros after the last frame of a rolled segment/);
  });
});

test('the zero fill stops at segmentBytesMax: the room never runs past the segment bound', async () => {
  await withDirectory('prealloc-bound', async (directory) => {
    // The bound is below one preallocation: the fill can only go up to it.
    const segmentBytesMax = preallocationBytes / 2;
    const open = (): Promise<DurableStorage> => DurableStorage.open(directory, { preallocationBytes, segmentBytesMax });
    const store = await open();
    for (let index = 1; index <= 3; index++) await store.save({ entries: makeEntries(index, 1, 1, 100) });
    await store.close();
    const reopened = await open();
    try {
      const stats = reopened.stats();
      assert.equal(stats.activeSegmentFileBytes, segmentBytesMax, 'filled exactly up to the bound');
      assert.equal(fs.statSync(segmentPath(directory, 1)).size, segmentBytesMax);
      assert.deepEqual(reopened.recovery.repairs, []);
      assert.deepEqual(summary(reopened.entries(1, 4, Infinity)), savedOneByOne(3, 100));
    } finally {
      await reopened.close();
    }
  });
});
