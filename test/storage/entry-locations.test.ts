import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EntryLocations } from '../../src/storage/entry-locations.js';

function location(entryIndex: number, term = 1) {
  return { term, segmentSequence: 1 + Math.floor(entryIndex / 1000), offset: entryIndex * 128, recordBytes: 100 + (entryIndex % 7) };
}

test('entry locations grow, drop a prefix, truncate a suffix and restart a run', () => {
  const locations = new EntryLocations();
  assert.equal(locations.first, undefined);
  for (let entryIndex = 1; entryIndex <= 10_000; entryIndex++) locations.put(entryIndex, location(entryIndex));
  assert.equal(locations.count, 10_000);
  locations.dropThrough(9_000);
  assert.equal(locations.first, 9_001);
  for (let entryIndex = 10_001; entryIndex <= 30_000; entryIndex++) locations.put(entryIndex, location(entryIndex));
  assert.equal(locations.first, 9_001);
  assert.equal(locations.last, 30_000);
  for (const entryIndex of [9_001, 9_500, 10_000, 10_001, 29_999, 30_000]) assert.deepEqual(locations.get(entryIndex), location(entryIndex));
  locations.put(20_000, location(20_000, 5));
  assert.equal(locations.last, 20_000);
  assert.equal(locations.termOf(20_000), 5);
  assert.equal(locations.termOf(19_999), 1);
  locations.truncateFrom(15_000);
  assert.equal(locations.last, 14_999);
  locations.put(100, location(100, 9));
  assert.equal(locations.first, 100);
  assert.equal(locations.count, 1);
  locations.dropThrough(100);
  assert.equal(locations.count, 0);
  assert.throws(() => locations.get(100), /assertion failed/);
  locations.put(7, location(7));
  assert.throws(() => locations.put(9, location(9)), /assertion failed: entry 9 continues the run ending at 7/);
});
