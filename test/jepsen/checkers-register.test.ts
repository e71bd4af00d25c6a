import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { CheckerVerdict, Outcome, RegisterInput, RegisterOperation, RegisterOutput } from './history.js';
import { checkRegister } from './checkers/register.js';
import { serialRegisterHistory } from './checkers/serial-histories.js';
import { Prng } from '../sim/prng.js';

let nextId = 1;

function operation(
  f: RegisterOperation['f'],
  input: RegisterInput,
  outcome: Outcome,
  invokeMs: number,
  completeMs: number,
  output?: RegisterOutput,
): RegisterOperation {
  const base = { id: nextId++, process: nextId % 5, f, input, outcome, invokeMs, completeMs, node: 'http://n1' };
  return outcome === 'ok' ? { ...base, output: output ?? {} } : { ...base, error: 'TIMEOUT' };
}
const write = (key: number, value: number, invokeMs: number, completeMs: number, outcome: Outcome = 'ok'): RegisterOperation =>
  operation('write', { key, value }, outcome, invokeMs, completeMs);
const read = (key: number, value: number | null, invokeMs: number, completeMs: number, outcome: Outcome = 'ok'): RegisterOperation =>
  operation('read', { key }, outcome, invokeMs, completeMs, { value });
const cas = (key: number, from: number, to: number, applied: boolean, invokeMs: number, completeMs: number, outcome: Outcome = 'ok'): RegisterOperation =>
  operation('cas', { key, from, to }, outcome, invokeMs, completeMs, { applied });

function assertValid(verdict: CheckerVerdict): void {
  assert.equal(verdict.valid, true, verdict.anomalies.map((anomaly) => anomaly.explanation).join('\n'));
}

function assertNonlinearizable(verdict: CheckerVerdict): void {
  assert.equal(verdict.valid, false);
  assert.deepEqual(
    verdict.anomalies.map((anomaly) => anomaly.type),
    ['nonlinearizable'],
  );
}

describe('register checker', () => {
  it('accepts sequential and concurrent histories, starting from null', () => {
    assertValid(checkRegister([read(1, null, 0, 5), write(1, 3, 10, 20), read(1, 3, 30, 40), cas(1, 3, 4, true, 50, 60), read(1, 4, 70, 80)]));
    // A read concurrent with a write may see either value.
    assertValid(checkRegister([write(1, 1, 0, 10), write(1, 2, 20, 100), read(1, 1, 30, 40), read(1, 2, 50, 60)]));
  });

  it('rejects a stale read and names the key and the operations', () => {
    const stale = read(7, 1, 50, 60);
    const verdict = checkRegister([write(7, 1, 0, 10), write(7, 2, 20, 30), stale]);
    assertNonlinearizable(verdict);
    assert.match(verdict.anomalies[0]?.explanation ?? '', /^key 7: /);
    assert.ok(verdict.anomalies[0]?.operationIds.includes(stale.id));
    assert.equal(verdict.stats['keys'], 1);
  });

  it('accepts an info write that took effect after its client gave up, or never', () => {
    assertValid(checkRegister([write(1, 1, 0, 5, 'info'), read(1, null, 10, 20), read(1, 1, 30, 40)]));
    assertValid(checkRegister([write(1, 1, 0, 5, 'info'), read(1, null, 10, 20), read(1, null, 30, 40)]));
    // Once seen, it cannot be undone; and it cannot take effect before it was invoked.
    assertNonlinearizable(checkRegister([write(1, 1, 0, 5, 'info'), read(1, 1, 10, 20), read(1, null, 30, 40)]));
    assertNonlinearizable(checkRegister([read(1, 1, 0, 5), write(1, 1, 10, 20, 'info')]));
  });

  it('drops failed operations and info reads', () => {
    // A failed write never took effect: reading its value is an anomaly.
    assertNonlinearizable(checkRegister([write(1, 1, 0, 10, 'fail'), read(1, 1, 20, 30)]));
    // An info read's recorded value means nothing.
    const verdict = checkRegister([write(1, 1, 0, 10), read(1, 99, 20, 30, 'info'), read(1, 5, 20, 30, 'fail')]);
    assertValid(verdict);
    assert.equal(verdict.stats['operationsDropped'], 2);
  });

  it('accepts a cas that did not apply only where the value differs from `from`', () => {
    assertValid(checkRegister([write(1, 1, 0, 10), cas(1, 2, 3, false, 20, 30), read(1, 1, 40, 50)]));
    assertNonlinearizable(checkRegister([write(1, 1, 0, 10), cas(1, 1, 3, false, 20, 30)]));
    assertNonlinearizable(checkRegister([write(1, 1, 0, 10), cas(1, 2, 3, true, 20, 30)]));
  });

  it('lets an info cas swap only where the value matched', () => {
    assertValid(checkRegister([write(1, 1, 0, 10), cas(1, 1, 2, true, 20, 25, 'info'), read(1, 2, 30, 40)]));
    assertNonlinearizable(checkRegister([write(1, 1, 0, 10), cas(1, 5, 2, true, 20, 25, 'info'), read(1, 2, 30, 40)]));
  });

  it('checks keys independently, one anomaly per bad key', () => {
    const verdict = checkRegister([write(1, 1, 0, 10), read(1, null, 20, 30), write(2, 1, 0, 10), read(2, 1, 20, 30), write(3, 1, 0, 10), read(3, 2, 20, 30)]);
    assert.equal(verdict.valid, false);
    assert.deepEqual(
      verdict.anomalies.map((anomaly) => anomaly.explanation.split(':')[0]),
      ['key 1', 'key 3'],
    );
    assert.equal(verdict.stats['anomalies.nonlinearizable'], 2);
  });

  it('answers unknown when the search bound stops it, never a guess', () => {
    const concurrent = Array.from({ length: 8 }, (_, index) => write(1, index, 0, 100));
    const history = [...concurrent, read(1, 7, 110, 120), read(1, 7, 130, 140)];
    const bounded = checkRegister(history, { searchStepsMax: 5 });
    assert.equal(bounded.valid, 'unknown');
    assert.equal(bounded.stats['keysUnknown'], 1);
    assertValid(checkRegister(history));
  });

  it('accepts a millisecond clock giving an operation equal invoke and complete times', () => {
    assertValid(checkRegister([write(1, 1, 10, 10), read(1, 1, 10, 10)]));
  });
});

describe('register checker on histories of a correct serial execution', () => {
  it('accepts 40 random histories with overlaps, failures and unknown outcomes', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const verdict = checkRegister(serialRegisterHistory(new Prng(seed), 200));
      assertValid(verdict);
      assert.equal(verdict.stats['keys'], 3);
    }
  });

  it('rejects each of 30 histories with one read made stale', () => {
    for (let seed = 100; seed < 130; seed++) {
      const history = serialRegisterHistory(new Prng(seed), 200);
      assertValid(checkRegister(history));
      const position = staleCandidate(history);
      assert.ok(position !== undefined, `seed ${seed}: no read to make stale`);
      const target = history[position] as RegisterOperation;
      history[position] = { ...target, output: { value: stalePreviousValue(history, target) } };
      assertNonlinearizable(checkRegister(history));
    }
  });
});

/** Ok writes or applied cases of one key, in completion order. */
function acknowledgedWrites(history: readonly RegisterOperation[], key: number): { operation: RegisterOperation; value: number }[] {
  return history
    .filter(
      (operation) =>
        operation.outcome === 'ok' &&
        operation.input.key === key &&
        (operation.f === 'write' || (operation.f === 'cas' && operation.output !== undefined && 'applied' in operation.output && operation.output.applied)),
    )
    .map((operation) => ({ operation, value: 'value' in operation.input ? operation.input.value : 'to' in operation.input ? operation.input.to : Number.NaN }));
}

/**
 * A value that two acknowledged writes, one after the other in real time, both completed
 * before `target` began, have since replaced: values are unique, so reading it is stale.
 */
function stalePreviousValue(history: readonly RegisterOperation[], target: RegisterOperation): number {
  const writes = acknowledgedWrites(history, target.input.key);
  for (const older of writes) {
    const overwritten = writes.some((newer) => newer.operation.invokeMs > older.operation.completeMs && newer.operation.completeMs < target.invokeMs);
    if (overwritten) return older.value;
  }
  return Number.NaN;
}

function staleCandidate(history: readonly RegisterOperation[]): number | undefined {
  const position = history.findIndex(
    (operation) => operation.f === 'read' && operation.outcome === 'ok' && !Number.isNaN(stalePreviousValue(history, operation)),
  );
  return position < 0 ? undefined : position;
}
