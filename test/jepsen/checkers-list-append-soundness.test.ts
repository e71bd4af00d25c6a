import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { ListAppendOperation, MicroOperation, Outcome } from './history.js';
import { checkListAppend } from './checkers/list-append.js';
import { Prng } from '../sim/prng.js';

/**
 * Soundness against brute force: on small random histories, every anomaly the checker
 * reports must mean that no serial order of the committed transactions (ok ones plus any
 * subset of info ones, respecting real time when asked) reproduces the reads. Elle-style
 * inference is not complete in general, so the converse is only bounded, not asserted.
 */

function randomHistory(prng: Prng): ListAppendOperation[] {
  const count = prng.nextIntBetween(2, 5);
  let nextElement = 1;
  const plans = Array.from({ length: count }, (_, id) => {
    const micro: MicroOperation[] = Array.from({ length: prng.nextIntBetween(1, 3) }, () =>
      prng.chance(0.5) ? ['append', prng.nextInt(2), nextElement++] : ['r', prng.nextInt(2), null],
    );
    const roll = prng.nextFloat();
    const outcome: Outcome = roll < 0.7 ? 'ok' : roll < 0.85 ? 'info' : 'fail';
    const invokeMs = prng.nextInt(40);
    return { id, micro, outcome, invokeMs, completeMs: invokeMs + 1 + prng.nextInt(30) };
  });
  // Reads come from one random serial order of a random committed set, real time ignored,
  // and then one read is sometimes damaged.
  const committed = prng.shuffle(plans.filter((plan) => plan.outcome === 'ok' || (plan.outcome === 'info' && prng.chance(0.5))));
  const lists = new Map<number, number[]>();
  const outputs = new Map<number, MicroOperation[]>();
  for (const plan of committed) outputs.set(plan.id, execute(lists, plan.micro));
  const history = plans.map((plan): ListAppendOperation => {
    const base = {
      id: plan.id,
      process: plan.id,
      f: 'txn' as const,
      input: plan.micro,
      outcome: plan.outcome,
      invokeMs: plan.invokeMs,
      completeMs: plan.completeMs,
      node: 'n1',
    };
    return plan.outcome === 'ok' ? { ...base, output: outputs.get(plan.id) ?? [] } : base;
  });
  if (prng.chance(0.8)) damageOneRead(history, prng, nextElement);
  return history;
}

function execute(lists: Map<number, number[]>, micro: readonly MicroOperation[]): MicroOperation[] {
  return micro.map((operation): MicroOperation => {
    const list = lists.get(operation[1]) ?? [];
    lists.set(operation[1], list);
    if (operation[0] === 'append') {
      list.push(operation[2]);
      return operation;
    }
    return ['r', operation[1], [...list]];
  });
}

function damageOneRead(history: ListAppendOperation[], prng: Prng, elementBound: number): void {
  const reads = history.flatMap((operation, position) =>
    (operation.output ?? []).flatMap((micro, index) => (micro[0] === 'r' ? [{ position, index, micro }] : [])),
  );
  if (reads.length === 0) return;
  const { position, index, micro } = prng.pick(reads);
  const list = [...(micro[2] ?? [])];
  const choice = prng.nextInt(3);
  if (choice === 0) list.splice(prng.nextInt(list.length + 1));
  else if (choice === 1) list.push(prng.nextIntBetween(1, elementBound));
  else prng.shuffle(list);
  const operation = history[position] as ListAppendOperation;
  const output = [...(operation.output ?? [])];
  output[index] = ['r', micro[1], list];
  history[position] = { ...operation, output };
}

function serializable(history: readonly ListAppendOperation[], realtime: boolean): boolean {
  const ok = history.filter((operation) => operation.outcome === 'ok');
  const info = history.filter((operation) => operation.outcome === 'info');
  for (let subset = 0; subset < 1 << info.length; subset++) {
    const committed = [...ok, ...info.filter((_, index) => (subset & (1 << index)) !== 0)];
    if (someOrderReproduces(committed, [], realtime)) return true;
  }
  return false;
}

function someOrderReproduces(remaining: readonly ListAppendOperation[], order: ListAppendOperation[], realtime: boolean): boolean {
  if (remaining.length === 0) return reproduces(order);
  return remaining.some((next) => {
    // Under real time, nothing still to place may have completed before `next` began.
    const blocked = realtime && remaining.some((other) => other !== next && other.outcome === 'ok' && other.completeMs < next.invokeMs);
    return (
      !blocked &&
      someOrderReproduces(
        remaining.filter((other) => other !== next),
        [...order, next],
        realtime,
      )
    );
  });
}

function reproduces(order: readonly ListAppendOperation[]): boolean {
  const lists = new Map<number, number[]>();
  for (const operation of order) {
    const results = execute(lists, operation.input);
    if (operation.outcome !== 'ok') continue;
    const observed = operation.output ?? [];
    if (results.some((micro, index) => micro[0] === 'r' && JSON.stringify(micro[2]) !== JSON.stringify((observed[index] as MicroOperation)[2]))) return false;
  }
  return true;
}

describe('list-append checker: sound against brute force', () => {
  for (const realtime of [true, false]) {
    it(`reports an anomaly only in histories no serial order explains (realtime ${realtime})`, () => {
      const prng = new Prng(realtime ? 11 : 12);
      const counts = { flagged: 0, missed: 0, serializable: 0 };
      for (let round = 0; round < 1500; round++) {
        const history = randomHistory(prng);
        const verdict = checkListAppend(history, { realtime });
        const expected = serializable(history, realtime);
        if (expected) counts.serializable++;
        if (verdict.valid === false) counts.flagged++;
        if (verdict.valid === true && !expected) counts.missed++;
        assert.ok(
          !(expected && verdict.valid === false),
          `round ${round}: ${verdict.anomalies.map((anomaly) => `${anomaly.type}: ${anomaly.explanation}`).join('\n')}\n${JSON.stringify(history)}`,
        );
      }
      // Both answers must be common, or the comparison proves little. On histories this
      // small the inference misses almost nothing (none, when this was written).
      assert.ok(counts.serializable > 300 && counts.flagged > 300, JSON.stringify(counts));
      assert.ok(counts.missed <= counts.flagged / 50, JSON.stringify(counts));
    });
  }
});
