import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckerVerdict, ListAppendOperation, MicroOperation, Outcome } from './history.js';
import { checkListAppend } from './checkers/list-append.js';
import { serialListAppendHistory } from './checkers/serial-histories.js';
import { Prng } from '../sim/prng.js';

const append = (key: number, element: number): MicroOperation => ['append', key, element];
const read = (key: number, list: readonly number[]): MicroOperation => ['r', key, list];

/** A transaction with id `id`, run in [invokeMs, completeMs]; reads carry what they saw (dropped unless ok). */
function transaction(id: number, outcome: Outcome, invokeMs: number, completeMs: number, ...micro: MicroOperation[]): ListAppendOperation {
  const input = micro.map((operation): MicroOperation => (operation[0] === 'r' ? ['r', operation[1], null] : operation));
  const base = { id, process: id, f: 'txn' as const, input, outcome, invokeMs, completeMs, node: 'http://n1' };
  return outcome === 'ok' ? { ...base, output: micro } : { ...base, error: 'TIMEOUT' };
}

function anomalyTypes(verdict: CheckerVerdict): string[] {
  return [...new Set(verdict.anomalies.map((anomaly) => anomaly.type))].sort();
}

function assertOnly(verdict: CheckerVerdict, type: string): void {
  assert.equal(verdict.valid, false, `expected ${type}`);
  assert.deepEqual(anomalyTypes(verdict), [type], verdict.anomalies.map((anomaly) => anomaly.explanation).join('\n'));
}

function assertValid(verdict: CheckerVerdict): void {
  assert.equal(verdict.valid, true, verdict.anomalies.map((anomaly) => `${anomaly.type}: ${anomaly.explanation}`).join('\n'));
}

describe('list-append checker: valid histories', () => {
  it('accepts sequential and concurrent transactions', () => {
    assertValid(
      checkListAppend([
        transaction(1, 'ok', 0, 10, append(1, 1), read(2, [])),
        transaction(2, 'ok', 5, 20, append(1, 2), append(2, 1)),
        transaction(3, 'ok', 6, 25, read(1, [1]), read(2, [])),
        transaction(4, 'ok', 30, 40, read(1, [1, 2]), append(1, 3), read(1, [1, 2, 3]), read(2, [1])),
      ]),
    );
  });

  it('accepts an info transaction that took effect, even after its client gave up', () => {
    assertValid(
      checkListAppend([transaction(1, 'info', 0, 5, append(1, 1)), transaction(2, 'ok', 10, 20, read(1, [])), transaction(3, 'ok', 30, 40, read(1, [1]))]),
    );
  });

  it('accepts an info transaction that never took effect, and a failed one nobody saw', () => {
    assertValid(
      checkListAppend([
        transaction(1, 'info', 0, 5, append(1, 1)),
        transaction(2, 'fail', 0, 5, append(1, 2)),
        transaction(3, 'ok', 10, 20, append(1, 3)),
        transaction(4, 'ok', 30, 40, read(1, [3])),
      ]),
    );
  });

  it('accepts a read of an info append followed by more appends', () => {
    assertValid(
      checkListAppend([
        transaction(1, 'info', 0, 5, append(1, 1), read(2, [9])),
        transaction(2, 'ok', 10, 20, read(1, [1]), append(1, 2)),
        transaction(3, 'ok', 30, 40, read(1, [1, 2])),
      ]),
    );
  });
});

describe('list-append checker: anomalies visible in one read or transaction', () => {
  it('finds an element read twice', () => {
    assertOnly(checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, read(1, [1, 1]))]), 'duplicate-elements');
  });

  it('finds an element nobody appended', () => {
    assertOnly(checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, read(1, [1, 7]))]), 'garbage');
  });

  it('finds an aborted read (G1a)', () => {
    const verdict = checkListAppend([transaction(1, 'fail', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, read(1, [1]))]);
    assertOnly(verdict, 'G1a');
    assert.deepEqual(verdict.anomalies[0]?.operationIds, [2, 1]);
    assert.match(verdict.anomalies[0]?.explanation ?? '', /appended by T1, which failed/);
  });

  it('finds an intermediate read (G1b), but not in the appender itself', () => {
    // Concurrent, or T1's second append would also be a lost append.
    assertOnly(checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1), append(1, 2)), transaction(2, 'ok', 5, 30, read(1, [1]))]), 'G1b');
    assertValid(checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1), read(1, [1]), append(1, 2)), transaction(2, 'ok', 20, 30, read(1, [1, 2]))]));
  });

  it('finds a transaction that does not see its own appends or its own earlier read (internal)', () => {
    assertOnly(checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1), read(1, []))]), 'internal');
    assertOnly(checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 5, 30, read(1, []), read(1, [1]))]), 'internal');
  });

  it("finds a read that holds part of a transaction's appends, or holds them out of order (non-atomic-appends)", () => {
    const appender = transaction(1, 'ok', 0, 10, append(1, 1), append(1, 2), append(1, 3));
    assertOnly(checkListAppend([appender, transaction(2, 'ok', 5, 30, read(1, [2, 3]))]), 'non-atomic-appends');
    assertOnly(checkListAppend([appender, transaction(2, 'ok', 20, 30, read(1, [2, 1, 3]))]), 'non-atomic-appends');
  });

  it('finds a read of an element its own transaction appends only later (internal)', () => {
    const verdict = checkListAppend([transaction(1, 'ok', 0, 10, read(1, [1]), append(1, 1))]);
    assertOnly(verdict, 'internal');
    assert.match(verdict.anomalies[0]?.explanation ?? '', /holds 1, which the transaction appends only later/);
  });

  it('finds two reads that disagree on the order (incompatible-order)', () => {
    const verdict = checkListAppend(
      [
        transaction(1, 'ok', 0, 10, append(1, 1)),
        transaction(2, 'ok', 0, 10, append(1, 2)),
        transaction(3, 'ok', 20, 30, read(1, [1, 2])),
        transaction(4, 'ok', 20, 30, read(1, [2])),
      ],
      { realtime: false },
    );
    assertOnly(verdict, 'incompatible-order');
    assert.deepEqual([...(verdict.anomalies[0]?.operationIds ?? [])].sort(), [3, 4]);
  });

  it('finds an acknowledged append that no later read saw (lost-append), only under real time', () => {
    const history = [transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, append(1, 2)), transaction(3, 'ok', 40, 50, read(1, [2]))];
    assertOnly(checkListAppend(history), 'lost-append');
    assertValid(checkListAppend(history, { realtime: false }));
  });
});

describe('list-append checker: dependency cycles', () => {
  it('finds a cycle of write dependencies (G0) and explains it', () => {
    const verdict = checkListAppend([
      transaction(1, 'ok', 0, 10, append(1, 1), append(2, 1)),
      transaction(2, 'ok', 0, 10, append(1, 2), append(2, 2)),
      transaction(3, 'ok', 20, 30, read(1, [1, 2]), read(2, [2, 1])),
    ]);
    assertOnly(verdict, 'G0');
    const explanation = verdict.anomalies[0]?.explanation ?? '';
    assert.match(explanation, /T1 -ww\[key 1\]-> T2 -ww\[key 2\]-> T1|T2 -ww\[key 2\]-> T1 -ww\[key 1\]-> T2/);
    assert.match(explanation, /T1 \(process 1, ok, 0–10 ms\): append 1 1, append 2 1/);
    assert.deepEqual([...(verdict.anomalies[0]?.operationIds ?? [])].sort(), [1, 2]);
  });

  it('finds circular information flow (G1c)', () => {
    const verdict = checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1), read(2, [1])), transaction(2, 'ok', 0, 10, append(2, 1), read(1, [1]))]);
    assertOnly(verdict, 'G1c');
    assert.match(verdict.anomalies[0]?.explanation ?? '', /-wr\[key \d\]->.*-wr\[key \d\]->/);
  });

  it('finds read skew (G-single)', () => {
    const verdict = checkListAppend([
      transaction(1, 'ok', 0, 10, append(1, 1), append(2, 1)),
      transaction(2, 'ok', 0, 10, read(1, []), read(2, [1])),
      transaction(3, 'ok', 20, 30, read(1, [1])),
    ]);
    assertOnly(verdict, 'G-single');
    assert.match(verdict.anomalies[0]?.explanation ?? '', /T2 -rw\[key 1\]-> T1 -wr\[key 2\]-> T2|T1 -wr\[key 2\]-> T2 -rw\[key 1\]-> T1/);
  });

  it('reports each kind of cycle a component holds', () => {
    const verdict = checkListAppend([
      transaction(1, 'ok', 0, 10, append(1, 1), append(2, 1)),
      transaction(2, 'ok', 0, 10, read(1, []), read(2, [1])),
      transaction(3, 'ok', 20, 30, read(1, [1])),
      transaction(4, 'ok', 40, 50, read(2, [])),
    ]);
    assert.deepEqual(anomalyTypes(verdict), ['G-single', 'G-single-realtime']);
    assert.equal(verdict.stats['cyclicComponents'], 1);
  });

  it('still reports a cycle when the bounded search runs out, and counts it', () => {
    const verdict = checkListAppend(
      [
        transaction(1, 'ok', 0, 10, append(1, 1), append(2, 1)),
        transaction(2, 'ok', 0, 10, read(1, []), read(2, [1])),
        transaction(3, 'ok', 20, 30, read(1, [1])),
      ],
      { searchVisitsMax: 0 },
    );
    assert.equal(verdict.valid, false);
    assert.equal(verdict.anomalies.length, 1);
    assert.equal(verdict.stats['cycleSearchesCutShort'], 1);
  });

  it('finds write skew (G2)', () => {
    assertOnly(
      checkListAppend([
        transaction(1, 'ok', 0, 10, read(1, []), append(2, 1)),
        transaction(2, 'ok', 0, 10, read(2, []), append(1, 1)),
        transaction(3, 'ok', 20, 30, read(1, [1]), read(2, [1])),
      ]),
      'G2',
    );
  });

  it('finds a stale read only with real-time edges (G-single-realtime)', () => {
    const history = [transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, read(1, [])), transaction(3, 'ok', 40, 50, read(1, [1]))];
    const verdict = checkListAppend(history);
    assertOnly(verdict, 'G-single-realtime');
    assert.match(verdict.anomalies[0]?.explanation ?? '', /T2 -rw\[key 1\]-> T1 -realtime-> T2|T1 -realtime-> T2 -rw\[key 1\]-> T1/);
    assertValid(checkListAppend(history, { realtime: false }));
  });

  it('finds appends committed against real-time order (G0-realtime)', () => {
    const history = [transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, append(1, 2)), transaction(3, 'ok', 40, 50, read(1, [2, 1]))];
    assertOnly(checkListAppend(history), 'G0-realtime');
    assertValid(checkListAppend(history, { realtime: false }));
  });

  it('orders every reader before an acknowledged append no read saw', () => {
    // T1's append to key 2 is never read, but T2 missed it while seeing T1's append to key 1.
    const verdict = checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1), append(2, 1)), transaction(2, 'ok', 0, 10, read(1, [1]), read(2, []))], {
      realtime: false,
    });
    assertOnly(verdict, 'G-single');
    assert.match(verdict.anomalies[0]?.explanation ?? '', /-rw\[key 2\]->/);
  });

  it('orders nothing between transactions whose times touch', () => {
    assertValid(
      checkListAppend([transaction(1, 'ok', 0, 10, append(1, 1)), transaction(2, 'ok', 10, 30, read(1, [])), transaction(3, 'ok', 40, 50, read(1, [1]))]),
    );
  });

  it('gives an info transaction write edges but no outgoing real-time edge', () => {
    // T1 is unknown: it may commit after T2 began, so T2's empty read is no anomaly...
    assertValid(
      checkListAppend([transaction(1, 'info', 0, 10, append(1, 1)), transaction(2, 'ok', 20, 30, read(1, [])), transaction(3, 'ok', 40, 50, read(1, [1]))]),
    );
    // ...but once it is known to have committed, it is ordered by what was read.
    assertOnly(
      checkListAppend([
        transaction(1, 'info', 0, 10, append(1, 1), append(2, 1)),
        transaction(2, 'ok', 0, 10, read(1, []), read(2, [1])),
        transaction(3, 'ok', 20, 30, read(1, [1])),
      ]),
      'G-single',
    );
  });

  it('reaches a real-time predecessor through the transactions between', () => {
    // T1 → T2 → T3 in real time; T3's stale read needs the chain, not a direct edge.
    const verdict = checkListAppend([
      transaction(1, 'ok', 0, 10, append(1, 1)),
      transaction(2, 'ok', 20, 30, append(2, 1)),
      transaction(3, 'ok', 40, 50, read(1, [])),
      transaction(4, 'ok', 60, 70, read(1, [1])),
    ]);
    assertOnly(verdict, 'G-single-realtime');
  });
});

function corruptedVerdict(seed: number, corrupt: (history: ListAppendOperation[], prng: Prng) => boolean): CheckerVerdict | undefined {
  const prng = new Prng(seed);
  const history = serialListAppendHistory(prng, 300, { activeKeyCount: 3 });
  assertValid(checkListAppend(history));
  return corrupt(history, prng) ? checkListAppend(history) : undefined;
}

function okReads(history: readonly ListAppendOperation[]): { operation: ListAppendOperation; index: number; key: number; list: readonly number[] }[] {
  return history.flatMap((operation) =>
    operation.outcome !== 'ok'
      ? []
      : (operation.output ?? []).flatMap((micro, index) =>
          micro[0] === 'r' && micro[2] !== null ? [{ operation, index, key: micro[1], list: micro[2] }] : [],
        ),
  );
}

function replaceRead(history: ListAppendOperation[], operation: ListAppendOperation, index: number, list: readonly number[]): void {
  const output = [...(operation.output ?? [])];
  output[index] = ['r', (output[index] as MicroOperation)[1], list];
  history[history.indexOf(operation)] = { ...operation, output };
}

/** Swap two adjacent elements in a read that another read covers: the two cannot both be prefixes of one order. */
function swapElements(history: ListAppendOperation[], prng: Prng): boolean {
  const reads = okReads(history);
  const candidates = reads.filter(
    (target) =>
      target.list.length >= 2 &&
      reads.some((other) => other.operation !== target.operation && other.key === target.key && other.list.length >= target.list.length),
  );
  if (candidates.length === 0) return false;
  const target = prng.pick(candidates);
  const at = prng.nextInt(target.list.length - 1);
  const list = [...target.list];
  [list[at], list[at + 1]] = [list[at + 1] as number, list[at] as number];
  replaceRead(history, target.operation, target.index, list);
  return true;
}

/** Remove an acknowledged append from every other transaction's read, where a read began after it completed. */
function dropAppend(history: ListAppendOperation[], prng: Prng): boolean {
  const reads = okReads(history);
  const candidates = history.flatMap((operation) =>
    operation.outcome !== 'ok'
      ? []
      : operation.input.flatMap((micro) =>
          micro[0] === 'append' && reads.some((target) => target.key === micro[1] && target.operation.invokeMs > operation.completeMs)
            ? [{ operation, key: micro[1], element: micro[2] }]
            : [],
        ),
  );
  if (candidates.length === 0) return false;
  const lost = prng.pick(candidates);
  for (const target of reads) {
    if (target.key === lost.key && target.operation !== lost.operation && target.list.includes(lost.element)) {
      const current = history.find((operation) => operation.id === target.operation.id) as ListAppendOperation;
      replaceRead(
        history,
        current,
        target.index,
        target.list.filter((element) => element !== lost.element),
      );
    }
  }
  return true;
}

/** Cut a read (alone on its key in its transaction) back to before an append that completed before the read began. */
function makeStale(history: ListAppendOperation[], prng: Prng): boolean {
  const appenders = new Map<string, ListAppendOperation>();
  for (const operation of history) for (const micro of operation.input) if (micro[0] === 'append') appenders.set(`${micro[1]}:${micro[2]}`, operation);
  const candidates = okReads(history).flatMap((target) => {
    if (target.operation.input.filter((micro) => micro[1] === target.key).length !== 1) return [];
    const cut = target.list.findIndex((element) => {
      const appender = appenders.get(`${target.key}:${element}`);
      return appender?.outcome === 'ok' && appender.completeMs < target.operation.invokeMs;
    });
    return cut < 0 ? [] : [{ target, cut }];
  });
  if (candidates.length === 0) return false;
  const { target, cut } = prng.pick(candidates);
  replaceRead(history, target.operation, target.index, target.list.slice(0, prng.nextInt(cut + 1)));
  return true;
}

describe('list-append checker on histories of a correct serial execution', () => {
  it('accepts 40 random histories with overlaps, failures and unknown outcomes', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const history = serialListAppendHistory(new Prng(seed), 300, { activeKeyCount: 3, infoProbability: 0.15, failProbability: 0.15 });
      const verdict = checkListAppend(history);
      assertValid(verdict);
      assert.ok((verdict.stats['edges'] ?? 0) > 300, `seed ${seed}: the history should be dense in dependencies`);
    }
  });

  for (const [name, corrupt] of [
    ['two elements swapped in one read', swapElements],
    ['an acknowledged append dropped from later reads', dropAppend],
    ['a stale read', makeStale],
  ] as const) {
    it(`rejects each of 30 histories with ${name}`, () => {
      let planted = 0;
      for (let seed = 100; seed < 130; seed++) {
        const verdict = corruptedVerdict(seed, corrupt);
        if (verdict === undefined) continue;
        planted++;
        assert.equal(verdict.valid, false, `seed ${seed}: ${name} went unnoticed`);
      }
      assert.ok(planted >= 25, `only ${planted} of 30 histories had room for the corruption`);
    });
  }

  it('finds a cycle through 20,000 transactions (no recursion) and keeps its explanation short', () => {
    const count = 20_000;
    const history = Array.from({ length: count }, (_, index) => transaction(index, 'ok', 10 * index, 10 * index + 5, append(1, index)));
    // Appended one after the other in real time, read as if the first came last.
    const order = [...Array.from({ length: count - 1 }, (_, index) => index + 1), 0];
    history.push(transaction(count, 'ok', 10 * count, 10 * count + 5, read(1, order)));
    const verdict = checkListAppend(history);
    assertOnly(verdict, 'G0-realtime');
    assert.equal(verdict.stats['largestCyclicComponent'], count);
    const explanation = verdict.anomalies[0]?.explanation ?? '';
    assert.match(explanation, /^a cycle of 20000 transactions/);
    assert.ok(explanation.length < 4000, `explanation of ${explanation.length} characters`);
  });

  it('checks 20,000 transactions', () => {
    const history = serialListAppendHistory(new Prng(2024), 20_000, { activeKeyCount: 8, processCount: 10 });
    const verdict = checkListAppend(history);
    assertValid(verdict);
    assert.equal(verdict.stats['transactions'], 20_000);
    assert.ok((verdict.stats['transactionsInGraph'] ?? 0) > 15_000);
  });
});
