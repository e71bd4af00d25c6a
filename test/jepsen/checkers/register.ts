/**
 * Linearizability of read / write / compare-and-set registers, one per key, each starting
 * at null. The search is the simulator's (test/sim/linearizability.ts); this file maps the
 * fault suite's operation records onto it:
 *   - fail: definitely did not take effect, so it is dropped;
 *   - info write or cas: may have taken effect at any time after its invocation, or never
 *     (return time Infinity, no output); an info cas swaps exactly when the value equals
 *     `from` at the moment it takes effect;
 *   - info read: says nothing, so it is dropped;
 *   - ok cas with applied:false: legal only where the value differs from `from`.
 * Each key is searched on its own, so each non-linearizable key gets its own anomaly.
 */
import assert from 'node:assert/strict';
import type { CheckerVerdict, RegisterOperation, RegisterOutput } from '../history.js';
import { checkHistory, defaultCheckOptions, type Model, type Operation, type PartitionResult } from '../../sim/linearizability.js';
import { AnomalyLog } from './anomaly-log.js';

export interface RegisterCheckOptions {
  /** Search steps per key before the key's answer is 'unknown'. */
  readonly searchStepsMax?: number;
  /** Anomalies kept per type (all are counted in stats). */
  readonly anomaliesPerTypeMax?: number;
}

type RegisterValue = number | null;

type ModelInput =
  | { readonly f: 'read'; readonly key: number }
  | { readonly f: 'write'; readonly key: number; readonly value: number }
  | { readonly f: 'cas'; readonly key: number; readonly from: number; readonly to: number };

type ModelOperation = Operation<ModelInput, RegisterOutput>;

const registerModel: Model<RegisterValue, ModelInput, RegisterOutput> = {
  initialState: null,
  step(state, input, output) {
    switch (input.f) {
      case 'read':
        return { legal: output === undefined || ('value' in output && output.value === state), state };
      case 'write':
        return { legal: true, state: input.value };
      case 'cas': {
        const swaps = state === input.from;
        // Unknown outcome: if it took effect here, it swapped exactly when the value matched.
        if (output === undefined) return { legal: true, state: swaps ? input.to : state };
        const applied = 'applied' in output && output.applied;
        return { legal: applied === swaps, state: swaps ? input.to : state };
      }
    }
  },
  stateKey: (state) => String(state),
  describe(operation) {
    const input = operation.input;
    const output = operation.output;
    const result = output === undefined ? ' -> ?' : 'value' in output ? ` -> ${output.value}` : 'applied' in output ? ` -> ${output.applied}` : '';
    if (input.f === 'read') return `read${result}`;
    if (input.f === 'write') return `write ${input.value}${result}`;
    return `cas ${input.from}->${input.to}${result}`;
  },
};

export function checkRegister(operations: readonly RegisterOperation[], options: RegisterCheckOptions = {}): CheckerVerdict {
  const byKey = new Map<number, ModelOperation[]>();
  let droppedCount = 0;
  for (const record of operations) {
    const operation = toModelOperation(record);
    if (operation === undefined) {
      droppedCount++;
      continue;
    }
    const list = byKey.get(operation.input.key) ?? [];
    list.push(operation);
    byKey.set(operation.input.key, list);
  }
  const searchStepsMax = options.searchStepsMax ?? defaultCheckOptions.searchStepsMax;
  const log = new AnomalyLog(options.anomaliesPerTypeMax);
  let unknownKeyCount = 0;
  let searchStepCount = 0;
  for (const key of [...byKey.keys()].sort((left, right) => left - right)) {
    const result = checkHistory(registerModel, byKey.get(key) ?? [], { searchStepsMax });
    const partition = result.partitions[0];
    searchStepCount += partition?.stepCount ?? 0;
    if (result.outcome === 'unknown') unknownKeyCount++;
    if (result.outcome === 'not-linearizable' && partition !== undefined) {
      log.add('nonlinearizable', `key ${key}: ${result.explanation}`, involvedOperationIds(partition));
    }
  }
  return {
    valid: !log.empty ? false : unknownKeyCount > 0 ? 'unknown' : true,
    checker: 'register',
    anomalies: log.anomalies(),
    stats: {
      operations: operations.length,
      operationsChecked: operations.length - droppedCount,
      operationsDropped: droppedCount,
      keys: byKey.size,
      keysUnknown: unknownKeyCount,
      searchSteps: searchStepCount,
      ...log.stats(),
    },
  };
}

/** The operations the explanation names: the end of the longest linearization and what could not follow it. */
function involvedOperationIds(partition: PartitionResult): number[] {
  return [...(partition.longestLinearization ?? []).slice(-8), ...(partition.unlinearizedOperations ?? []).slice(0, 8)];
}

/** Undefined for operations that carry no information: failures and unknown reads. */
function toModelOperation(record: RegisterOperation): ModelOperation | undefined {
  if (record.outcome === 'fail') return undefined;
  if (record.outcome === 'info' && record.f === 'read') return undefined;
  const input = toModelInput(record);
  const known = record.outcome === 'ok';
  if (known) assert.ok(record.output !== undefined, `register operation ${record.id} is ok but has no output`);
  return {
    operationId: record.id,
    clientId: record.process,
    input,
    output: known ? record.output : undefined,
    invokeTime: record.invokeMs,
    returnTime: known ? returnTimeOf(record) : Infinity,
  };
}

/**
 * The search needs a return strictly after the invocation; a millisecond clock can give an
 * ok operation equal times. A microsecond later changes nothing: on a tie the search already
 * treats the operations as overlapping.
 */
function returnTimeOf(record: RegisterOperation): number {
  return record.completeMs > record.invokeMs ? record.completeMs : record.invokeMs + 0.001;
}

function toModelInput(record: RegisterOperation): ModelInput {
  const input = record.input;
  switch (record.f) {
    case 'read':
      return { f: 'read', key: input.key };
    case 'write':
      assert.ok('value' in input, `register write ${record.id} has no value`);
      return { f: 'write', key: input.key, value: input.value };
    case 'cas':
      assert.ok('from' in input && 'to' in input, `register cas ${record.id} has no from/to`);
      return { f: 'cas', key: input.key, from: input.from, to: input.to };
  }
}
