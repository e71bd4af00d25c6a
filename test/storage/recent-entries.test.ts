import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RecentEntries, recentEntryOverheadBytes } from '../../src/storage/recent-entries.js';
import type { Entry } from '../../src/raft/types.js';

function entry(index: number, term: number, dataBytes: number): Entry {
  return { index, term, type: 'normal', data: new Uint8Array(dataBytes).fill(index) };
}

const cost = (dataBytes: number): number => dataBytes + recentEntryOverheadBytes;

test('holds entries up to its byte bound exactly, dropping the oldest first', () => {
  const recent = new RecentEntries(3 * cost(100));
  for (let index = 1; index <= 3; index++) recent.put(entry(index, 1, 100), 1, index * 1000, 128);
  assert.equal(recent.bytes, 3 * cost(100), 'at the bound, all three held');
  assert.equal(recent.count, 3);
  recent.put(entry(4, 1, 100), 1, 4000, 128);
  assert.equal(recent.count, 3);
  assert.equal(recent.bytes, 3 * cost(100));
  assert.equal(recent.get(1, 1, 1, 1000, 128), undefined, 'the oldest went');
  assert.equal(recent.get(4, 1, 1, 4000, 128)?.index, 4);
  recent.put(entry(5, 1, 250), 1, 5000, 278);
  assert.ok(recent.bytes <= 3 * cost(100), `${recent.bytes} within the bound`);
  assert.deepEqual(
    [2, 3, 4, 5].map((index) => recent.get(index, 1, 1, index * 1000, index === 5 ? 278 : 128) !== undefined),
    [false, false, true, true],
  );
});

test('an entry larger than the whole bound is not held, and a bound of 0 holds nothing', () => {
  const recent = new RecentEntries(cost(100));
  recent.put(entry(1, 1, 101), 1, 0, 129);
  assert.equal(recent.count, 0);
  recent.put(entry(2, 1, 100), 1, 200, 128);
  assert.equal(recent.count, 1, 'one of exactly the bound fits');
  const none = new RecentEntries(0);
  none.put(entry(1, 1, 0), 1, 0, 28);
  assert.equal(none.count, 0);
  assert.equal(none.get(1, 1, 1, 0, 28), undefined);
});

test('an entry is served only where it was saved: another term, segment, offset or length misses', () => {
  const recent = new RecentEntries(1024 * 1024);
  const saved = entry(7, 3, 10);
  recent.put(saved, 2, 4096, 38);
  assert.equal(recent.get(7, 3, 2, 4096, 38), saved);
  assert.equal(recent.get(7, 4, 2, 4096, 38), undefined);
  assert.equal(recent.get(7, 3, 3, 4096, 38), undefined);
  assert.equal(recent.get(7, 3, 2, 4097, 38), undefined);
  assert.equal(recent.get(7, 3, 2, 4096, 39), undefined);
  assert.equal(recent.get(8, 3, 2, 4096, 38), undefined);
});

test('a newer save of a held index drops the held suffix from it on', () => {
  const recent = new RecentEntries(1024 * 1024);
  for (let index = 1; index <= 5; index++) recent.put(entry(index, 1, 10), 1, index * 100, 38);
  recent.put(entry(3, 2, 20), 1, 600, 48);
  assert.equal(recent.count, 3);
  assert.equal(recent.bytes, 2 * cost(10) + cost(20));
  assert.equal(recent.get(4, 1, 1, 400, 38), undefined);
  assert.equal(recent.get(5, 1, 1, 500, 38), undefined);
  assert.equal(recent.get(3, 2, 1, 600, 48)?.term, 2);
  recent.clear();
  assert.equal(recent.count, 0);
  assert.equal(recent.bytes, 0);
});
