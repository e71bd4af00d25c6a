/**
 * The etcd log's appender and applier in process against a real etcd (one member): a
 * node behind a log that compaction emptied entirely catches up; and the count bounds,
 * each exactly at the bound and one past it:
 * - batchEntryCountMax (120): an append transaction carries at most 120 entries (etcd's
 *   --max-txn-ops is 128); 120 queued go in one transaction, 121 in two (120 then 1), and
 *   every entry lands at its index.
 * - fetchEntryCountMax (1,000): one range read fetches at most 1,000 entries; a node 1,000
 *   behind reads once, one 1,001 behind reads twice (paging), and applies every entry in order.
 * - bufferedEntryCountMax (10,000): entries the watch delivered ahead of apply are kept up
 *   to 10,000; 10,000 apply with no read of etcd, and the 10,001st is dropped and read
 *   from etcd in order instead (nothing is lost, memory stays bounded).
 * - lastIndexScan (1,000 keys a page, 20 pages): the log's end is read forward from this
 *   node's applied index a page of keys at a time (etcd sorts a whole range for a
 *   descending read); past the last page the sorted read answers.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Etcd3 } from 'etcd3';
import { batchEntryCountMax, EtcdAppends } from '../../src/node/etcd-appends.js';
import { bufferedEntryCountMax, EtcdApplier, fetchEntryCountMax } from '../../src/node/etcd-apply.js';
import { encodeEntryValue, etcdKeys, logKey, type EtcdKeys } from '../../src/node/etcd-keys.js';
import { lastIndexScan, readLastIndex } from '../../src/node/etcd-reads.js';
import { silentLogger } from '../../src/node/logger.js';
import type { NodeStateMachine } from '../../src/node/ports.js';
import { systemScheduler } from '../../src/node/scheduler.js';
import type { Entry } from '../../src/raft/types.js';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { waitFor } from '../cluster/harness.js';
import { EtcdCluster } from './etcd-cluster.js';

const prefixBase = `/quorumlite-limits-${process.pid}`;
const term = 1;
const command = encodeCommand({ statements: [{ sql: 'SELECT 1', positional: [], named: {} }], transaction: false, timestampMs: 0, seed: 1n });

let etcd: EtcdCluster;
let client: Etcd3;

before(async () => {
  etcd = await EtcdCluster.start({ size: 1 });
  client = new Etcd3({ hosts: etcd.endpoints });
});

after(async () => {
  client?.close();
  await etcd?.close();
});

test('limits are the documented values', () => {
  assert.equal(batchEntryCountMax, 120);
  assert.equal(fetchEntryCountMax, 1000);
  assert.equal(bufferedEntryCountMax, 10_000);
});

/** Appends `count` proposals queued before leadership; resolves to the sizes of the transactions that carried them. */
async function appendQueued(name: string, count: number): Promise<number[]> {
  const keys = etcdKeys(`${prefixBase}/append-${name}`);
  await client.put(keys.leader).value('test').exec();
  const leaderKey = (await client.get(keys.leader).exec()).kvs[0];
  assert.ok(leaderKey !== undefined);
  const batches: number[] = [];
  const appends = new EtcdAppends({
    client,
    keys,
    logger: silentLogger,
    onAppended: (entries) => batches.push(entries.length),
    onAppendFailed: () => assert.fail('an append failed'),
  });
  // Not leading yet: everything queues, and the first flush sees all of it.
  for (let index = 0; index < count; index += 1) appends.enqueue(command).promise.catch(() => undefined);
  appends.lead(Number(leaderKey.create_revision), 0);
  await waitFor(`${count} entries appended`, () => (batches.reduce((sum, size) => sum + size, 0) === count ? true : undefined));
  appends.failAll(new Error('test over'));
  const stored = await client.getAll().prefix(keys.logPrefix).keys();
  assert.deepEqual(
    stored,
    Array.from({ length: count }, (_, offset) => logKey(keys, offset + 1)),
  );
  return batches;
}

test('batchEntryCountMax: 120 queued entries go in one transaction; 121 in two (120, then 1)', { timeout: 60_000 }, async () => {
  assert.deepEqual(await appendQueued('at', batchEntryCountMax), [batchEntryCountMax]);
  assert.deepEqual(await appendQueued('past', batchEntryCountMax + 1), [batchEntryCountMax, 1]);
});

/** A state machine that records what it applied (order checked) and nothing else. */
function recordingStateMachine(): NodeStateMachine & { appliedIndex: number } {
  const machine = {
    appliedIndex: 0,
    applyBatch(entries: readonly { readonly index: number }[]) {
      return entries.map((entry) => {
        assert.equal(entry.index, machine.appliedIndex + 1, 'applied in index order');
        machine.appliedIndex = entry.index;
        return { entryIndex: entry.index, results: [], skipped: false };
      });
    },
  };
  return machine as unknown as NodeStateMachine & { appliedIndex: number };
}

async function putEntries(keys: EtcdKeys, first: number, last: number): Promise<void> {
  for (let low = first; low <= last; low += 100) {
    const high = Math.min(last, low + 99);
    const puts = Array.from({ length: high - low + 1 }, (_, offset) => client.put(logKey(keys, low + offset)).value(encodeEntryValue(term, command)));
    await client
      .if(keys.leader, 'Create', '==', 0)
      .then(...puts)
      .commit();
  }
}

/** An applier on `keys` with a state machine that records, and a count of its range reads of etcd. */
function countingApplier(
  keys: EtcdKeys,
  catchUp: (firstIndex: number) => Promise<void> = () => Promise.reject(new Error('nothing is compacted here')),
): { applier: EtcdApplier; machine: { appliedIndex: number }; reads: () => number } {
  let reads = 0;
  const counting = new Proxy(client, {
    get(target, property) {
      if (property === 'getAll') reads += 1;
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
  const machine = recordingStateMachine();
  const applier = new EtcdApplier({
    client: counting,
    keys,
    stateMachine: machine,
    scheduler: systemScheduler,
    logger: silentLogger,
    haltRetryIntervalMs: 100,
    onApplied: () => undefined,
    catchUp,
  });
  return { applier, machine, reads: () => reads };
}

test('fetchEntryCountMax: 1,000 entries behind is one range read; 1,001 is two (paging), every entry applied in order', { timeout: 60_000 }, async () => {
  const keys = etcdKeys(`${prefixBase}/fetch`);
  await putEntries(keys, 1, fetchEntryCountMax + 1);
  for (const [behind, readsExpected] of [
    [fetchEntryCountMax, 1],
    [fetchEntryCountMax + 1, 2],
  ] as const) {
    const { applier, machine, reads } = countingApplier(keys);
    applier.noteLastIndex(behind);
    await waitFor(`${behind} applied`, () => (machine.appliedIndex === behind ? true : undefined));
    await applier.stop();
    assert.equal(reads(), readsExpected, `range reads for ${behind} entries`);
  }
});

function entries(first: number, last: number): Entry[] {
  return Array.from({ length: last - first + 1 }, (_, offset) => ({ index: first + offset, term, type: 'normal', data: command }));
}

test('bufferedEntryCountMax: 10,000 delivered entries apply with no read; the 10,001st is dropped and read from etcd', { timeout: 60_000 }, async () => {
  const keys = etcdKeys(`${prefixBase}/buffer`);
  // Only the entry past the bound is in etcd: the ones within it must come from the buffer.
  await putEntries(keys, bufferedEntryCountMax + 1, bufferedEntryCountMax + 1);
  for (const count of [bufferedEntryCountMax, bufferedEntryCountMax + 1]) {
    const { applier, machine, reads } = countingApplier(keys);
    applier.offer(entries(1, count));
    await waitFor(`${count} applied`, () => (machine.appliedIndex === count ? true : undefined));
    await applier.stop();
    assert.equal(reads(), count - bufferedEntryCountMax, `range reads for ${count} delivered entries`);
  }
});

test('a node behind a log compaction emptied entirely (first past every entry) catches up from a copy', { timeout: 60_000 }, async () => {
  const keys = etcdKeys(`${prefixBase}/emptied`);
  // What compaction leaves after deleting entries 1..32 once every member applied them: no entry, first = 33.
  await client.put(keys.first).value('33').exec();
  const asked: number[] = [];
  // The copy restored: the state machine stands at the entry before `first`.
  const parts = countingApplier(keys, (firstIndex) => {
    asked.push(firstIndex);
    parts.machine.appliedIndex = firstIndex - 1;
    return Promise.resolve();
  });
  const { applier, machine } = parts;
  machine.appliedIndex = 2;
  applier.noteLastIndex(32);
  await waitFor('a catch-up asked for', () => (asked.length > 0 ? true : undefined));
  await applier.stop();
  assert.deepEqual(asked, [33]);
  assert.equal(machine.appliedIndex, 32);
});

test(`the log's end is read forward from a known index, ${lastIndexScan.pageKeysMax} keys a page; past the end or with no index known, by the sorted read`, {
  timeout: 60_000,
}, async () => {
  assert.deepEqual(lastIndexScan, { pageKeysMax: 1_000, pagesMax: 20 });
  const lastIndexPageKeysMax = lastIndexScan.pageKeysMax;
  const keys = etcdKeys(`${prefixBase}/last-index`);
  const last = 2 * lastIndexPageKeysMax + 100;
  await putEntries(keys, 1, last);
  assert.equal(await readLastIndex(client, keys), last, 'no index known: the sorted read');
  // One page short, one page exactly, one past a page, three pages, the last key itself.
  for (const from of [last - 10, last - lastIndexPageKeysMax + 1, last - lastIndexPageKeysMax, 1, last]) {
    assert.equal(await readLastIndex(client, keys, from), last, `from ${from}`);
  }
  assert.equal(await readLastIndex(client, keys, last + 5), last, 'a known index past the end: the sorted read answers');
  // Compaction removed the entries up to 40 and recorded the first kept one: a scan from below starts at what is left.
  await client
    .delete()
    .inRange({ start: logKey(keys, 1), end: logKey(keys, 41) })
    .exec();
  await client.put(keys.first).value('41').exec();
  assert.equal(await readLastIndex(client, keys, 7), last);
  const empty = etcdKeys(`${prefixBase}/last-index-empty`);
  await client.put(empty.first).value('33').exec();
  assert.equal(await readLastIndex(client, empty, 40), 32, 'an emptied log: the index before the first kept one');
});

test('lastIndexScan at its bound: a scan whose pages run out leaves the end to the sorted read, never its last page', { timeout: 60_000 }, async () => {
  const keys = etcdKeys(`${prefixBase}/last-index-bound`);
  await putEntries(keys, 1, 25);
  const scan = { pageKeysMax: 10, pagesMax: 2 };
  // Two full pages (1-10, 11-20) and more behind them: the scan stops at its bound.
  assert.equal(await readLastIndex(client, keys, 1, scan), 25);
  // Exactly two full pages (6-15, 16-25): the bound is reached with nothing behind.
  assert.equal(await readLastIndex(client, keys, 6, scan), 25);
  // The second page is short (17-25): the scan itself finds the end.
  assert.equal(await readLastIndex(client, keys, 7, scan), 25);
});

test('a halted apply reports each failed attempt in a row (a halted leader resigns at the second), and the count restarts once an entry applies', {
  timeout: 60_000,
}, async () => {
  const keys = etcdKeys(`${prefixBase}/halt`);
  await putEntries(keys, 1, 3);
  const recording = recordingStateMachine();
  // A batch starting at entry 1 meets a full disk three times, one starting at entry 4 once.
  const failures = new Map([
    [1, 3],
    [4, 1],
  ]);
  const machine = {
    get appliedIndex() {
      return recording.appliedIndex;
    },
    applyBatch(entries: Parameters<NodeStateMachine['applyBatch']>[0]) {
      const first = entries[0]?.index ?? 0;
      const left = failures.get(first) ?? 0;
      if (left > 0) {
        failures.set(first, left - 1);
        throw new StateMachineHaltedError(first, 'SQLITE_FULL', 'database or disk is full');
      }
      return recording.applyBatch(entries);
    },
  } as unknown as NodeStateMachine;
  const attempts: number[] = [];
  const applier = new EtcdApplier({
    client,
    keys,
    stateMachine: machine,
    scheduler: systemScheduler,
    logger: silentLogger,
    haltRetryIntervalMs: 20,
    onApplied: () => undefined,
    catchUp: () => Promise.reject(new Error('nothing is compacted here')),
    onHalt: (attempt) => attempts.push(attempt),
  });
  applier.noteLastIndex(3);
  await waitFor('3 applied', () => (recording.appliedIndex === 3 ? true : undefined));
  assert.deepEqual(attempts, [1, 2, 3]);
  assert.equal(applier.haltError, undefined);
  await putEntries(keys, 4, 4);
  applier.noteLastIndex(4);
  await waitFor('4 applied', () => (recording.appliedIndex === 4 ? true : undefined));
  await applier.stop();
  assert.deepEqual(attempts, [1, 2, 3, 1], 'a new halt counts from 1 again');
});
