/**
 * Apply: committed entries go to the state machine in log order, exactly once each; each
 * applied entry settles the proposal waiting at its index (matched by term) and releases
 * the callers waiting for that index. Runs of commands apply as one batch (one SQLite
 * transaction); a membership change applies on its own. An environmental failure halts
 * at the same entry and retries it (halt.ts); a retried batch resumes after what applied.
 */
import { assert } from '../common/assert.js';
import { decodeConfChange } from '../raft/conf-change.js';
import type { Entry } from '../raft/types.js';
import { StateMachineHaltedError } from '../state-machine/errors.js';
import { loadEntryKind } from '../state-machine/load-entries.js';
import { applyBatchEntryCountMax } from '../state-machine/state-machine.js';
import type { StatementResult } from '../state-machine/types.js';
import { retryWhileHalted } from './halt.js';
import type { MemberDirectory } from './member-directory.js';
import type { BatchOutcome } from './ports.js';
import type { RuntimeState } from './runtime-state.js';

/** What an entry applies with: alone (a membership change, a load's commit), with a load's other entries, or with commands. */
function applyGroup(entry: Entry): 'alone' | 'load' | 'commands' {
  if (entry.type === 'conf-change') return 'alone';
  const loadKind = loadEntryKind(entry.data);
  if (loadKind === 'commit') return 'alone';
  return loadKind === undefined ? 'commands' : 'load';
}

/**
 * Splits committed entries into what applies together: each membership change and load
 * commit alone, runs of a load's chunks and aborts (their file work asynchronous), and
 * runs of commands (and no-ops), each run of at most `runEntryCountMax` entries, in order.
 */
export function planApplyRuns(entries: readonly Entry[], runEntryCountMax: number): Entry[][] {
  assert(Number.isInteger(runEntryCountMax) && runEntryCountMax >= 1, `runEntryCountMax must be >= 1, got ${runEntryCountMax}`);
  const runs: Entry[][] = [];
  let current: Entry[] = [];
  let currentGroup: ReturnType<typeof applyGroup> | undefined;
  for (const entry of entries) {
    const group = applyGroup(entry);
    if (group === 'alone' || group !== currentGroup || current.length === runEntryCountMax) {
      if (current.length > 0) runs.push(current);
      current = [];
    }
    if (group === 'alone') runs.push([entry]);
    else current.push(entry);
    currentGroup = group === 'alone' ? undefined : group;
  }
  if (current.length > 0) runs.push(current);
  return runs;
}

export class Applier {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;

  constructor(state: RuntimeState, directory: MemberDirectory) {
    this.#state = state;
    this.#directory = directory;
  }

  /**
   * Applies a Ready's committed entries: each run of commands goes to the state machine as
   * one batch (one SQLite transaction) of at most applyBatchEntryCountMax entries; a
   * membership change applies on its own. A retried batch resumes after what applied.
   */
  async applyEntries(entries: readonly Entry[]): Promise<void> {
    for (const run of planApplyRuns(entries, applyBatchEntryCountMax)) {
      const first = run[0] as Entry;
      if (first.type === 'conf-change') await this.#applyConfChangeEntry(first);
      else if (loadEntryKind(first.data) !== undefined) await this.#applyLoadRun(run);
      else await retryWhileHalted(this.#state, `apply entries ${first.index} to ${first.index + run.length - 1}`, () => this.#applyRun(run));
    }
  }

  async #applyConfChangeEntry(entry: Entry): Promise<void> {
    if (entry.index <= this.#state.stateMachine.appliedIndex) return;
    this.#assertNextToApply(entry.index);
    const results = await retryWhileHalted(this.#state, `apply entry ${entry.index}`, () => this.#applyConfChange(entry));
    this.#recordApplied(entry, results);
  }

  /** A load's entries: staged or swapped in by the state machine, off the event loop (a halt retries them, as any entry). */
  async #applyLoadRun(run: readonly Entry[]): Promise<void> {
    const loads = this.#state.stateMachine.loads;
    const pending = run.filter((entry) => entry.index > this.#state.stateMachine.appliedIndex);
    const first = pending[0];
    if (first === undefined) return;
    this.#assertNextToApply(first.index);
    assert(loads !== undefined, `entry ${first.index} is a load's, and this state machine takes none`);
    const what = `apply load entries ${first.index} to ${first.index + pending.length - 1}`;
    this.#recordOutcomes(pending, await retryWhileHalted(this.#state, what, () => loads.apply(pending)));
  }

  /** Applies the entries of `run` not applied yet as one batch; records each outcome, also those before a halt. */
  #applyRun(run: readonly Entry[]): void {
    const pending = run.filter((entry) => entry.index > this.#state.stateMachine.appliedIndex);
    const first = pending[0];
    if (first === undefined) return;
    this.#assertNextToApply(first.index);
    try {
      this.#recordOutcomes(pending, this.#state.stateMachine.applyBatch(pending));
    } catch (error) {
      if (error instanceof StateMachineHaltedError) this.#recordOutcomes(pending, error.outcomesBefore);
      throw error;
    }
  }

  #recordOutcomes(pending: readonly Entry[], outcomes: readonly BatchOutcome[]): void {
    const firstIndex = (pending[0] as Entry).index;
    for (const outcome of outcomes) {
      if (outcome.skipped) continue;
      const entry = pending[outcome.entryIndex - firstIndex];
      assert(entry !== undefined, `outcome for entry ${outcome.entryIndex} not in the batch`);
      assert(entry.index === outcome.entryIndex, `outcome for entry ${outcome.entryIndex} matched to entry ${entry.index}`);
      this.#recordApplied(entry, outcome.results);
    }
  }

  #assertNextToApply(index: number): void {
    const appliedIndex = this.#state.stateMachine.appliedIndex;
    assert(index === appliedIndex + 1, `applying ${index} after ${appliedIndex}`);
  }

  #recordApplied(entry: Entry, results: readonly StatementResult[]): void {
    this.#state.proposals.applied(entry.index, entry.term, { results, index: entry.index });
    this.#state.appliedWaiters.advance(entry.index);
  }

  #applyConfChange(entry: Entry): readonly StatementResult[] {
    const change = decodeConfChange(entry.data);
    this.#state.stateMachine.applyNoop(entry.index);
    this.#directory.applied(change);
    this.#state.logger.info({ event: 'membership-changed', change: change.type, node: change.nodeId, index: entry.index }, 'membership changed');
    return [];
  }
}
