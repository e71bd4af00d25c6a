/**
 * DurableStorage against the core's reference MemoryStorage: the same seeded random
 * history of appends, truncating appends, snapshots, compactions and installed
 * snapshots, with reopens, must read back identically (first/last index, every term,
 * entries under random byte limits).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { MemoryStorage } from '../../src/raft/memory-storage.js';
import type { Entry } from '../../src/raft/types.js';
import { makeEntries, makeTemporaryDirectory, removeDirectory, summary } from './helpers.js';

const stepCount = 400;
const threeVoters = { voters: ['n1', 'n2', 'n3'], learners: [] };

function makeRandom(seed: number): (low: number, high: number) => number {
  let state = seed >>> 0;
  return (low, high) => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return low + Math.floor((state / 0x1_0000_0000) * (high - low + 1));
  };
}

function compareStores(durable: DurableStorage, memory: MemoryStorage, bytesMax: number, step: number): void {
  const where = `step ${step}`;
  assert.equal(durable.firstIndex(), memory.firstIndex(), where);
  assert.equal(durable.lastIndex(), memory.lastIndex(), where);
  for (let index = memory.firstIndex() - 1; index <= memory.lastIndex(); index++)
    assert.equal(durable.term(index), memory.term(index), `${where} term ${index}`);
  if (memory.lastIndex() >= memory.firstIndex()) {
    const low = memory.firstIndex();
    const high = memory.lastIndex() + 1;
    assert.deepEqual(summary(durable.entries(low, high, bytesMax)), summary(memory.entries(low, high, bytesMax)), where);
  }
}

test('DurableStorage reads back exactly like the reference MemoryStorage over a random history', async () => {
  const directory = makeTemporaryDirectory('differential');
  const random = makeRandom(4242);
  const memory = new MemoryStorage({ bootstrapIndex: 0 });
  let durable = await DurableStorage.open(directory, { segmentBytesMax: 4096 });
  let term = 1;
  const counts = { append: 0, truncate: 0, compact: 0, install: 0, reopen: 0 };
  try {
    for (let step = 0; step < stepCount; step++) {
      const choice = random(0, 99);
      const first = memory.firstIndex();
      const last = memory.lastIndex();
      if (choice < 60) {
        const entries: Entry[] = makeEntries(last + 1, random(1, 12), term, random(0, 200));
        memory.append(entries);
        await durable.save({ entries });
        counts.append++;
      } else if (choice < 75 && last >= first) {
        term++;
        const entries = makeEntries(random(first, last), random(1, 6), term, random(0, 200));
        memory.append(entries);
        await durable.save({ entries });
        counts.truncate++;
      } else if (choice < 88 && last > memory.snapshot().metadata.index) {
        const snapshotIndex = random(Math.max(first, memory.snapshot().metadata.index + 1), last);
        memory.createSnapshot(snapshotIndex, threeVoters, new Uint8Array([1]));
        await durable.snapshots.writeBytes({ index: snapshotIndex, term: durable.term(snapshotIndex), confState: threeVoters }, new Uint8Array([1]));
        const compactIndex = random(first - 1, snapshotIndex);
        memory.compact(compactIndex);
        await durable.compact(compactIndex);
        counts.compact++;
      } else if (choice < 92) {
        term++;
        const metadata = { index: last + random(1, 30), term, confState: threeVoters };
        memory.applySnapshot({ metadata, data: new Uint8Array([2]) });
        await durable.save({ snapshot: { metadata, data: new Uint8Array([2]) } });
        counts.install++;
      } else {
        await durable.close();
        durable = await DurableStorage.open(directory, { segmentBytesMax: 4096 });
        counts.reopen++;
      }
      compareStores(durable, memory, random(0, 3000), step);
    }
    for (const [kind, count] of Object.entries(counts)) assert.ok(count >= 5, `${kind} ran ${count} times`);
  } finally {
    await durable.close();
    removeDirectory(directory);
  }
});
