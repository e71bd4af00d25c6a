/**
 * Histories for the checkers' own tests: a correct database runs operations one at a time
 * (operation i takes effect at 10·(i + 1) ms), and each client sees a window around that
 * moment, so windows overlap at random. Some operations fail (they never take effect) and
 * some end as info (they take effect or not, possibly after the client gave up). Such a
 * history is strictly serializable by construction, so every checker must accept it; a
 * test then plants one corruption and expects the right anomaly.
 */
import type { BankOperation, ListAppendOperation, MicroOperation, Outcome, OperationRecord, RegisterOperation } from '../history.js';
import type { Prng } from '../../sim/prng.js';

export interface SerialHistoryOptions {
  /** How far (ms) a window may reach before and after its effect; operations are 10 ms apart. */
  readonly overlapMs?: number;
  readonly failProbability?: number;
  readonly infoProbability?: number;
  readonly processCount?: number;
}

interface Timing {
  readonly outcome: Outcome;
  /** Whether it took effect: always for ok, never for fail, either for info. */
  readonly applied: boolean;
  readonly invokeMs: number;
  readonly completeMs: number;
}

const effectSpacingMs = 10;

function planTiming(prng: Prng, index: number, options: SerialHistoryOptions): Timing {
  const overlapMs = options.overlapMs ?? 25;
  const effectMs = effectSpacingMs * (index + 1);
  const invokeMs = effectMs - 1 - prng.nextInt(overlapMs);
  const roll = prng.nextFloat();
  const failProbability = options.failProbability ?? 0.1;
  const outcome: Outcome = roll < failProbability ? 'fail' : roll < failProbability + (options.infoProbability ?? 0.1) ? 'info' : 'ok';
  // An info client may give up before its operation takes effect.
  const completeMs = outcome === 'info' ? invokeMs + 1 + prng.nextInt(2 * overlapMs) : effectMs + 1 + prng.nextInt(overlapMs);
  return { outcome, applied: outcome === 'ok' || (outcome === 'info' && prng.chance(0.5)), invokeMs, completeMs };
}

/** Ids in invocation order, as the runner assigns them. */
function numberByInvocation<Record extends OperationRecord>(records: Record[]): Record[] {
  return records.sort((left, right) => left.invokeMs - right.invokeMs || left.id - right.id).map((record, id) => ({ ...record, id }));
}

function record<F extends string, Input, Output>(
  index: number,
  timing: Timing,
  f: F,
  input: Input,
  output: Output,
  options: SerialHistoryOptions,
): OperationRecord<F, Input, Output> {
  const base = { id: index, process: index % (options.processCount ?? 8), f, input, outcome: timing.outcome, invokeMs: timing.invokeMs };
  const end = { completeMs: timing.completeMs, node: 'http://n1' };
  return timing.outcome === 'ok' ? { ...base, output, ...end } : { ...base, ...end, error: timing.outcome === 'fail' ? 'NOT_LEADER' : 'TIMEOUT' };
}

export function serialRegisterHistory(prng: Prng, count: number, options: SerialHistoryOptions & { readonly keyCount?: number } = {}): RegisterOperation[] {
  const values = new Map<number, number | null>();
  const written: number[] = [];
  const records: RegisterOperation[] = [];
  for (let index = 0; index < count; index++) {
    const timing = planTiming(prng, index, options);
    const key = prng.nextInt(options.keyCount ?? 3);
    const current = values.get(key) ?? null;
    const choice = prng.nextInt(3);
    // Every written value is unique, so a stale read is unambiguous.
    const value = index + 1;
    if (choice === 0) {
      records.push(record(index, timing, 'read', { key }, { value: current }, options));
    } else if (choice === 1) {
      if (timing.applied) values.set(key, value);
      written.push(value);
      records.push(record(index, timing, 'write', { key, value }, {}, options));
    } else {
      const from = current !== null && prng.chance(0.6) ? current : written.length > 0 ? prng.pick(written) : 0;
      const swaps = current === from;
      if (timing.applied && swaps) values.set(key, value);
      written.push(value);
      records.push(record(index, timing, 'cas', { key, from, to: value }, { applied: swaps }, options));
    }
  }
  return numberByInvocation(records);
}

export interface ListAppendHistoryOptions extends SerialHistoryOptions {
  /** Keys in use at once; a key retires after appendsPerKeyMax appends and a fresh one replaces it. */
  readonly activeKeyCount?: number;
  readonly appendsPerKeyMax?: number;
  readonly microOperationsMax?: number;
}

export function serialListAppendHistory(prng: Prng, count: number, options: ListAppendHistoryOptions = {}): ListAppendOperation[] {
  const lists = new Map<number, number[]>();
  const appendCounts = new Map<number, number>();
  const activeKeys = Array.from({ length: options.activeKeyCount ?? 4 }, (_, key) => key);
  let nextKey = activeKeys.length;
  let nextElement = 1;
  const records: ListAppendOperation[] = [];
  for (let index = 0; index < count; index++) {
    const timing = planTiming(prng, index, options);
    const input: MicroOperation[] = [];
    const microCount = prng.nextIntBetween(1, options.microOperationsMax ?? 4);
    for (let micro = 0; micro < microCount; micro++) {
      const slot = prng.nextInt(activeKeys.length);
      const key = activeKeys[slot] as number;
      if (prng.chance(0.5)) {
        input.push(['r', key, null]);
        continue;
      }
      input.push(['append', key, nextElement++]);
      const appended = (appendCounts.get(key) ?? 0) + 1;
      appendCounts.set(key, appended);
      if (appended >= (options.appendsPerKeyMax ?? 32)) activeKeys[slot] = nextKey++;
    }
    const output = timing.applied ? execute(lists, input) : [];
    records.push(record(index, timing, 'txn', input, output, options));
  }
  return numberByInvocation(records);
}

function execute(lists: Map<number, number[]>, input: readonly MicroOperation[]): MicroOperation[] {
  return input.map((micro): MicroOperation => {
    const list = lists.get(micro[1]) ?? [];
    lists.set(micro[1], list);
    if (micro[0] === 'append') {
      list.push(micro[2]);
      return micro;
    }
    return ['r', micro[1], [...list]];
  });
}

export interface BankHistoryOptions extends SerialHistoryOptions {
  readonly accounts: readonly number[];
  readonly initialBalance: number;
}

export function serialBankHistory(prng: Prng, count: number, options: BankHistoryOptions): BankOperation[] {
  const balances = new Map(options.accounts.map((account) => [account, options.initialBalance]));
  const records: BankOperation[] = [];
  for (let index = 0; index < count; index++) {
    const timing = planTiming(prng, index, options);
    if (prng.chance(0.3)) {
      const snapshot = Object.fromEntries([...balances.entries()].map(([account, balance]) => [String(account), balance]));
      records.push(record(index, timing, 'read', null, snapshot, options));
      continue;
    }
    const from = prng.pick(options.accounts);
    const to = prng.pick(options.accounts.filter((account) => account !== from));
    const amount = prng.nextIntBetween(1, 5);
    const applied = (balances.get(from) ?? 0) >= amount;
    if (timing.applied && applied) {
      balances.set(from, (balances.get(from) ?? 0) - amount);
      balances.set(to, (balances.get(to) ?? 0) + amount);
    }
    records.push(record(index, timing, 'transfer', { from, to, amount }, { applied }, options));
  }
  return numberByInvocation(records);
}
