import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Entry, Message, SnapshotMetadata } from '../../src/raft/types.js';
import { StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { DurableStorage } from '../../src/storage/durable-storage.js';
import { DurableTwin } from './durable-twin.js';
import { encodeKvCommand } from './kv-state-machine.js';
import { defaultNetworkConfig } from './network.js';
import { Prng } from './prng.js';
import { NodeScheduler, ProcessLife, SimulatedClock, simulatedEpochMs } from './sim-clock.js';
import { SimulatedDisk } from './sim-disk.js';
import { SnapshotStoreTwin } from './snapshot-store-twin.js';
import { emptyDatabase, StateMachineTwin, type StateMachineBehaviour } from './state-machine-twin.js';
import { StorageTwin, type DiskBehaviour, type StorageObserver } from './storage-twin.js';
import { SimulatedTransports, type Endpoint } from './transport-twin.js';

const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };

function entry(index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

function settleContinuations(): Promise<void> {
  return new Promise((resolve) => process.nextTick(resolve));
}

/** Runs continuations and timers until nothing is left (bounded). */
async function runUntilIdle(clock: SimulatedClock): Promise<void> {
  for (let round = 0; round < 10_000; round++) {
    await settleContinuations();
    while (clock.runNextImmediate()) await settleContinuations();
    if (clock.nextTimerDueMs() === undefined) return;
    clock.runNextTimer();
  }
  throw new Error('not idle after 10000 rounds');
}

describe('simulated clock', () => {
  it('fires timers by due time, then by creation order; immediates in FIFO order', () => {
    const clock = new SimulatedClock();
    const fired: string[] = [];
    clock.schedule(5, () => fired.push('b@5'));
    clock.schedule(3, () => fired.push('a@3'));
    clock.schedule(5, () => fired.push('c@5'));
    clock.scheduleInterval(2, () => fired.push(`tick@${clock.nowMs}`));
    clock.queueImmediate(() => fired.push('first'));
    clock.queueImmediate(() => fired.push('second'));
    while (clock.runNextImmediate());
    while ((clock.nextTimerDueMs() ?? Infinity) <= 6) clock.runNextTimer();
    assert.deepEqual(fired, ['first', 'second', 'tick@2', 'a@3', 'tick@4', 'b@5', 'c@5', 'tick@6']);
  });

  it('drops what a dead process scheduled, and cancelled timers', () => {
    const clock = new SimulatedClock();
    const life = new ProcessLife();
    const fired: string[] = [];
    clock.schedule(1, () => fired.push('dead timer'), life);
    clock.queueImmediate(() => fired.push('dead immediate'), life);
    clock.schedule(2, () => fired.push('cancelled')).cancel();
    clock.schedule(3, () => fired.push('simulator'));
    life.alive = false;
    assert.equal(clock.runNextImmediate(), false);
    assert.equal(clock.nextTimerDueMs(), 3);
    clock.runNextTimer();
    assert.deepEqual(fired, ['simulator']);
  });

  it('gives each node its own wall-clock offset and rate', () => {
    const clock = new SimulatedClock();
    const fast = new NodeScheduler(clock, { epochOffsetMs: 1000, rate: 1.25 }, new ProcessLife());
    const fired: number[] = [];
    fast.setTimeout(() => fired.push(clock.nowMs), 10);
    clock.runNextTimer();
    assert.deepEqual(fired, [8], 'a fast clock reaches 10 ms after 8 virtual ms');
    assert.equal(fast.monotonicMs(), 10);
    assert.equal(fast.nowMs(), simulatedEpochMs + 1000 + 10);
    assert.throws(() => fast.setInterval(() => undefined, 0), /intervalMs/);
  });
});

interface StorageSetup {
  readonly clock: SimulatedClock;
  readonly disk: SimulatedDisk;
  readonly log: DurableTwin;
  readonly store: SnapshotStoreTwin;
  readonly landed: string[];
  open(life?: ProcessLife): { storage: StorageTwin; discardedSnapshots: SnapshotMetadata[] };
}

function storageSetup(behaviour: Partial<DiskBehaviour> = {}, log = new DurableTwin()): StorageSetup {
  const clock = new SimulatedClock();
  const disk = new SimulatedDisk();
  const store = new SnapshotStoreTwin(disk, '/n1/raft/snapshots');
  const landed: string[] = [];
  const observer: StorageObserver = {
    entriesPersisted: (_previousTerm, entries) => landed.push(`entries ${entries.map((item) => item.index).join(',')}`),
    hardStatePersisted: (next) => landed.push(`hardState ${next.term}/${next.vote}/${next.commit}`),
    snapshotInstalled: (metadata) => landed.push(`install ${metadata.index}`),
    snapshotStored: (stored) => landed.push(`stored ${stored.metadata.index}`),
    compacted: (index) => landed.push(`compact ${index}`),
  };
  const fullBehaviour: DiskBehaviour = { latencyMs: () => 5, diskFull: () => false, inFlightWriteLands: () => true, ...behaviour };
  return {
    clock,
    disk,
    log,
    store,
    landed,
    open: (life = new ProcessLife()) => StorageTwin.open({ log, store, disk, clock, life, behaviour: fullBehaviour, observer }),
  };
}

async function storeSnapshot(setup: StorageSetup, storage: StorageTwin, metadata: SnapshotMetadata, text = 'state'): Promise<void> {
  const writer = await storage.snapshots.begin(metadata, { n1: { raftAddress: 'n1:raft', apiAddress: 'n1:api' } });
  setup.disk.write(writer.dataPath, new TextEncoder().encode(text));
  const committing = writer.commit();
  await runUntilIdle(setup.clock);
  await committing;
}

describe('storage twin', () => {
  it('group-commits the saves of one turn after one simulated fsync; reads see only what landed', async () => {
    const setup = storageSetup();
    const { storage } = setup.open();
    const first = storage.save({ entries: [entry(1, 1), entry(2, 1)], hardState: { term: 1, vote: 'n1', commit: 0 } });
    const second = storage.save({ entries: [entry(3, 1)] });
    assert.equal(storage.lastIndex(), 0, 'nothing is durable before the fsync');
    await settleContinuations();
    assert.equal(setup.clock.nextTimerDueMs(), 5);
    setup.clock.runNextTimer();
    await Promise.all([first, second]);
    assert.equal(storage.lastIndex(), 3);
    assert.deepEqual(setup.landed, ['entries 1,2', 'hardState 1/n1/0', 'entries 3']);
  });

  it('refuses what the real store refuses, before writing anything', async () => {
    const setup = storageSetup();
    const { storage } = setup.open();
    await Promise.all([storage.save({ entries: [entry(1, 2)], hardState: { term: 2, vote: 'n1', commit: 1 } }), runUntilIdle(setup.clock)]);
    await assert.rejects(storage.save({ hardState: { term: 1, vote: '', commit: 1 } }), /below the stored term/);
    await assert.rejects(storage.save({ hardState: { term: 2, vote: 'n2', commit: 1 } }), /changes the vote/);
    await assert.rejects(storage.save({ entries: [entry(3, 2)] }), /missing/);
    await assert.rejects(storage.compact(1), /beyond the newest snapshot/);
  });

  it('fails every queued save with DISK_FULL and stores none of them', async () => {
    let full = true;
    const setup = storageSetup({ diskFull: () => full });
    const { storage } = setup.open();
    const saves = [storage.save({ entries: [entry(1, 1)] }), storage.save({ entries: [entry(2, 1)] })];
    await runUntilIdle(setup.clock);
    for (const save of saves) await assert.rejects(save, (error: unknown) => (error as { code?: string }).code === 'DISK_FULL');
    assert.equal(storage.healthy, false);
    assert.equal(storage.lastIndex(), 0);
    full = false;
    const retried = storage.save({ entries: [entry(1, 1)] });
    await runUntilIdle(setup.clock);
    await retried;
    assert.equal(storage.healthy, true);
    assert.equal(storage.lastIndex(), 1);
  });

  it('at a crash, lands the write on the disk or not as the scenario says, and loses what was only queued', async () => {
    for (const lands of [true, false]) {
      const setup = storageSetup({ inFlightWriteLands: () => lands });
      const life = new ProcessLife();
      const { storage } = setup.open(life);
      void storage.save({ entries: [entry(1, 1)] });
      await settleContinuations();
      void storage.save({ entries: [entry(2, 1)] });
      life.alive = false;
      storage.crash();
      assert.equal(setup.log.lastIndex(), lands ? 1 : 0);
      await assert.rejects(storage.save({ entries: [entry(3, 1)] }), /closed/);
    }
  });

  it('stores snapshots whole, keeps the newest two, drops a duplicate, compacts only behind one', async () => {
    const setup = storageSetup();
    const { storage } = setup.open();
    const entries = [1, 2, 3, 4, 5, 6].map((index) => entry(index, 1));
    await Promise.all([storage.save({ entries, hardState: { term: 1, vote: '', commit: 6 } }), runUntilIdle(setup.clock)]);
    for (const index of [2, 4, 6]) await storeSnapshot(setup, storage, { index, term: 1, confState });
    await storeSnapshot(setup, storage, { index: 6, term: 1, confState }, 'the same state again');
    assert.deepEqual(
      setup.store.list().map((stored) => stored.metadata.index),
      [6, 4],
    );
    assert.equal(setup.disk.fileCount, 2, 'the removed snapshot and the duplicate left no files');
    assert.deepEqual(storage.snapshot().metadata, { index: 6, term: 1, confState });
    // As the real store: one older than every retained snapshot is published and removed at once.
    await storeSnapshot(setup, storage, { index: 1, term: 1, confState });
    assert.deepEqual(
      setup.store.list().map((stored) => stored.metadata.index),
      [6, 4],
    );
    assert.deepEqual(
      setup.landed.filter((line) => line.startsWith('stored')),
      ['stored 2', 'stored 4', 'stored 6', 'stored 6', 'stored 1'],
    );
    await Promise.all([storage.compact(5), runUntilIdle(setup.clock)]);
    assert.equal(storage.firstIndex(), 6);
    const aborted = await storage.snapshots.begin({ index: 7, term: 1, confState }, null);
    setup.disk.write(aborted.dataPath, new Uint8Array([1]));
    await aborted.abort();
    assert.equal(setup.disk.fileCount, 2);
  });

  it('installs a received snapshot through save() only once the store holds its file', async () => {
    const setup = storageSetup();
    const { storage } = setup.open();
    const metadata = { index: 10, term: 3, confState };
    await assert.rejects(storage.save({ snapshot: { metadata, data: new Uint8Array() } }), /not in the snapshot store/);
    await storeSnapshot(setup, storage, metadata);
    await Promise.all([storage.save({ snapshot: { metadata, data: new Uint8Array() } }), runUntilIdle(setup.clock)]);
    assert.deepEqual([storage.firstIndex(), storage.lastIndex(), setup.log.installedSnapshot?.index], [11, 10, 10]);
    await assert.rejects(storage.save({ snapshot: { metadata: { index: 5, term: 2, confState }, data: new Uint8Array([1]) } }), /not newer/);
  });
});

describe('storage twin recovery at open agrees with the real store', () => {
  interface Case {
    readonly name: string;
    readonly entryCount: number;
    readonly commit: number;
    readonly snapshot: { readonly index: number; readonly term: number };
    readonly compactIndex: number;
  }
  const cases: Case[] = [
    {
      name: 'a snapshot the log reaches at its term, beyond the lazily saved commit',
      entryCount: 5,
      commit: 3,
      snapshot: { index: 5, term: 1 },
      compactIndex: 0,
    },
    { name: 'a snapshot beyond the log', entryCount: 5, commit: 3, snapshot: { index: 7, term: 2 }, compactIndex: 0 },
    { name: 'a snapshot at an index the log holds at another term', entryCount: 5, commit: 3, snapshot: { index: 5, term: 2 }, compactIndex: 0 },
    { name: 'a snapshot within the commit index', entryCount: 5, commit: 4, snapshot: { index: 4, term: 1 }, compactIndex: 0 },
    { name: 'a snapshot beyond the commit, the log compacted behind it', entryCount: 8, commit: 3, snapshot: { index: 6, term: 1 }, compactIndex: 4 },
  ];

  async function realDiscards(testCase: Case): Promise<number[]> {
    const directory = mkdtempSync(join(tmpdir(), 'quorumlite-sim-recovery-'));
    try {
      const first = await DurableStorage.open(directory);
      const entries = Array.from({ length: testCase.entryCount }, (_, position) => entry(position + 1, 1));
      await first.save({ entries, hardState: { term: 2, vote: '', commit: testCase.commit } });
      await first.snapshots.writeBytes({ ...testCase.snapshot, confState }, new Uint8Array([1, 2, 3]));
      if (testCase.compactIndex > 0) await first.compact(testCase.compactIndex);
      await first.close();
      const reopened = await DurableStorage.open(directory);
      const discarded = reopened.recovery.discardedSnapshots.map((metadata) => metadata.index);
      await reopened.close();
      return discarded;
    } finally {
      rmSync(directory, { recursive: true, force: true });
    }
  }

  function twinDiscards(testCase: Case, discardSnapshotsBeyondCommit: boolean): number[] {
    const log = new DurableTwin(undefined, { discardSnapshotsBeyondCommit });
    const entries = Array.from({ length: testCase.entryCount }, (_, position) => entry(position + 1, 1));
    log.persist({ entries, hardState: { term: 2, vote: '', commit: testCase.commit } });
    if (testCase.compactIndex > 0) log.applyCompact(testCase.compactIndex, 1);
    const setup = storageSetup({}, log);
    const directory = setup.store.temporaryDirectory();
    setup.disk.write(setup.store.dataPathIn(directory), new Uint8Array([1, 2, 3]));
    setup.store.publish({ ...testCase.snapshot, confState }, null, directory);
    return setup.open().discardedSnapshots.map((metadata) => metadata.index);
  }

  for (const testCase of cases) {
    it(testCase.name, async () => {
      assert.deepEqual(twinDiscards(testCase, false), await realDiscards(testCase));
    });
  }

  it('the planted bug (the rule before bb86da3) discards the snapshot the log reaches beyond the commit', () => {
    assert.deepEqual(twinDiscards(cases[0] as Case, true), [5]);
    assert.deepEqual(twinDiscards(cases[4] as Case, true), [6]);
    assert.deepEqual(twinDiscards(cases[3] as Case, true), []);
  });
});

describe('state machine twin', () => {
  function machineSetup(behaviour: Partial<StateMachineBehaviour> = {}) {
    const clock = new SimulatedClock();
    const disk = new SimulatedDisk();
    const log = new DurableTwin();
    const database = emptyDatabase(undefined);
    const applied: string[] = [];
    const life = new ProcessLife();
    const twin = new StateMachineTwin(
      database,
      log,
      disk,
      clock,
      life,
      {
        latencyMs: () => 4,
        applyHalts: () => false,
        inFlightWriteLands: () => true,
        ...behaviour,
      },
      { applied: (item) => applied.push(`${item.index}:${item.label}`) },
      '/n1',
    );
    const put = (index: number, value: string): Entry => ({
      index,
      term: 1,
      type: 'normal',
      data: encodeKvCommand({ requestId: `r${index}`, kind: 'put', key: 'k', value }),
    });
    return { clock, disk, log, database, applied, twin, put, life };
  }

  it('applies logged entries in order, skips what it applied, and refuses an entry its log does not hold', () => {
    const { log, twin, put, applied, database } = machineSetup();
    log.persist({ entries: [put(1, 'a'), put(2, 'b'), entry(3, 1)] });
    const outcomes = twin.applyBatch([1, 2].map((index) => ({ index, data: log.entries(index, index + 1, 1000)[0]?.data as Uint8Array })));
    assert.deepEqual(
      outcomes.map((outcome) => outcome.skipped),
      [false, false],
    );
    const again = twin.applyBatch([
      { index: 2, data: put(2, 'b').data },
      { index: 3, data: new Uint8Array() },
    ]);
    assert.deepEqual(
      again.map((outcome) => outcome.skipped),
      [true, false],
    );
    assert.deepEqual(applied, ['1:r1', '2:r2', '3:']);
    assert.equal(database.get('k'), 'b');
    assert.throws(() => twin.applyBatch([{ index: 4, data: new Uint8Array() }]), /beyond the last index/);
  });

  it('halts as SQLite does on a full disk, with the outcomes of the entries before the failing one', () => {
    const { log, twin, put } = machineSetup({ applyHalts: () => true });
    log.persist({ entries: [put(1, 'a'), put(2, 'b')] });
    assert.throws(
      () =>
        twin.applyBatch([
          { index: 1, data: put(1, 'a').data },
          { index: 2, data: put(2, 'b').data },
        ]),
      (error: unknown) => error instanceof StateMachineHaltedError && error.entryIndex === 2 && error.outcomesBefore.length === 1,
    );
    assert.equal(twin.healthy, false);
    assert.equal(twin.appliedIndex, 1);
  });

  it('copies its state when asked and writes the file later; restores a copy after a delay, refusing applies meanwhile', async () => {
    const { log, twin, put, clock, disk, database } = machineSetup();
    log.persist({ entries: [put(1, 'a'), put(2, 'b')] });
    twin.applyBatch([{ index: 1, data: put(1, 'a').data }]);
    const copying = twin.snapshot('/n1/copy');
    twin.applyBatch([{ index: 2, data: put(2, 'b').data }]);
    assert.equal(disk.has('/n1/copy'), false);
    await runUntilIdle(clock);
    assert.deepEqual(await copying, { appliedIndex: 1 });
    const restoring = twin.restore('/n1/copy');
    assert.throws(() => twin.applyNoop(3), /restore was in progress/);
    await runUntilIdle(clock);
    assert.deepEqual(await restoring, { appliedIndex: 1 });
    assert.equal(database.get('k'), 'a');
    await assert.rejects(twin.restore('/n1/missing'), /no snapshot file/);
  });
});

describe('transports', () => {
  function twoNodes() {
    const clock = new SimulatedClock();
    const events: string[] = [];
    const endpoints = new Map<string, Endpoint>();
    const transports = new SimulatedTransports({
      clock,
      networkPrng: new Prng(1),
      networkConfig: { ...defaultNetworkConfig, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0 },
      faultPrng: new Prng(2),
      reportUnreachableProbability: 1,
      endpointOf: (id) => endpoints.get(id),
      onDelivered: (message) => events.push(`delivered ${message.type} ${message.from}>${message.to}`),
      onSnapshotTransfer: (from, to, outcome) => events.push(`snapshot ${from}>${to} ${outcome}`),
    });
    const start = (id: string): Endpoint => {
      const life = new ProcessLife();
      const disk = new SimulatedDisk();
      transports.register(id);
      const endpoint = { nodeId: id, incarnation: 1, life, disk, transport: transports.create(id, 1, life, disk) };
      endpoint.transport.onUnreachable((peer) => events.push(`${id} unreachable ${peer}`));
      endpoint.transport.onMessage((message) => events.push(`${id} got ${message.type}`));
      endpoint.transport.onPeerDisconnected((peer) => events.push(`${id} disconnected ${peer}`));
      endpoints.set(id, endpoint);
      return endpoint;
    };
    return { clock, events, endpoints, transports, start };
  }

  const heartbeat = (from: string, to: string): Message =>
    ({
      type: 'MsgHeartbeat',
      from,
      to,
      term: 1,
      index: 0,
      logTerm: 0,
      commit: 0,
      entries: [],
      reject: false,
      rejectHint: 0,
      context: new Uint8Array(),
    }) as unknown as Message;

  it('delivers only to peers whose address the runtime set; reports the rest unreachable in a later turn', async () => {
    const { clock, events, transports, start } = twoNodes();
    const n1 = start('n1');
    start('n2');
    n1.transport.send([heartbeat('n1', 'n2')]);
    assert.deepEqual(events, []);
    n1.transport.setPeer('n2', 'n2:raft');
    n1.transport.send([heartbeat('n1', 'n2')]);
    for (let due = clock.nextTimerDueMs(); due !== undefined; due = clock.nextTimerDueMs()) clock.runNextTimer();
    while (transports.deliverNextDue(Infinity));
    assert.deepEqual(events, ['n1 unreachable n2', 'delivered MsgHeartbeat n1>n2', 'n2 got MsgHeartbeat']);
  });

  it('streams a snapshot file into the receiver’s disk and answers with the receiver’s verdict; a receiver that dies fails it', async () => {
    const { clock, events, start, transports } = twoNodes();
    const n1 = start('n1');
    const n2 = start('n2');
    n1.transport.setPeer('n2', 'n2:raft');
    n1.disk.write('/n1/snap', new Uint8Array([7, 7]));
    let received: Uint8Array | undefined;
    n2.transport.onSnapshot(async (_metadata, path) => {
      received = n2.disk.read(path);
    });
    const sent = n1.transport.sendSnapshot('n2', { message: 'MsgSnap' }, '/n1/snap');
    await runUntilIdle(clock);
    await sent;
    assert.deepEqual(received, new Uint8Array([7, 7]));
    assert.equal(n2.disk.fileCount, 0, 'the temporary file is removed after the handler settles');
    n2.transport.onSnapshot(() => new Promise<void>(() => undefined));
    const hanging = n1.transport.sendSnapshot('n2', { message: 'MsgSnap' }, '/n1/snap');
    await runUntilIdle(clock);
    n2.life.alive = false;
    transports.processEnded('n2');
    await runUntilIdle(clock);
    await assert.rejects(hanging, /closed the connection/);
    assert.ok(events.includes('n1 disconnected n2'));
    await assert.rejects(n1.transport.sendSnapshot('n2', {}, '/n1/missing'), /no longer exists/);
  });
});
