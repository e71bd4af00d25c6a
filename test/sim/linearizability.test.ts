import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory, type Operation } from './linearizability.js';
import { kvModel, type KvInput, type KvOutput } from './kv-model.js';
import { HistoryRecorder } from './history.js';
import { Prng } from './prng.js';

type KvOperation = Operation<KvInput, KvOutput>;
let nextId = 1;

/** put/append/get on `key`, invoked at `invokeTime`, returning at `returnTime` (undefined: unknown). */
function put(clientId: number, key: string, value: string, invokeTime: number, returnTime?: number): KvOperation {
  return {
    operationId: nextId++,
    clientId,
    input: { kind: 'put', key, value },
    output: returnTime === undefined ? undefined : null,
    invokeTime,
    returnTime: returnTime ?? Infinity,
  };
}
function append(clientId: number, key: string, value: string, invokeTime: number, returnTime?: number): KvOperation {
  return {
    operationId: nextId++,
    clientId,
    input: { kind: 'append', key, value },
    output: returnTime === undefined ? undefined : null,
    invokeTime,
    returnTime: returnTime ?? Infinity,
  };
}
function get(clientId: number, key: string, output: string, invokeTime: number, returnTime: number): KvOperation {
  return { operationId: nextId++, clientId, input: { kind: 'get', key }, output, invokeTime, returnTime };
}

describe('linearizability checker on hand-made histories', () => {
  it('accepts a sequential history', () => {
    const result = checkHistory(kvModel, [put(1, 'x', 'a', 1, 2), get(1, 'x', 'a', 3, 4), append(2, 'x', 'b', 5, 6), get(2, 'x', 'ab', 7, 8)]);
    assert.equal(result.outcome, 'linearizable');
  });

  it('accepts a read concurrent with a write seeing either the old or the new value', () => {
    for (const seen of ['', 'a']) {
      const result = checkHistory(kvModel, [put(1, 'x', 'a', 1, 10), get(2, 'x', seen, 2, 3)]);
      assert.equal(result.outcome, 'linearizable', `read of ${JSON.stringify(seen)}`);
    }
  });

  it('accepts reads that order two concurrent writes the same way', () => {
    const result = checkHistory(kvModel, [put(1, 'x', 'a', 1, 10), put(2, 'x', 'b', 2, 11), get(3, 'x', 'b', 3, 4), get(3, 'x', 'a', 5, 6)]);
    assert.equal(result.outcome, 'linearizable');
  });

  it('rejects a stale read', () => {
    const result = checkHistory(kvModel, [put(1, 'x', '1', 1, 2), put(1, 'x', '2', 3, 4), get(2, 'x', '1', 5, 6)]);
    assert.equal(result.outcome, 'not-linearizable');
    assert.match(result.explanation, /partition x/);
    assert.match(result.explanation, /get x -> "1"/);
  });

  it('rejects a lost write', () => {
    const result = checkHistory(kvModel, [append(1, 'x', 'a', 1, 2), append(2, 'x', 'b', 3, 4), get(3, 'x', 'b', 5, 6)]);
    assert.equal(result.outcome, 'not-linearizable');
  });

  it('rejects an order violation between real-time-ordered writes', () => {
    const result = checkHistory(kvModel, [append(1, 'x', 'a', 1, 2), append(1, 'x', 'b', 3, 4), get(2, 'x', 'ba', 5, 6)]);
    assert.equal(result.outcome, 'not-linearizable');
  });

  it('rejects two reads that order concurrent writes in opposite ways', () => {
    const result = checkHistory(kvModel, [
      put(1, 'x', 'a', 1, 20),
      put(2, 'x', 'b', 2, 21),
      get(3, 'x', 'a', 3, 4),
      get(3, 'x', 'b', 5, 6),
      get(4, 'x', 'a', 7, 8),
    ]);
    assert.equal(result.outcome, 'not-linearizable');
  });

  it('treats an unknown write as possibly applied at any later time, or never', () => {
    assert.equal(checkHistory(kvModel, [put(1, 'x', 'a', 1), get(2, 'x', '', 5, 6), get(2, 'x', 'a', 7, 8)]).outcome, 'linearizable');
    assert.equal(checkHistory(kvModel, [put(1, 'x', 'a', 1), get(2, 'x', '', 5, 6)]).outcome, 'linearizable');
    // Once seen, an unknown write cannot be un-done.
    assert.equal(checkHistory(kvModel, [put(1, 'x', 'a', 1), get(2, 'x', 'a', 5, 6), get(2, 'x', '', 7, 8)]).outcome, 'not-linearizable');
    // It cannot take effect before it was invoked.
    assert.equal(checkHistory(kvModel, [get(2, 'x', 'a', 1, 2), put(1, 'x', 'a', 3)]).outcome, 'not-linearizable');
  });

  it('checks keys independently and names the failing key', () => {
    const result = checkHistory(kvModel, [put(1, 'x', 'a', 1, 2), get(1, 'x', 'a', 3, 4), put(2, 'y', 'b', 1, 2), get(2, 'y', '', 3, 4)]);
    assert.equal(result.outcome, 'not-linearizable');
    assert.deepEqual(
      result.partitions.map((partition) => [partition.partitionKey, partition.outcome]),
      [
        ['x', 'linearizable'],
        ['y', 'not-linearizable'],
      ],
    );
  });

  it('answers unknown when the search bound is exceeded, and decides with a larger bound', () => {
    const operations: KvOperation[] = [];
    for (let clientId = 0; clientId < 7; clientId++) operations.push(append(clientId, 'x', String.fromCharCode(97 + clientId), 1, 100));
    operations.push(get(20, 'x', 'gfedcba', 101, 102));
    assert.equal(checkHistory(kvModel, operations, { searchStepsMax: 50 }).outcome, 'unknown');
    assert.equal(checkHistory(kvModel, operations, { searchStepsMax: 1_000_000 }).outcome, 'linearizable');
  });

  it('is exact at the search bound: the step count that suffices, and one fewer', () => {
    const operations = [put(1, 'x', 'a', 1, 2), get(1, 'x', 'a', 3, 4)];
    const stepCount = checkHistory(kvModel, operations).partitions[0]?.stepCount ?? 0;
    assert.ok(stepCount > 0);
    assert.equal(checkHistory(kvModel, operations, { searchStepsMax: stepCount }).outcome, 'linearizable');
    assert.equal(checkHistory(kvModel, operations, { searchStepsMax: stepCount - 1 }).outcome, 'unknown');
  });

  it('decides a long concurrent linearizable history quickly thanks to memoization', () => {
    const prng = new Prng(7);
    const operations: KvOperation[] = [];
    let value = '';
    let time = 1;
    // Four clients, each op spans a random window around the moment it takes effect.
    for (let index = 0; index < 2000; index++) {
      const effectTime = time;
      time += 3;
      const invokeTime = effectTime - prng.nextInt(3) - 0.5;
      const returnTime = effectTime + prng.nextInt(3) + 0.5;
      if (prng.chance(0.5)) {
        value += `${index % 10}`;
        operations.push({
          operationId: index,
          clientId: index % 4,
          input: { kind: 'append', key: 'x', value: `${index % 10}` },
          output: null,
          invokeTime,
          returnTime,
        });
      } else {
        operations.push({ operationId: index, clientId: index % 4, input: { kind: 'get', key: 'x' }, output: value, invokeTime, returnTime });
      }
    }
    assert.equal(checkHistory(kvModel, operations).outcome, 'linearizable');
  });

  it('agrees with a brute-force search on 400 random small histories', () => {
    const prng = new Prng(42);
    const outcomes = { linearizable: 0, 'not-linearizable': 0 };
    for (let round = 0; round < 400; round++) {
      const operations = randomSmallHistory(prng);
      const expected = bruteForceLinearizable(operations) ? 'linearizable' : 'not-linearizable';
      const actual = checkHistory(kvModel, operations).outcome;
      assert.equal(actual, expected, `round ${round}: ${JSON.stringify(operations)}`);
      outcomes[expected]++;
    }
    // The generator must exercise both answers, or the comparison proves little.
    assert.ok(outcomes.linearizable > 50 && outcomes['not-linearizable'] > 50, JSON.stringify(outcomes));
  });
});

describe('history recorder', () => {
  it('records invoke/ok/fail/info and yields operations to check', () => {
    const history = new HistoryRecorder<KvInput, KvOutput>();
    const write = history.invoke(1, { kind: 'put', key: 'x', value: 'a' });
    const read = history.invoke(2, { kind: 'get', key: 'x' });
    const lost = history.invoke(3, { kind: 'put', key: 'x', value: 'b' });
    history.ok(write, null);
    history.fail(read, 'not leader');
    history.info(lost, 'timed out');
    const pending = history.invoke(1, { kind: 'append', key: 'x', value: 'c' });
    const operations = history.operations();
    assert.deepEqual(
      operations.map((operation) => [operation.operationId, operation.returnTime === Infinity]),
      [
        [write, false],
        [lost, true],
        [pending, true],
      ],
    );
    assert.deepEqual(
      history.events.map((event) => event.type),
      ['invoke', 'invoke', 'invoke', 'ok', 'fail', 'info', 'invoke'],
    );
    assert.deepEqual(
      history.events.map((event) => event.time),
      [1, 2, 3, 4, 5, 6, 7],
    );
  });

  it('refuses a second completion, a second operation per client, and histories past eventsMax', () => {
    const history = new HistoryRecorder<KvInput, KvOutput>(4);
    const id = history.invoke(1, { kind: 'get', key: 'x' });
    assert.throws(() => history.invoke(1, { kind: 'get', key: 'x' }), /already has an operation in flight/);
    history.ok(id, '');
    assert.throws(() => history.ok(id, ''), /not open/);
    assert.throws(() => history.fail(999, 'x'), /not open/);
    const second = history.invoke(1, { kind: 'get', key: 'x' });
    history.ok(second, '');
    assert.equal(history.events.length, 4);
    assert.throws(() => history.invoke(1, { kind: 'get', key: 'x' }), /eventsMax/);
  });
});

function randomSmallHistory(prng: Prng): KvOperation[] {
  const operationCount = prng.nextIntBetween(2, 6);
  const operations: KvOperation[] = [];
  for (let index = 0; index < operationCount; index++) {
    const invokeTime = prng.nextIntBetween(1, 12) * 2;
    const unknown = prng.chance(0.15);
    const returnTime = unknown ? undefined : invokeTime + prng.nextIntBetween(1, 6) * 2 - 1;
    const roll = prng.nextInt(3);
    const value = String.fromCharCode(97 + index);
    if (roll === 0) operations.push(put(index, 'x', value, invokeTime, returnTime));
    else if (roll === 1) operations.push(append(index, 'x', value, invokeTime, returnTime));
    else {
      const seen = ['', 'a', 'b', 'ab', 'ba', 'c', 'bc', 'ac'][prng.nextInt(8)] ?? '';
      operations.push(get(index, 'x', seen, invokeTime, returnTime ?? invokeTime + 1));
    }
  }
  return operations;
}

/** Every ordering of every subset that keeps all known operations: exponential, for tiny histories only. */
function bruteForceLinearizable(operations: readonly KvOperation[]): boolean {
  const search = (done: readonly KvOperation[], remaining: readonly KvOperation[], state: string): boolean => {
    if (remaining.every((operation) => operation.output === undefined)) return true;
    for (const candidate of remaining) {
      const others = remaining.filter((operation) => operation !== candidate);
      // Real time: nothing left may have returned before the candidate was invoked.
      if (others.some((operation) => operation.returnTime < candidate.invokeTime)) continue;
      const step = kvModel.step(state, candidate.input, candidate.output);
      if (step.legal && search([...done, candidate], others, step.state)) return true;
      // An unknown operation may also never take effect.
      if (candidate.output === undefined && search(done, others, state)) return true;
    }
    return false;
  };
  return search([], operations, kvModel.initialState);
}
