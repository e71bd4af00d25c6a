/**
 * Damage at every region of the log files: a torn tail (the end of the last segment)
 * is cut off and reported; damage anywhere else, or damage followed by a valid frame,
 * makes open() fail with CORRUPT naming the file and byte offset, changing nothing.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { StorageError } from '../../src/storage/errors.js';
import type { Entry } from '../../src/raft/types.js';
import { scanSegment } from '../../src/storage/segment-scan.js';
import { makeEntries, makeTemporaryDirectory, removeDirectory, summary } from './helpers.js';

const storeOptions = { segmentBytesMax: 1024 };
const pristineSaveCount = 9;
let pristine = '';
let workspace = '';
let segmentNames: string[] = [];
/** Per segment: frame start offsets and the number of saves completed by the end of each frame. */
let segmentFrames: { offset: number; end: number; savesThrough: number }[][] = [];

function entriesOfSave(save: number) {
  return makeEntries(1 + save * 2, 2, 1 + save, 100);
}

function expectedThroughSave(saveCount: number): string[] {
  const all: Entry[] = [];
  for (let save = 0; save < saveCount; save++) all.push(...entriesOfSave(save));
  return summary(all);
}

before(async () => {
  pristine = makeTemporaryDirectory('corruption-pristine');
  workspace = makeTemporaryDirectory('corruption-work');
  const store = await DurableStorage.open(pristine, storeOptions);
  for (let save = 0; save < pristineSaveCount; save++) await store.save({ entries: entriesOfSave(save) });
  await store.close();
  segmentNames = fs.readdirSync(join(pristine, 'log')).sort();
  let savesThrough = 0;
  segmentFrames = segmentNames.map((name) => {
    const scan = scanSegment(fs.readFileSync(join(pristine, 'log', name)));
    assert.equal(scan.damage, undefined);
    return scan.frames.map((frame) => ({ offset: frame.offset, end: frame.offset + frame.frameBytes, savesThrough: ++savesThrough }));
  });
  assert.equal(savesThrough, pristineSaveCount);
  assert.ok(segmentNames.length >= 3, `want at least 3 segments, got ${segmentNames.length}`);
  assert.ok(segmentFrames[segmentFrames.length - 1]!.length >= 2, 'last segment holds at least two frames');
});

after(() => {
  removeDirectory(pristine);
  removeDirectory(workspace);
});

/** A fresh copy of the pristine store with one segment file changed. */
function damagedCopy(segmentPosition: number, change: (bytes: Buffer) => Buffer): { directory: string; path: string } {
  const directory = join(workspace, `copy-${Math.random().toString(36).slice(2)}`);
  fs.cpSync(pristine, directory, { recursive: true });
  const path = join(directory, 'log', segmentNames[segmentPosition]!);
  fs.writeFileSync(path, change(fs.readFileSync(path)));
  return { directory, path };
}

function flipBit(offset: number, bit = 0): (bytes: Buffer) => Buffer {
  return (bytes) => {
    const copy = Buffer.from(bytes);
    copy[offset] = copy[offset]! ^ (1 << bit);
    return copy;
  };
}

async function expectCorrupt(directory: string, path: string, offset: number): Promise<void> {
  const before = fs.readFileSync(path);
  await assert.rejects(DurableStorage.open(directory, storeOptions), (error: unknown) => {
    assert.ok(error instanceof StorageError, String(error));
    assert.equal(error.code, 'CORRUPT');
    assert.ok(error.message.includes(path), `message names the file: ${error.message}`);
    assert.ok(error.message.includes(`byte offset ${offset}`), `message names offset ${offset}: ${error.message}`);
    return true;
  });
  assert.deepEqual(fs.readFileSync(path), before, 'a refused open leaves the file as it was');
  removeDirectory(directory);
}

async function expectRepairedTo(directory: string, saveCount: number): Promise<void> {
  const store = await DurableStorage.open(directory, storeOptions);
  try {
    assert.equal(store.lastIndex(), saveCount * 2);
    assert.deepEqual(summary(store.lastIndex() === 0 ? [] : store.entries(1, store.lastIndex() + 1, Infinity)), expectedThroughSave(saveCount));
    await store.save({ entries: makeEntries(saveCount * 2 + 1, 1, 50) });
  } finally {
    await store.close();
  }
  const reopened = await DurableStorage.open(directory, storeOptions);
  assert.equal(reopened.lastIndex(), saveCount * 2 + 1);
  await reopened.close();
  removeDirectory(directory);
}

test('bit flips in an older segment (header, middle record, last record) are refused as corruption', async () => {
  const frames = segmentFrames[0]!;
  const lastFrame = frames[frames.length - 1]!;
  for (const offset of [0, 12, 20, frames[0]!.offset + 40, frames[1]!.offset + 60, lastFrame.end - 1]) {
    const { directory, path } = damagedCopy(0, flipBit(offset, 3));
    const frameAt = offset < 24 ? 0 : frames.find((frame) => offset < frame.end)!.offset;
    await expectCorrupt(directory, path, frameAt);
  }
});

test('an older segment cut short is refused as corruption', async () => {
  const frames = segmentFrames[1]!;
  const lastFrame = frames[frames.length - 1]!;
  const { directory, path } = damagedCopy(1, (bytes) => bytes.subarray(0, lastFrame.end - 5));
  await expectCorrupt(directory, path, lastFrame.offset);
});

test('damage in the last segment followed by a valid frame is refused as corruption', async () => {
  const position = segmentNames.length - 1;
  const frames = segmentFrames[position]!;
  const { directory, path } = damagedCopy(position, flipBit(5, 1));
  await expectCorrupt(directory, path, 0);
  for (const frame of frames.slice(0, -1)) {
    for (const offset of [frame.offset, frame.offset + 4, frame.offset + 13, frame.offset + 30, frame.end - 1]) {
      const copy = damagedCopy(position, flipBit(offset, 6));
      await expectCorrupt(copy.directory, copy.path, frame.offset);
    }
  }
});

test('bit flips anywhere in the last frame are a torn tail: cut off, everything before kept', async () => {
  const position = segmentNames.length - 1;
  const frames = segmentFrames[position]!;
  const lastFrame = frames[frames.length - 1]!;
  for (let offset = lastFrame.offset; offset < lastFrame.end; offset += 7) {
    const { directory } = damagedCopy(position, flipBit(offset, offset % 8));
    const store = await DurableStorage.open(directory, storeOptions);
    assert.equal(store.recovery.repairs.length, 1);
    assert.equal(store.recovery.repairs[0]!.offset, lastFrame.offset);
    await store.close();
    await expectRepairedTo(directory, pristineSaveCount - 1);
  }
});

test('the last segment truncated at every byte keeps exactly the whole frames before the cut', async () => {
  const position = segmentNames.length - 1;
  const frames = segmentFrames[position]!;
  const savesBeforeSegment = frames[0]!.savesThrough - 1;
  const fileBytes = frames[frames.length - 1]!.end;
  for (let cut = 0; cut < fileBytes; cut++) {
    const { directory } = damagedCopy(position, (bytes) => bytes.subarray(0, cut));
    const whole = frames.filter((frame) => frame.end <= cut);
    const saveCount = whole.length === 0 ? savesBeforeSegment : whole[whole.length - 1]!.savesThrough;
    await expectRepairedTo(directory, saveCount);
  }
});

test('zeros or garbage appended after the last frame are cut off as a torn tail', async () => {
  const position = segmentNames.length - 1;
  for (const tail of [Buffer.alloc(100), Buffer.from('not a frame at all, just bytes')]) {
    const { directory } = damagedCopy(position, (bytes) => Buffer.concat([bytes, tail]));
    await expectRepairedTo(directory, pristineSaveCount);
  }
});

test('a missing segment in the middle is refused as corruption', async () => {
  const directory = join(workspace, 'missing-middle');
  fs.cpSync(pristine, directory, { recursive: true });
  fs.rmSync(join(directory, 'log', segmentNames[1]!));
  await assert.rejects(
    DurableStorage.open(directory, storeOptions),
    (error: unknown) => error instanceof StorageError && error.code === 'CORRUPT' && /segment 2 is missing/.test(error.message),
  );
  removeDirectory(directory);
});
