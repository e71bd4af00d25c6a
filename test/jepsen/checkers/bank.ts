/**
 * The bank workload's invariant: transfers move money between a fixed set of accounts and
 * never create or destroy it, so every read (a snapshot of all balances) must show each
 * account, no other, and the same total; and, unless the workload allows overdrafts, no
 * balance below zero. Transfers themselves carry no verdict: a failed or unknown one may
 * or may not have moved money, and either way the total stays the same.
 */
import assert from 'node:assert/strict';
import type { BankOperation, CheckerVerdict } from '../history.js';
import { AnomalyLog } from './anomaly-log.js';

export interface BankCheckOptions {
  readonly accounts: readonly number[];
  /** The sum of all balances, at the start and in every read. */
  readonly total: number;
  /** Whether a balance may go below zero. Default false. */
  readonly negativeAllowed?: boolean;
  /** Anomalies kept per type (all are counted in stats). */
  readonly anomaliesPerTypeMax?: number;
}

type BankRead = Extract<BankOperation, { f: 'read' }>;

export function checkBank(operations: readonly BankOperation[], options: BankCheckOptions): CheckerVerdict {
  assert.ok(options.accounts.length > 0, 'the bank needs at least one account');
  const log = new AnomalyLog(options.anomaliesPerTypeMax);
  const transferCounts = { ok: 0, fail: 0, info: 0 };
  let transfersApplied = 0;
  let readsChecked = 0;
  for (const operation of operations) {
    if (operation.f === 'transfer') {
      transferCounts[operation.outcome]++;
      if (operation.outcome === 'ok' && operation.output?.applied === true) transfersApplied++;
      continue;
    }
    if (operation.outcome !== 'ok') continue;
    readsChecked++;
    checkRead(operation, options, log);
  }
  return {
    valid: log.empty,
    checker: 'bank',
    anomalies: log.anomalies(),
    stats: {
      operations: operations.length,
      readsChecked,
      transfersOk: transferCounts.ok,
      transfersApplied,
      transfersFail: transferCounts.fail,
      transfersInfo: transferCounts.info,
      ...log.stats(),
    },
  };
}

function checkRead(read: BankRead, options: BankCheckOptions, log: AnomalyLog): void {
  assert.ok(read.output !== undefined, `bank read ${read.id} is ok but has no output`);
  const balances = read.output;
  const header = `read ${read.id} (process ${read.process}, ${read.invokeMs}–${read.completeMs} ms) saw ${balancesText(balances)}`;
  const expected = new Set(options.accounts.map(String));
  let total = 0;
  for (const [account, balance] of Object.entries(balances)) {
    total += balance;
    if (!expected.has(account)) log.add('unexpected-account', `${header}: account ${account} is not one of ${options.accounts.join(', ')}`, [read.id]);
    if (balance < 0 && options.negativeAllowed !== true) log.add('negative-balance', `${header}: account ${account} has ${balance}`, [read.id]);
  }
  const missing = [...expected].filter((account) => !Object.hasOwn(balances, account));
  if (missing.length > 0) log.add('missing-account', `${header}: no balance for account ${missing.join(', ')}`, [read.id]);
  if (total !== options.total) log.add('wrong-total', `${header}: the balances sum to ${total}, not ${options.total}`, [read.id]);
}

function balancesText(balances: Readonly<Record<string, number>>): string {
  return `{${Object.entries(balances)
    .map(([account, balance]) => `${account}: ${balance}`)
    .join(', ')}}`;
}
