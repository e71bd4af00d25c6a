import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CdcQueue } from '../../src/node/cdc-queue.js';
import type { CapturedEntry } from '../../src/state-machine/change-capture.js';

function captured(index: number, rowId = index): CapturedEntry {
  return {
    index,
    timestampMs: 1_700_000_000_000 + index,
    changes: [{ operation: 'INSERT', table: 't', oldRowId: undefined, newRowId: BigInt(rowId), before: undefined, after: `{"id":${rowId}}` }],
    truncated: false,
  };
}

function withQueue(entryCountMax: number, body: (open: () => CdcQueue) => void): void {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-cdc-queue-'));
  const opened: CdcQueue[] = [];
  try {
    body(() => {
      const queue = new CdcQueue({ path: join(directory, 'queue.sqlite'), entryCountMax });
      opened.push(queue);
      return queue;
    });
  } finally {
    for (const queue of opened) queue.close();
    rmSync(directory, { recursive: true, force: true });
  }
}

test('entries render as rqlite payload elements; an entry applied again replaces what it recorded', () => {
  withQueue(100, (open) => {
    const queue = open();
    queue.record(1, 3, [captured(1), captured(3)]);
    assert.deepEqual(
      queue.read(0, 10, 1 << 20).map((entry) => entry.json),
      [
        '{"index":1,"commit_timestamp":1700000000001000,"events":[{"op":"INSERT","table":"t","new_row_id":1,"after":{"id":1}}]}',
        '{"index":3,"commit_timestamp":1700000000003000,"events":[{"op":"INSERT","table":"t","new_row_id":3,"after":{"id":3}}]}',
      ],
    );
    // Entries 2..3 applied again (a commit that failed): 3 now has other changes, 2 still none.
    queue.record(2, 3, [captured(3, 33)]);
    assert.deepEqual(
      queue.read(0, 10, 1 << 20).map((entry) => entry.index),
      [1, 3],
    );
    assert.match(queue.read(1, 10, 1 << 20)[0]?.json ?? '', /"new_row_id":33/);
    assert.equal(queue.depth, 2);
  });
});

test('the high-water mark prunes, survives a reopen, and entries at or below it are not queued again', () => {
  withQueue(100, (open) => {
    const first = open();
    first.record(
      1,
      5,
      [1, 2, 3, 4, 5].map((index) => captured(index)),
    );
    first.advanceHighWaterMark(3);
    first.advanceHighWaterMark(2); // never backwards
    assert.deepEqual([first.highWaterMark, first.depth], [3, 2]);
    first.close();
    const reopened = open();
    assert.deepEqual([reopened.highWaterMark, reopened.depth], [3, 2]);
    assert.deepEqual(
      reopened.read(0, 10, 1 << 20).map((entry) => entry.index),
      [4, 5],
    );
    reopened.advanceHighWaterMark(8); // a follower told a mark beyond what it applied
    reopened.record(6, 9, [captured(7), captured(9)]);
    assert.deepEqual(
      reopened.read(0, 10, 1 << 20).map((entry) => entry.index),
      [9],
    );
  });
});

test('bounds: the queue drops its oldest past entryCountMax; a batch stops at its count and its bytes (one entry always goes)', () => {
  withQueue(3, (open) => {
    const queue = open();
    queue.record(
      1,
      5,
      [1, 2, 3, 4, 5].map((index) => captured(index)),
    );
    assert.deepEqual([queue.depth, queue.droppedEntryCount], [3, 2]);
    assert.deepEqual(
      queue.read(0, 10, 1 << 20).map((entry) => entry.index),
      [3, 4, 5],
    );
    assert.deepEqual(
      queue.read(0, 2, 1 << 20).map((entry) => entry.index),
      [3, 4],
    );
    const oneEntryBytes = Buffer.byteLength(queue.read(0, 1, 1 << 20)[0]?.json ?? '');
    assert.equal(queue.read(0, 10, oneEntryBytes * 2).length, 2);
    assert.equal(queue.read(0, 10, 1).length, 1);
  });
});
