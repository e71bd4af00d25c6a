import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { BankOperation, CheckerVerdict, Outcome } from './history.js';
import { checkBank } from './checkers/bank.js';
import { serialBankHistory } from './checkers/serial-histories.js';
import { Prng } from '../sim/prng.js';

const accounts = [1, 2, 3];
const options = { accounts, total: 30 };
let nextId = 1;

function read(balances: Record<string, number>, outcome: Outcome = 'ok'): BankOperation {
  const base = { id: nextId++, process: 1, f: 'read' as const, input: null, outcome, invokeMs: nextId * 10, completeMs: nextId * 10 + 5, node: 'http://n1' };
  return outcome === 'ok' ? { ...base, output: balances } : { ...base, error: 'TIMEOUT' };
}

function transfer(from: number, to: number, amount: number, outcome: Outcome, applied = true): BankOperation {
  const base = {
    id: nextId++,
    process: 2,
    f: 'transfer' as const,
    input: { from, to, amount },
    outcome,
    invokeMs: nextId * 10,
    completeMs: nextId * 10 + 5,
    node: 'http://n1',
  };
  return outcome === 'ok' ? { ...base, output: { applied } } : { ...base, error: 'TIMEOUT' };
}

function types(verdict: CheckerVerdict): string[] {
  return verdict.anomalies.map((anomaly) => anomaly.type).sort();
}

describe('bank checker', () => {
  it('accepts reads that keep the total, whatever the transfers did', () => {
    const verdict = checkBank(
      [
        read({ 1: 10, 2: 10, 3: 10 }),
        transfer(1, 2, 5, 'ok'),
        transfer(2, 3, 50, 'ok', false),
        transfer(3, 1, 1, 'fail'),
        transfer(3, 1, 2, 'info'),
        read({ 1: 7, 2: 15, 3: 8 }),
        read({ 1: 0, 2: 0, 3: 0 }, 'info'),
      ],
      options,
    );
    assert.equal(verdict.valid, true);
    assert.deepEqual(verdict.stats, { operations: 7, readsChecked: 2, transfersOk: 2, transfersApplied: 1, transfersFail: 1, transfersInfo: 1 });
  });

  it('finds a read with the wrong total', () => {
    const bad = read({ 1: 10, 2: 15, 3: 10 });
    const verdict = checkBank([read({ 1: 10, 2: 10, 3: 10 }), bad], options);
    assert.equal(verdict.valid, false);
    assert.deepEqual(types(verdict), ['wrong-total']);
    assert.deepEqual(verdict.anomalies[0]?.operationIds, [bad.id]);
    assert.match(verdict.anomalies[0]?.explanation ?? '', /sum to 35, not 30/);
  });

  it('finds a negative balance unless the workload allows it', () => {
    const history = [read({ 1: -5, 2: 20, 3: 15 })];
    assert.deepEqual(types(checkBank(history, options)), ['negative-balance']);
    assert.equal(checkBank(history, { ...options, negativeAllowed: true }).valid, true);
  });

  it('finds an account that does not exist, and a missing one', () => {
    assert.deepEqual(types(checkBank([read({ 1: 10, 2: 10, 3: 5, 4: 5 })], options)), ['unexpected-account']);
    assert.deepEqual(types(checkBank([read({ 1: 10, 2: 20 })], options)), ['missing-account']);
    assert.deepEqual(types(checkBank([read({ 1: 10, 2: 10 })], options)), ['missing-account', 'wrong-total']);
  });

  it('keeps a few anomalies of each type but counts them all', () => {
    const history = Array.from({ length: 50 }, () => read({ 1: 10, 2: 10, 3: 11 }));
    const verdict = checkBank(history, { ...options, anomaliesPerTypeMax: 3 });
    assert.equal(verdict.anomalies.length, 3);
    assert.equal(verdict.stats['anomalies.wrong-total'], 50);
  });
});

describe('bank checker on histories of a correct serial execution', () => {
  const bank = { accounts: [0, 1, 2, 3, 4], initialBalance: 10 };
  const bankOptions = { accounts: bank.accounts, total: 50 };

  it('accepts 40 random histories, and rejects each with one read altered', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const prng = new Prng(seed);
      const history = serialBankHistory(prng, 300, bank);
      const verdict = checkBank(history, bankOptions);
      assert.equal(verdict.valid, true, `seed ${seed}: ${verdict.anomalies[0]?.explanation}`);
      assert.ok((verdict.stats['transfersApplied'] ?? 0) > 50);
      const reads = history.flatMap((operation, position) => (operation.f === 'read' && operation.outcome === 'ok' ? [position] : []));
      const position = prng.pick(reads);
      const target = history[position] as Extract<BankOperation, { f: 'read' }>;
      // Money moved out of one account and not into another: a lost write.
      const account = String(prng.pick(bank.accounts));
      history[position] = { ...target, output: { ...target.output, [account]: (target.output?.[account] ?? 0) - 1 } };
      assert.deepEqual(types(checkBank(history, { ...bankOptions, negativeAllowed: true })), ['wrong-total']);
    }
  });
});
