/**
 * A linearizability checker in the style of Wing & Gong / Lowe / Porcupine: partition the
 * history (by key), then search for a total order of each partition's operations that
 * respects real time and the sequential model, memoizing every (linearized set, state)
 * pair already explored. The search is bounded in steps; past the bound the answer is
 * 'unknown', never a guess.
 *
 * An operation whose outcome is unknown (the client gave up, the node crashed) has
 * `returnTime: Infinity` and no output: it may have taken effect at any point after its
 * invocation, or never.
 */
import assert from 'node:assert/strict';

export interface Operation<Input, Output> {
  readonly operationId: number;
  readonly clientId: number;
  readonly input: Input;
  /** Undefined exactly when the outcome is unknown. */
  readonly output: Output | undefined;
  readonly invokeTime: number;
  /** Infinity when the outcome is unknown. */
  readonly returnTime: number;
}

export interface Model<State, Input, Output> {
  readonly initialState: State;
  /** Apply `input` in `state`; `output` undefined means any output is acceptable. */
  step(state: State, input: Input, output: Output | undefined): { legal: boolean; state: State };
  /** A string identifying the state, for memoization. */
  stateKey(state: State): string;
  /** Split into independent histories (e.g. by key); default: one partition. */
  partitionKey?(input: Input): string;
  describe?(operation: Operation<Input, Output>): string;
}

export type CheckOutcome = 'linearizable' | 'not-linearizable' | 'unknown';

export interface PartitionResult {
  readonly partitionKey: string;
  readonly outcome: CheckOutcome;
  readonly operationCount: number;
  readonly stepCount: number;
  /** For 'not-linearizable': the longest linearization found, then the operations left. */
  readonly longestLinearization?: readonly number[];
  readonly unlinearizedOperations?: readonly number[];
}

export interface CheckResult {
  readonly outcome: CheckOutcome;
  readonly partitions: readonly PartitionResult[];
  /** Human-readable explanation of the first failing partition. */
  readonly explanation: string;
}

export interface CheckOptions {
  /** The search stops with 'unknown' after this many steps in one partition. */
  readonly searchStepsMax: number;
}

export const defaultCheckOptions: CheckOptions = { searchStepsMax: 2_000_000 };

interface ListEntry {
  readonly isCall: boolean;
  readonly time: number;
  readonly operationIndex: number;
  match: ListEntry | undefined;
  previous: ListEntry | undefined;
  next: ListEntry | undefined;
}

export function checkHistory<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
  options: CheckOptions = defaultCheckOptions,
): CheckResult {
  assert.ok(options.searchStepsMax >= 1, 'searchStepsMax must be at least 1');
  const partitions = partitionOperations(model, operations);
  const results: PartitionResult[] = [];
  for (const [partitionKey, partitionOperations] of partitions) {
    results.push(checkPartition(model, partitionKey, partitionOperations, options.searchStepsMax));
  }
  const failed = results.find((result) => result.outcome === 'not-linearizable');
  if (failed !== undefined) {
    const operationsOfPartition = partitions.get(failed.partitionKey) ?? [];
    return { outcome: 'not-linearizable', partitions: results, explanation: explain(model, failed, operationsOfPartition) };
  }
  const unknown = results.find((result) => result.outcome === 'unknown');
  if (unknown !== undefined) {
    return {
      outcome: 'unknown',
      partitions: results,
      explanation: `partition ${unknown.partitionKey}: search bound of ${options.searchStepsMax} steps exceeded`,
    };
  }
  return { outcome: 'linearizable', partitions: results, explanation: '' };
}

function partitionOperations<State, Input, Output>(
  model: Model<State, Input, Output>,
  operations: readonly Operation<Input, Output>[],
): Map<string, Operation<Input, Output>[]> {
  const partitions = new Map<string, Operation<Input, Output>[]>();
  for (const operation of operations) {
    assert.ok(operation.invokeTime < operation.returnTime, `operation ${operation.operationId} returns before it is invoked`);
    assert.equal(
      operation.output === undefined,
      operation.returnTime === Infinity,
      `operation ${operation.operationId}: an unknown outcome has no output and no return time, a known one has both`,
    );
    const key = model.partitionKey?.(operation.input) ?? '';
    let list = partitions.get(key);
    if (list === undefined) {
      list = [];
      partitions.set(key, list);
    }
    list.push(operation);
  }
  return new Map([...partitions.entries()].sort(([left], [right]) => (left < right ? -1 : left > right ? 1 : 0)));
}

function buildEventList<Input, Output>(operations: readonly Operation<Input, Output>[]): ListEntry {
  const entries: ListEntry[] = [];
  operations.forEach((operation, operationIndex) => {
    const call: ListEntry = { isCall: true, time: operation.invokeTime, operationIndex, match: undefined, previous: undefined, next: undefined };
    const ret: ListEntry = { isCall: false, time: operation.returnTime, operationIndex, match: undefined, previous: undefined, next: undefined };
    call.match = ret;
    ret.match = call;
    entries.push(call, ret);
  });
  // By time; on a tie a call sorts before a return (the operations overlap), and
  // unknown returns (Infinity) keep their relative order.
  entries.sort((left, right) => left.time - right.time || (left.isCall === right.isCall ? left.operationIndex - right.operationIndex : left.isCall ? -1 : 1));
  const head: ListEntry = { isCall: false, time: -Infinity, operationIndex: -1, match: undefined, previous: undefined, next: undefined };
  let previous = head;
  for (const entry of entries) {
    previous.next = entry;
    entry.previous = previous;
    previous = entry;
  }
  return head;
}

function lift(call: ListEntry): void {
  const ret = call.match as ListEntry;
  (call.previous as ListEntry).next = call.next;
  if (call.next !== undefined) call.next.previous = call.previous;
  (ret.previous as ListEntry).next = ret.next;
  if (ret.next !== undefined) ret.next.previous = ret.previous;
}

function unlift(call: ListEntry): void {
  const ret = call.match as ListEntry;
  (ret.previous as ListEntry).next = ret;
  if (ret.next !== undefined) ret.next.previous = ret;
  (call.previous as ListEntry).next = call;
  if (call.next !== undefined) call.next.previous = call;
}

class Bitset {
  readonly words: Uint32Array;
  constructor(bitCount: number) {
    this.words = new Uint32Array(Math.max(1, Math.ceil(bitCount / 32)));
  }
  set(bit: number): void {
    this.words[bit >>> 5] = ((this.words[bit >>> 5] ?? 0) | (1 << (bit & 31))) >>> 0;
  }
  clear(bit: number): void {
    this.words[bit >>> 5] = ((this.words[bit >>> 5] ?? 0) & ~(1 << (bit & 31))) >>> 0;
  }
  key(): string {
    return Buffer.from(this.words.buffer, this.words.byteOffset, this.words.byteLength).toString('latin1');
  }
}

function checkPartition<State, Input, Output>(
  model: Model<State, Input, Output>,
  partitionKey: string,
  operations: readonly Operation<Input, Output>[],
  searchStepsMax: number,
): PartitionResult {
  const head = buildEventList(operations);
  const linearized = new Bitset(operations.length);
  const visited = new Set<string>();
  const calls: { entry: ListEntry; stateBefore: State }[] = [];
  let longest: number[] = [];
  let state = model.initialState;
  let entry = head.next;
  let stepCount = 0;
  const summary = (outcome: CheckOutcome): PartitionResult => ({ partitionKey, outcome, operationCount: operations.length, stepCount });
  while (head.next !== undefined) {
    stepCount++;
    if (stepCount > searchStepsMax) return summary('unknown');
    assert.ok(entry !== undefined, 'the event list ended before a return was reached');
    if (!entry.isCall && entry.time === Infinity) {
      // Every remaining operation has an unknown outcome: each may never have happened.
      return summary('linearizable');
    }
    if (entry.isCall) {
      const operation = operations[entry.operationIndex] as Operation<Input, Output>;
      const stepResult = model.step(state, operation.input, operation.output);
      if (stepResult.legal) {
        linearized.set(entry.operationIndex);
        const key = `${linearized.key()}|${model.stateKey(stepResult.state)}`;
        if (!visited.has(key)) {
          visited.add(key);
          calls.push({ entry, stateBefore: state });
          if (calls.length > longest.length) longest = calls.map((call) => (operations[call.entry.operationIndex] as Operation<Input, Output>).operationId);
          state = stepResult.state;
          lift(entry);
          entry = head.next;
          continue;
        }
        linearized.clear(entry.operationIndex);
      }
      entry = entry.next;
      continue;
    }
    // A return whose call is not linearized yet: undo the most recent choice.
    const undone = calls.pop();
    if (undone === undefined) {
      const linearizedIds = new Set(longest);
      return {
        ...summary('not-linearizable'),
        longestLinearization: longest,
        unlinearizedOperations: operations.map((operation) => operation.operationId).filter((id) => !linearizedIds.has(id)),
      };
    }
    state = undone.stateBefore;
    linearized.clear(undone.entry.operationIndex);
    unlift(undone.entry);
    entry = undone.entry.next;
  }
  return summary('linearizable');
}

function explain<State, Input, Output>(model: Model<State, Input, Output>, failed: PartitionResult, operations: readonly Operation<Input, Output>[]): string {
  const byId = new Map(operations.map((operation) => [operation.operationId, operation]));
  const describe = (id: number): string => {
    const operation = byId.get(id);
    if (operation === undefined) return `#${id}`;
    const text = model.describe?.(operation) ?? JSON.stringify({ input: operation.input, output: operation.output });
    const returned = operation.returnTime === Infinity ? '?' : String(operation.returnTime);
    return `#${id} client ${operation.clientId} [${operation.invokeTime}, ${returned}] ${text}`;
  };
  const lines = [`partition ${failed.partitionKey}: no linearization of ${failed.operationCount} operations`];
  lines.push('  longest linearizable prefix:');
  for (const id of (failed.longestLinearization ?? []).slice(-8)) lines.push(`    ${describe(id)}`);
  lines.push('  cannot be placed after it:');
  for (const id of (failed.unlinearizedOperations ?? []).slice(0, 8)) lines.push(`    ${describe(id)}`);
  return lines.join('\n');
}
