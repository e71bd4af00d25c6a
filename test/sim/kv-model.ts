/**
 * The sequential specification of the simulated key-value store, for the
 * linearizability checker: put replaces a key's value, append concatenates to it, get
 * returns it ('' for a key never written). Operations on different keys are
 * independent, so the history is checked one key at a time.
 */
import type { Model, Operation } from './linearizability.js';

export type KvInput =
  | { readonly kind: 'put'; readonly key: string; readonly value: string }
  | { readonly kind: 'append'; readonly key: string; readonly value: string }
  | { readonly kind: 'get'; readonly key: string };

/** A get's value; null for writes. */
export type KvOutput = string | null;

export const kvModel: Model<string, KvInput, KvOutput> = {
  initialState: '',
  step(state, input, output) {
    switch (input.kind) {
      case 'put':
        return { legal: true, state: input.value };
      case 'append':
        return { legal: true, state: state + input.value };
      case 'get':
        return { legal: output === undefined || output === state, state };
    }
  },
  stateKey: (state) => state,
  partitionKey: (input) => input.key,
  describe(operation: Operation<KvInput, KvOutput>): string {
    const input = operation.input;
    const result = operation.output === undefined ? ' -> unknown' : input.kind === 'get' ? ` -> ${JSON.stringify(operation.output)}` : '';
    return input.kind === 'get' ? `get ${input.key}${result}` : `${input.kind} ${input.key} ${JSON.stringify(input.value)}${result}`;
  },
};
