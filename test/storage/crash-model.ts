/** The history model shared by crash-child.ts and crash.test.ts. */
import type { HardState } from '../../src/raft/types.js';
import { entryData } from './helpers.js';

export function crashEntryData(index: number, term: number): Uint8Array {
  return entryData(index, term, ((index * 31 + term * 17) % 300) + 1);
}

export type CrashOperation =
  | { readonly type: 'save'; readonly first: number; readonly count: number; readonly term: number; readonly hardState: HardState }
  | { readonly type: 'compact'; readonly index: number }
  | { readonly type: 'install'; readonly index: number; readonly term: number; readonly hardState: HardState };

/** What the log must look like: the term of every index up to lastIndex, the compaction point, the hard state. */
export interface ModelState {
  terms: number[];
  lastIndex: number;
  compactIndex: number;
  hardState: HardState;
}

export function copyModel(model: ModelState): ModelState {
  return { terms: [...model.terms], lastIndex: model.lastIndex, compactIndex: model.compactIndex, hardState: model.hardState };
}

export function applyOperation(model: ModelState, operation: CrashOperation): void {
  if (operation.type === 'compact') {
    model.compactIndex = Math.max(model.compactIndex, operation.index);
    return;
  }
  if (operation.type === 'install') {
    model.terms = [];
    model.terms[operation.index] = operation.term;
    model.lastIndex = operation.index;
    model.compactIndex = operation.index;
    model.hardState = operation.hardState;
    return;
  }
  for (let offset = 0; offset < operation.count; offset++) model.terms[operation.first + offset] = operation.term;
  model.lastIndex = operation.first + operation.count - 1;
  model.terms.length = model.lastIndex + 1;
  model.hardState = operation.hardState;
}
