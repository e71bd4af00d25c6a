import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Prng } from './prng.js';
import { SimulatedNetwork, defaultNetworkConfig, type NetworkConfig } from './network.js';
import { DurableTwin } from './durable-twin.js';
import { KvStateMachine, encodeKvCommand, decodeKvCommand } from './kv-state-machine.js';
import type { ConfChange, Entry } from '../../src/raft/types.js';
import { entryOverheadBytes } from '../../src/raft/types.js';
import { Trace, digestBytes } from './trace.js';

const quiet: NetworkConfig = { ...defaultNetworkConfig, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0 };

function entry(index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

describe('prng', () => {
  it('replays the same stream for the same seed and differs across seeds', () => {
    const draw = (seed: number) => {
      const prng = new Prng(seed);
      return Array.from({ length: 8 }, () => prng.nextUint32());
    };
    assert.deepEqual(draw(1), draw(1));
    assert.notDeepEqual(draw(1), draw(2));
    assert.notDeepEqual(draw(0), draw(2 ** 32), 'the high 32 bits of the seed matter');
  });

  it('stays in range and is roughly uniform', () => {
    const prng = new Prng(3);
    const buckets = [0, 0, 0, 0];
    for (let draw = 0; draw < 40_000; draw++) {
      const value = prng.nextFloat();
      assert.ok(value >= 0 && value < 1);
      buckets[Math.floor(value * 4)]!++;
    }
    for (const count of buckets) assert.ok(Math.abs(count - 10_000) < 600, `bucket count ${count}`);
    for (let draw = 0; draw < 1000; draw++) {
      const value = prng.nextIntBetween(3, 5);
      assert.ok(value >= 3 && value <= 5 && Number.isInteger(value));
    }
  });

  it('rejects bad arguments', () => {
    assert.throws(() => new Prng(-1), /seed/);
    assert.throws(() => new Prng(1.5), /seed/);
    assert.throws(() => new Prng(1).nextInt(0), /bound/);
    assert.throws(() => new Prng(1).chance(2), /probability/);
    assert.throws(() => new Prng(1).pick([]), /empty/);
  });
});

describe('simulated network', () => {
  it('delivers after the delay, in delivery order', () => {
    const network = new SimulatedNetwork<string>(new Prng(1), { ...quiet, delayMsMin: 2, delayMsMax: 2 });
    network.send('a', 'b', 'first', 0);
    network.send('a', 'b', 'second', 1);
    assert.deepEqual(network.deliverDue(1), []);
    assert.deepEqual(
      network.deliverDue(2).map((delivery) => delivery.message),
      ['first'],
    );
    assert.deepEqual(
      network.deliverDue(10).map((delivery) => delivery.message),
      ['second'],
    );
  });

  it('reorders messages when delays vary', () => {
    const network = new SimulatedNetwork<number>(new Prng(5), { ...quiet, delayMsMin: 1, delayMsMax: 20 });
    for (let message = 0; message < 50; message++) network.send('a', 'b', message, 0);
    const order = network.deliverDue(100).map((delivery) => delivery.message);
    assert.equal(order.length, 50);
    assert.notDeepEqual(
      order,
      [...order].sort((left, right) => left - right),
    );
  });

  it('drops and duplicates at the configured rates', () => {
    const network = new SimulatedNetwork<number>(new Prng(9), { ...quiet, dropProbability: 0.3, duplicateProbability: 0.2 });
    for (let message = 0; message < 2000; message++) network.send('a', 'b', message, 0);
    const delivered = network.deliverDue(100).length;
    assert.ok(network.counters.dropped.random > 500 && network.counters.dropped.random < 700, `dropped ${network.counters.dropped.random}`);
    assert.ok(network.counters.duplicated > 200, `duplicated ${network.counters.duplicated}`);
    assert.equal(delivered, 2000 - network.counters.dropped.random + network.counters.duplicated);
  });

  it('cuts links one way, both ways, around a bridge, and heals', () => {
    const network = new SimulatedNetwork<string>(new Prng(2), quiet);
    network.partitionOneWay(['a'], ['b']);
    assert.ok(network.isCut('a', 'b'));
    assert.ok(!network.isCut('b', 'a'));
    network.heal();
    network.bridge(['a', 'b', 'c'], ['c', 'd', 'e'], 'c');
    assert.ok(network.isCut('a', 'd') && network.isCut('e', 'b'));
    assert.ok(!network.isCut('a', 'c') && !network.isCut('c', 'e') && !network.isCut('a', 'b'));
    network.heal();
    assert.equal(network.cutLinkCount(), 0);
  });

  it('loses a message whose link is cut while it is in flight', () => {
    const dropped: string[] = [];
    const network = new SimulatedNetwork<string>(new Prng(2), quiet, (delivery, reason) => dropped.push(`${delivery.message}:${reason}`));
    network.send('a', 'b', 'in-flight', 0);
    network.cut('a', 'b');
    network.send('a', 'b', 'at-send', 0);
    assert.deepEqual(network.deliverDue(100), []);
    assert.deepEqual(dropped, ['at-send:partition', 'in-flight:partition']);
  });

  it('bounds messages in flight at inFlightMessagesMax and drops the overflow', () => {
    const network = new SimulatedNetwork<number>(new Prng(2), { ...quiet, inFlightMessagesMax: 3 });
    for (let message = 0; message < 5; message++) network.send('a', 'b', message, 0);
    assert.equal(network.inFlightCount, 3);
    assert.equal(network.counters.dropped.overflow, 2);
    assert.equal(network.deliverDue(100).length, 3);
  });

  it('discards messages to a crashed node, reporting each drop', () => {
    const dropped: string[] = [];
    const network = new SimulatedNetwork<string>(new Prng(2), quiet, (delivery) => dropped.push(delivery.message));
    network.send('a', 'b', 'to-b', 0);
    network.send('a', 'c', 'to-c', 0);
    network.discardTo('b');
    assert.deepEqual(dropped, ['to-b']);
    assert.deepEqual(
      network.deliverDue(100).map((delivery) => delivery.message),
      ['to-c'],
    );
  });

  it('rejects an invalid configuration with a clear error', () => {
    assert.throws(() => new SimulatedNetwork(new Prng(1), { ...quiet, dropProbability: 1.5 }), /dropProbability must be in \[0, 1\]/);
    assert.throws(() => new SimulatedNetwork(new Prng(1), { ...quiet, delayMsMin: 0 }), /delayMsMin/);
    assert.throws(() => new SimulatedNetwork(new Prng(1), { ...quiet, delayMsMax: 0 }), /delayMsMax/);
    assert.throws(() => new SimulatedNetwork(new Prng(1), { ...quiet, inFlightMessagesMax: 0 }), /inFlightMessagesMax/);
  });
});

describe('durable twin', () => {
  const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };

  it('appends, truncates a conflicting suffix, and answers the RaftStorage reads', () => {
    const twin = new DurableTwin(confState);
    twin.persist({ entries: [entry(1, 1), entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 'n1', commit: 1 } });
    twin.persist({ entries: [entry(3, 2), entry(4, 2)] });
    assert.deepEqual(
      twin.logEntries().map((item) => `${item.index}/${item.term}`),
      ['1/1', '2/1', '3/2', '4/2'],
    );
    assert.equal(twin.firstIndex(), 1);
    assert.equal(twin.lastIndex(), 4);
    assert.equal(twin.term(0), 0);
    assert.equal(twin.term(3), 2);
    assert.deepEqual([twin.hardState, twin.confState], [{ term: 1, vote: 'n1', commit: 1 }, confState]);
    assert.throws(
      () => twin.term(5),
      (error: unknown) => (error as { code?: string }).code === 'UNAVAILABLE',
    );
    assert.throws(() => twin.persist({ entries: [entry(7, 2)] }), /gap/);
  });

  it('limits entries() by bytes, counting the core’s per-entry overhead, but always returns at least one', () => {
    const twin = new DurableTwin(confState);
    twin.persist({ entries: [entry(1, 1, 'aaaa'), entry(2, 1, 'bbbb'), entry(3, 1, 'cccc')] });
    const entryBytes = 4 + entryOverheadBytes;
    assert.equal(twin.entries(1, 4, 1).length, 1);
    assert.equal(twin.entries(1, 4, 2 * entryBytes).length, 2);
    assert.equal(twin.entries(1, 4, 100).length, 3);
  });

  it('compacts, answering COMPACTED below the first index', () => {
    const twin = new DurableTwin(confState);
    twin.persist({ entries: [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 2)], hardState: { term: 2, vote: 'n1', commit: 3 } });
    twin.applyCompact(2, 1);
    assert.equal(twin.firstIndex(), 3);
    assert.equal(twin.term(2), 1);
    assert.throws(
      () => twin.term(1),
      (error: unknown) => (error as { code?: string }).code === 'COMPACTED',
    );
    assert.throws(
      () => twin.entries(2, 4, 100),
      (error: unknown) => (error as { code?: string }).code === 'COMPACTED',
    );
  });

  it('replaces its whole log with a snapshot received from a leader', () => {
    const twin = new DurableTwin(confState);
    twin.persist({ entries: [entry(1, 1), entry(2, 1)] });
    twin.persist({ snapshot: { metadata: { index: 10, term: 3, confState }, data: new Uint8Array([9]) }, entries: [] });
    assert.equal(twin.firstIndex(), 11);
    assert.equal(twin.lastIndex(), 10);
    assert.equal(twin.term(10), 3);
    assert.deepEqual(twin.installedSnapshot, { index: 10, term: 3, confState });
  });

  it('keeps everything across a crash when healthy; loses the vote or the last append only when planted', () => {
    const persistTwo = (twin: DurableTwin) => {
      twin.persist({ entries: [entry(1, 1)], hardState: { term: 1, vote: 'n2', commit: 1 } });
      twin.persist({ entries: [entry(2, 1), entry(3, 1)], hardState: { term: 1, vote: 'n2', commit: 3 } });
    };
    const healthy = new DurableTwin(confState);
    persistTwo(healthy);
    healthy.crash(0);
    assert.deepEqual([healthy.hardState, healthy.lastIndex()], [{ term: 1, vote: 'n2', commit: 3 }, 3]);
    const forgetful = new DurableTwin(confState, { forgetVoteOnRestart: true });
    persistTwo(forgetful);
    forgetful.crash(0);
    assert.equal(forgetful.hardState.vote, '');
    const lying = new DurableTwin(confState, { loseLastAppendOnRestart: true });
    persistTwo(lying);
    lying.crash(0);
    assert.deepEqual([lying.hardState, lying.lastIndex()], [{ term: 1, vote: 'n2', commit: 1 }, 1]);
    const lyingAboveApplied = new DurableTwin(confState, { loseLastAppendOnRestart: true });
    persistTwo(lyingAboveApplied);
    lyingAboveApplied.crash(2);
    assert.equal(lyingAboveApplied.lastIndex(), 2, 'never loses what the database applied');
  });
});

describe('kv state machine', () => {
  const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };
  const decodeConfChange = (data: Uint8Array): ConfChange => JSON.parse(new TextDecoder().decode(data)) as ConfChange;
  const command = (index: number, requestId: string, kind: 'put' | 'append', value: string): Entry => ({
    index,
    term: 1,
    type: 'normal',
    data: encodeKvCommand({ requestId, kind, key: 'x', value }),
  });

  it('applies put and append in order and round-trips through a snapshot', () => {
    const machine = new KvStateMachine(confState, decodeConfChange);
    machine.apply(entry(1, 1));
    machine.apply(command(2, 'r1', 'put', 'a'));
    assert.equal(machine.apply(command(3, 'r2', 'append', 'b')).label, 'r2');
    const change = { type: 'add-learner', nodeId: 'n4', context: new Uint8Array() };
    machine.apply({ index: 4, term: 1, type: 'conf-change', data: new TextEncoder().encode(JSON.stringify(change)) });
    assert.equal(machine.get('x'), 'ab');
    assert.deepEqual(machine.confState, { voters: ['n1', 'n2', 'n3'], learners: ['n4'] });
    const copy = new KvStateMachine(confState, decodeConfChange);
    copy.restore(machine.snapshotData(), 4, 1);
    assert.equal(copy.fingerprint(), machine.fingerprint());
    assert.throws(() => machine.apply(command(6, 'r3', 'put', 'c')), /in order without gaps/);
  });

  it('refuses malformed commands', () => {
    assert.throws(() => decodeKvCommand(new TextEncoder().encode('[1,2]')), /4-element/);
    assert.throws(() => decodeKvCommand(new TextEncoder().encode('["r","delete","k","v"]')), /unknown kv command kind/);
    assert.deepEqual(decodeKvCommand(encodeKvCommand({ requestId: 'r', kind: 'put', key: 'k', value: 'v' })), {
      requestId: 'r',
      kind: 'put',
      key: 'k',
      value: 'v',
    });
  });
});

describe('trace', () => {
  it('keeps the last tailLinesMax lines, hashes every event, and prints each through the sink', () => {
    const printed: string[] = [];
    const trace = new Trace(3, (line) => printed.push(line));
    for (let step = 0; step < 5; step++) trace.record(step, 'event', `n${step}`, step);
    assert.deepEqual(
      trace.tailLines().map((line) => line.trim()),
      ['2 event n2 2', '3 event n3 3', '4 event n4 4'],
    );
    assert.equal(printed.length, 5);
    assert.match(trace.hash(), /^[0-9a-f]{8}:5$/);
    const other = new Trace(3);
    for (let step = 0; step < 5; step++) other.record(step, 'event', `n${step}`, step === 4 ? 5 : step);
    assert.notEqual(other.hash(), trace.hash(), 'a changed field changes the hash');
    assert.throws(() => new Trace(0), /tailLinesMax/);
  });

  it('digests bytes', () => {
    assert.equal(digestBytes(new Uint8Array([1, 2])), digestBytes(new Uint8Array([1, 2])));
    assert.notEqual(digestBytes(new Uint8Array([1, 2])), digestBytes(new Uint8Array([2, 1])));
  });
});
