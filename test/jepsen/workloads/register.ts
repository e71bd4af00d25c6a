/**
 * register: one integer register per key (a row of `registers`), read / written /
 * compare-and-set through SQL. Reads use the client's read level; writes and CAS go
 * through the log. The history of each key must be linearizable for reads at
 * `linearizable` and `strong`; what `weak` and `none` give is reported.
 */
import type { Prng } from '../../sim/prng.js';
import { checkRegister } from '../checkers/register.js';
import { callNode, numberColumn } from '../client.js';
import type { CheckerVerdict, OperationRecord, RegisterOperation } from '../history.js';
import { type Completion, completionOf, type FinalCheck, type Invocation, KeyWindow, linearizableLevels, type Workload } from '../workload.js';

/** Values are drawn from a small range so that compare-and-set often matches. */
const valueRange = 5;

export interface RegisterOptions {
  /** Read level per client, by client number modulo the list's length. */
  readonly readLevels: readonly string[];
  readonly liveKeyCount?: number;
  readonly operationsPerKey?: number;
}

export class RegisterWorkload implements Workload {
  readonly name = 'register';
  readonly setupStatements = [['CREATE TABLE IF NOT EXISTS registers (k INTEGER PRIMARY KEY, v INTEGER NOT NULL)']];
  readonly #keys: KeyWindow;
  readonly #readLevels: readonly string[];

  constructor(options: RegisterOptions) {
    if (options.readLevels.length === 0) throw new Error('register: at least one read level');
    this.#readLevels = options.readLevels;
    this.#keys = new KeyWindow(options.liveKeyCount ?? 4, options.operationsPerKey ?? 120);
  }

  nextInvocation(process: number, random: Prng): Invocation {
    const key = this.#keys.take(random);
    const roll = random.nextFloat();
    if (roll < 0.5) return { f: 'read', input: { key }, level: this.#readLevels[process % this.#readLevels.length] as string };
    if (roll < 0.8) return { f: 'write', input: { key, value: random.nextInt(valueRange) } };
    return { f: 'cas', input: { key, from: random.nextInt(valueRange), to: random.nextInt(valueRange) } };
  }

  async invoke(baseUrl: string, invocation: Invocation, timeoutMs: number, idempotencyKey: string): Promise<Completion> {
    const input = invocation.input as { key: number; value?: number; from?: number; to?: number };
    if (invocation.f === 'read') {
      const outcome = await callNode(baseUrl, {
        endpoint: 'query',
        statements: [['SELECT v FROM registers WHERE k = ?', input.key]],
        parameters: { level: invocation.level ?? 'linearizable' },
        timeoutMs,
      });
      return completionOf(outcome, (results) => ({ value: numberColumn(results[0])[0] ?? null }));
    }
    if (invocation.f === 'write') {
      const outcome = await callNode(baseUrl, {
        endpoint: 'execute',
        statements: [['INSERT INTO registers (k, v) VALUES (?, ?) ON CONFLICT (k) DO UPDATE SET v = excluded.v', input.key, input.value]],
        timeoutMs,
        idempotencyKey,
      });
      return completionOf(outcome, () => ({}));
    }
    const outcome = await callNode(baseUrl, {
      endpoint: 'execute',
      statements: [['UPDATE registers SET v = ? WHERE k = ? AND v = ?', input.to, input.key, input.from]],
      timeoutMs,
      idempotencyKey,
    });
    return completionOf(outcome, (results) => ({ applied: (results[0]?.rows_affected ?? 0) > 0 }));
  }

  finalInvocations(): readonly Invocation[] {
    return this.#keys.keys().map((key) => ({ f: 'read', input: { key }, level: 'linearizable' }));
  }

  check(operations: readonly OperationRecord[]): { required: CheckerVerdict[]; reported: CheckerVerdict[] } {
    const history = operations as readonly RegisterOperation[];
    const writes = history.filter((operation) => operation.f !== 'read');
    const levels = [...new Set(history.filter((operation) => operation.f === 'read').map((operation) => operation.level ?? 'linearizable'))].sort();
    const required: CheckerVerdict[] = [];
    const reported: CheckerVerdict[] = [];
    for (const level of levels) {
      const reads = history.filter((operation) => operation.f === 'read' && (operation.level ?? 'linearizable') === level);
      const verdict = {
        ...checkRegister([...writes, ...reads].sort((left, right) => left.id - right.id)),
        checker: `register linearizability, reads at ${level}`,
      };
      (linearizableLevels.has(level) ? required : reported).push(verdict);
    }
    return { required, reported };
  }

  finalChecks(operations: readonly OperationRecord[]): readonly FinalCheck[] {
    const answered = new Set(
      operations
        .filter((operation) => operation.process < 0 && operation.f === 'read' && operation.outcome === 'ok')
        .map((operation) => (operation.input as { key: number }).key),
    );
    const keyCount = this.#keys.keys().length;
    return [
      {
        name: 'final read of every key answered',
        passed: answered.size === keyCount,
        detail: `${answered.size} of ${keyCount} keys read at linearizable after healing (acknowledged writes are checked by linearizability with these reads)`,
      },
    ];
  }
}
