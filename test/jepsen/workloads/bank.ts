/**
 * bank: transfers between accounts, each one UPDATE that moves money only when the source
 * holds enough, so every state the database ever commits has the same total and no
 * negative balance. Every read, at any level (even `none` reads a committed state), must
 * see all accounts and that total.
 */
import type { Prng } from '../../sim/prng.js';
import { checkBank } from '../checkers/bank.js';
import { callNode } from '../client.js';
import type { BankOperation, CheckerVerdict, OperationRecord } from '../history.js';
import { type Completion, completionOf, type FinalCheck, type Invocation, type Workload } from '../workload.js';

const transferAmountMax = 5;

export interface BankOptions {
  readonly readLevels: readonly string[];
  readonly accountCount?: number;
  readonly balanceEach?: number;
}

const transferStatement =
  'UPDATE accounts SET balance = balance + CASE id WHEN ? THEN -? ELSE ? END WHERE id IN (?, ?) AND (SELECT balance FROM accounts WHERE id = ?) >= ?';

export class BankWorkload implements Workload {
  readonly name = 'bank';
  readonly setupStatements: readonly (readonly unknown[])[];
  readonly accounts: readonly number[];
  readonly total: number;
  readonly #readLevels: readonly string[];

  constructor(options: BankOptions) {
    if (options.readLevels.length === 0) throw new Error('bank: at least one read level');
    this.#readLevels = options.readLevels;
    const accountCount = options.accountCount ?? 5;
    const balanceEach = options.balanceEach ?? 20;
    this.accounts = Array.from({ length: accountCount }, (_, index) => index);
    this.total = accountCount * balanceEach;
    this.setupStatements = [
      ['CREATE TABLE IF NOT EXISTS accounts (id INTEGER PRIMARY KEY, balance INTEGER NOT NULL)'],
      ...this.accounts.map((id) => ['INSERT OR IGNORE INTO accounts (id, balance) VALUES (?, ?)', id, balanceEach]),
    ];
  }

  nextInvocation(process: number, random: Prng): Invocation {
    if (random.chance(0.4)) return { f: 'read', input: null, level: this.#readLevels[process % this.#readLevels.length] as string };
    const from = random.pick(this.accounts);
    const others = this.accounts.filter((id) => id !== from);
    return { f: 'transfer', input: { from, to: random.pick(others), amount: random.nextIntBetween(1, transferAmountMax) } };
  }

  async invoke(baseUrl: string, invocation: Invocation, timeoutMs: number, idempotencyKey: string): Promise<Completion> {
    if (invocation.f === 'read') {
      const outcome = await callNode(baseUrl, {
        endpoint: 'query',
        statements: [['SELECT id, balance FROM accounts ORDER BY id']],
        parameters: { level: invocation.level ?? 'linearizable' },
        timeoutMs,
      });
      return completionOf(outcome, (results) => Object.fromEntries((results[0]?.values ?? []).map((row) => [String(row[0]), Number(row[1])])));
    }
    const { from, to, amount } = invocation.input as { from: number; to: number; amount: number };
    const outcome = await callNode(baseUrl, {
      endpoint: 'execute',
      statements: [[transferStatement, from, amount, amount, from, to, from, amount]],
      timeoutMs,
      idempotencyKey,
    });
    return completionOf(outcome, (results) => ({ applied: (results[0]?.rows_affected ?? 0) === 2 }));
  }

  finalInvocations(): readonly Invocation[] {
    return [{ f: 'read', input: null, level: 'linearizable' }];
  }

  check(operations: readonly OperationRecord[]): { required: CheckerVerdict[]; reported: CheckerVerdict[] } {
    const verdict = checkBank(operations as readonly BankOperation[], { accounts: this.accounts, total: this.total });
    return { required: [{ ...verdict, checker: 'bank: every read sees every account and the same total, none negative' }], reported: [] };
  }

  finalChecks(operations: readonly OperationRecord[]): readonly FinalCheck[] {
    const finalRead = operations.find((operation) => operation.process < 0 && operation.f === 'read' && operation.outcome === 'ok');
    const balances = (finalRead?.output ?? {}) as Record<string, number>;
    const total = Object.values(balances).reduce((sum, balance) => sum + balance, 0);
    return [
      {
        name: 'final total equals the initial total',
        passed: finalRead !== undefined && total === this.total,
        detail: finalRead === undefined ? 'the final read was not answered' : `final balances ${JSON.stringify(balances)}, total ${total} of ${this.total}`,
      },
    ];
  }
}
