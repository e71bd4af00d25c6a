/**
 * list-append: transactions of appends to and reads of lists, one list per key, checked
 * Elle-style for G0, G1 and G2 cycles (with real-time edges: strict serializability).
 * A list is the rows of `lists` for its key in insertion order (the integer primary key);
 * an append inserts a row. No unique constraint: a write applied twice shows up as a
 * duplicate element instead of an error.
 *
 * A transaction with an append goes through the log as one SQLite transaction
 * (`/db/request?transaction`); a read-only one is served at the client's read level.
 */
import type { Prng } from '../../sim/prng.js';
import { checkListAppend } from '../checkers/list-append.js';
import { callNode, numberColumn, type StatementResult } from '../client.js';
import type { CheckerVerdict, ListAppendOperation, MicroOperation, OperationRecord } from '../history.js';
import { type Completion, completionOf, type FinalCheck, type Invocation, KeyWindow, linearizableLevels, type Workload } from '../workload.js';

const microOperationsMax = 4;

export interface ListAppendOptions {
  readonly readLevels: readonly string[];
  readonly liveKeyCount?: number;
  /** Micro-operations on one key before it retires: keeps lists, and reads, short. */
  readonly operationsPerKey?: number;
}

export class ListAppendWorkload implements Workload {
  readonly name = 'list-append';
  readonly setupStatements = [
    ['CREATE TABLE IF NOT EXISTS lists (id INTEGER PRIMARY KEY, k INTEGER NOT NULL, element INTEGER NOT NULL)'],
    ['CREATE INDEX IF NOT EXISTS lists_k ON lists (k, id)'],
  ];
  readonly #keys: KeyWindow;
  readonly #readLevels: readonly string[];
  /** The next element to append, per key: every element of a key is unique. */
  readonly #nextElement = new Map<number, number>();

  constructor(options: ListAppendOptions) {
    if (options.readLevels.length === 0) throw new Error('list-append: at least one read level');
    this.#readLevels = options.readLevels;
    this.#keys = new KeyWindow(options.liveKeyCount ?? 6, options.operationsPerKey ?? 60);
  }

  nextInvocation(process: number, random: Prng): Invocation {
    const count = random.nextIntBetween(1, microOperationsMax);
    const operations: MicroOperation[] = [];
    for (let index = 0; index < count; index += 1) {
      const key = this.#keys.take(random);
      if (random.chance(0.5)) {
        operations.push(['r', key, null]);
      } else {
        const element = (this.#nextElement.get(key) ?? 0) + 1;
        this.#nextElement.set(key, element);
        operations.push(['append', key, element]);
      }
    }
    const readOnly = operations.every((operation) => operation[0] === 'r');
    return { f: 'txn', input: operations, ...(readOnly ? { level: this.#readLevels[process % this.#readLevels.length] as string } : {}) };
  }

  async invoke(baseUrl: string, invocation: Invocation, timeoutMs: number, idempotencyKey: string): Promise<Completion> {
    const operations = invocation.input as readonly MicroOperation[];
    const statements = operations.map((operation) =>
      operation[0] === 'r'
        ? ['SELECT element FROM lists WHERE k = ? ORDER BY id', operation[1]]
        : ['INSERT INTO lists (k, element) VALUES (?, ?)', operation[1], operation[2]],
    );
    const readOnly = invocation.level !== undefined;
    const outcome = await callNode(baseUrl, {
      endpoint: 'request',
      statements,
      parameters: { transaction: '', level: invocation.level ?? 'linearizable' },
      timeoutMs,
      ...(readOnly ? {} : { idempotencyKey }),
    });
    return completionOf(outcome, (results) => fillReads(operations, results));
  }

  finalInvocations(): readonly Invocation[] {
    return this.#keys.keys().map((key) => ({ f: 'txn', input: [['r', key, null]], level: 'linearizable' }));
  }

  check(operations: readonly OperationRecord[]): { required: CheckerVerdict[]; reported: CheckerVerdict[] } {
    const history = operations as readonly ListAppendOperation[];
    const writers = history.filter((operation) => operation.level === undefined);
    const levels = [...new Set(history.flatMap((operation) => (operation.level === undefined ? [] : [operation.level])))].sort();
    // A history with no read-only transaction (or one recorded without levels) is judged whole.
    if (levels.length === 0) {
      return { required: [{ ...checkListAppend(history), checker: 'list-append (strict serializable)' }], reported: [] };
    }
    const required: CheckerVerdict[] = [];
    const reported: CheckerVerdict[] = [];
    for (const level of levels) {
      const readers = history.filter((operation) => operation.level === level);
      const verdict = checkListAppend([...writers, ...readers].sort((left, right) => left.id - right.id));
      (linearizableLevels.has(level) ? required : reported).push({
        ...verdict,
        checker: `list-append (strict serializable), read-only transactions at ${level}`,
      });
    }
    return { required, reported };
  }

  finalChecks(operations: readonly OperationRecord[]): readonly FinalCheck[] {
    const history = operations as readonly ListAppendOperation[];
    const finalLists = new Map<number, readonly number[]>();
    for (const operation of history) {
      if (operation.process >= 0 || operation.outcome !== 'ok') continue;
      for (const micro of operation.output ?? []) if (micro[0] === 'r' && micro[2] !== null) finalLists.set(micro[1], micro[2]);
    }
    const lost: string[] = [];
    let acknowledged = 0;
    for (const operation of history) {
      if (operation.process < 0 || operation.outcome !== 'ok') continue;
      for (const micro of operation.input) {
        if (micro[0] !== 'append') continue;
        acknowledged += 1;
        if (!(finalLists.get(micro[1]) ?? []).includes(micro[2])) lost.push(`op ${operation.id}: append ${micro[2]} to key ${micro[1]}`);
      }
    }
    const keyCount = this.#keys.keys().length;
    return [
      { name: 'final read of every key answered', passed: finalLists.size === keyCount, detail: `${finalLists.size} of ${keyCount} keys read after healing` },
      {
        name: 'no acknowledged write lost',
        passed: lost.length === 0 && finalLists.size === keyCount,
        detail: lost.length === 0 ? `all ${acknowledged} acknowledged appends are in the final reads` : `${lost.length} lost: ${lost.slice(0, 10).join('; ')}`,
      },
    ];
  }
}

/** The transaction's micro-operations with each read's list filled in from its result. */
function fillReads(operations: readonly MicroOperation[], results: readonly StatementResult[]): MicroOperation[] {
  return operations.map((operation, index) => (operation[0] === 'r' ? (['r', operation[1], numberColumn(results[index])] as const) : operation));
}
