/**
 * Stream entries into the replica's state machine as a node applies them (src/node/apply.ts):
 * runs of commands and no-ops as one batch (one SQLite transaction each), a load's chunks
 * and aborts together and its commit alone through `loads.apply()`, in log order. Entries
 * at or below the applied index are dropped: after a reconnect the stream may repeat some.
 */
import { isDatabaseEntry } from '../state-machine/database-entries.js';
import { loadEntryKind } from '../state-machine/load-entries.js';
import { applyBatchEntryCountMax, type BatchEntry, type SqliteStateMachine } from '../state-machine/state-machine.js';

type RunKind = 'commands' | 'load' | 'load-commit';

function runKind(entry: BatchEntry): RunKind {
  const kind = loadEntryKind(entry.data);
  if (kind === undefined) return 'commands';
  return kind === 'commit' ? 'load-commit' : 'load';
}

function planRuns(entries: readonly BatchEntry[]): { kind: RunKind; entries: BatchEntry[] }[] {
  const runs: { kind: RunKind; entries: BatchEntry[] }[] = [];
  for (const entry of entries) {
    const kind = runKind(entry);
    const last = runs.at(-1);
    if (last !== undefined && last.kind === kind && kind !== 'load-commit' && last.entries.length < applyBatchEntryCountMax) last.entries.push(entry);
    else runs.push({ kind, entries: [entry] });
  }
  return runs;
}

/** Applies `entries` (consecutive, possibly starting at or below the applied index); resolves once all applied. */
export async function applyStreamEntries(machine: SqliteStateMachine, entries: readonly BatchEntry[]): Promise<void> {
  // A replica of main gets the whole log: another database's entries (and creates, drops) are no-ops here.
  // (A replica of another database gets its entries already unwrapped, the rest as no-ops: the node filters.)
  const pending = entries
    .filter((entry) => entry.index > machine.appliedIndex)
    .map((entry) => (isDatabaseEntry(entry.data) ? { index: entry.index, data: new Uint8Array(0) } : entry));
  for (const run of planRuns(pending)) {
    if (run.kind === 'commands') machine.applyBatch(run.entries);
    else await machine.loads.apply(run.entries);
  }
}
