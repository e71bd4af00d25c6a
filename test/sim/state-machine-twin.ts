/**
 * The runtime's `NodeStateMachine` port over the simulated key-value machine, durable as
 * the real SQLite one is: an entry's effects and the applied index change together, and a
 * process crash keeps both. Like the real one:
 *
 * - `applyBatch` applies a run of commands in order, skipping what is already applied; a
 *   halt (injected by the scenario, as SQLITE_FULL would be) stops at one entry with the
 *   outcomes of those before it. A transaction commit rejected as a conflict answers the
 *   real commit's conflict result; every other entry answers no results.
 * - `snapshot(toPath)` copies the state as of the call and writes the file later (a worker
 *   thread's VACUUM INTO: entries keep applying meanwhile), reporting the copy's index.
 * - `restore(fromPath)` reads the file and swaps the state in after a delay; no entry may
 *   apply meanwhile (asserted). A crash lands the swap or not.
 *
 * Every entry the runtime hands over is checked against the node's durable log (same
 * bytes, and the log must hold it: only persisted entries are applied), and reported to
 * the simulator with its term and label.
 */
import { decodeConfChange } from '../../src/raft/conf-change.js';
import type { Entry } from '../../src/raft/types.js';
import type { BatchOutcome, CapturedSnapshot, CaptureTarget, NodeStateMachine } from '../../src/node/ports.js';
import type { SnapshotChain } from '../../src/state-machine/snapshot-chains.js';
import { StateMachineError, StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { conflictResult } from '../../src/state-machine/transaction-replay.js';
import type { Statement, StatementResult } from '../../src/state-machine/types.js';
import type { DurableTwin } from './durable-twin.js';
import { KvStateMachine, type AppliedEntry, type StateMachineFault } from './kv-state-machine.js';
import type { TransactionFault } from './transaction-command.js';
import type { ProcessLife, SimulatedClock } from './sim-clock.js';
import type { SimulatedDisk } from './sim-disk.js';
import { digestBytes } from './trace.js';

export interface StateMachineBehaviour {
  /** How long a snapshot copy or a restore takes (virtual ms). */
  latencyMs(): number;
  /** Whether applying this batch halts (as a full disk halts SQLite). */
  applyHalts(): boolean;
  /** At a crash, whether a restore in progress lands. */
  inFlightWriteLands(): boolean;
}

export interface ApplyObserver {
  /** `node` applied `entry` (label: see AppliedEntry). */
  applied(applied: AppliedEntry, entry: Entry): void;
}

const noResults: readonly StatementResult[] = [];

/** The node's database: the key-value machine that survives the node's processes. */
export function emptyDatabase(fault: StateMachineFault | undefined, transactionFault?: TransactionFault): KvStateMachine {
  const machine = new KvStateMachine({ voters: [], learners: [] }, decodeConfChange);
  machine.fault = fault;
  machine.transactionFault = transactionFault;
  return machine;
}

export class StateMachineTwin implements NodeStateMachine {
  readonly path: string;
  readonly sqliteVersion = 'simulated';
  #restoring = false;
  #pendingRestore: (() => void) | undefined;
  #halted = false;

  constructor(
    private readonly database: KvStateMachine,
    private readonly log: DurableTwin,
    private readonly disk: SimulatedDisk,
    private readonly clock: SimulatedClock,
    private readonly life: ProcessLife,
    private readonly behaviour: StateMachineBehaviour,
    private readonly observer: ApplyObserver,
    directory: string,
  ) {
    this.path = `${directory}/db.sqlite`;
  }

  get appliedIndex(): number {
    return this.database.appliedIndex;
  }

  get healthy(): boolean {
    return !this.#halted;
  }

  apply(index: number, data: Uint8Array): { readonly results: readonly StatementResult[] } {
    const [outcome] = this.applyBatch([{ index, data }]);
    return { results: outcome?.results ?? noResults };
  }

  applyBatch(entries: readonly { readonly index: number; readonly data: Uint8Array }[]): readonly BatchOutcome[] {
    this.#assertNotRestoring();
    const appliedBefore = this.database.appliedIndex;
    const outcomes: BatchOutcome[] = [];
    const halts = entries.some((item) => item.index > appliedBefore) && this.behaviour.applyHalts();
    for (const item of entries) {
      if (item.index <= appliedBefore) {
        outcomes.push({ entryIndex: item.index, results: noResults, skipped: true });
        continue;
      }
      if (halts && item === entries[entries.length - 1]) {
        this.#halted = true;
        const error = new StateMachineHaltedError(item.index, 'SQLITE_FULL', 'database or disk is full (simulated)');
        error.outcomesBefore = outcomes.map((outcome) => ({
          entryIndex: outcome.entryIndex,
          results: outcome.results,
          deduplicated: false,
          skipped: outcome.skipped,
        }));
        throw error;
      }
      const entry = this.#loggedEntry(item.index);
      if (digestBytes(entry.data) !== digestBytes(item.data)) throw new Error(`entry ${item.index} handed to apply differs from the logged one`);
      outcomes.push({ entryIndex: item.index, results: this.#apply(entry), skipped: false });
    }
    this.#halted = false;
    return outcomes;
  }

  applyNoop(index: number): { readonly results: readonly StatementResult[] } {
    this.#assertNotRestoring();
    if (index > this.database.appliedIndex) this.#apply(this.#loggedEntry(index));
    return { results: noResults };
  }

  query(_statements: readonly Statement[]): readonly StatementResult[] {
    throw new StateMachineError('CLOSED', 'the simulated state machine answers reads through the simulator');
  }

  snapshot(toPath: string): Promise<{ readonly appliedIndex: number }> {
    const data = this.database.snapshotData();
    const appliedIndex = this.database.appliedIndex;
    return new Promise((resolve) => {
      this.clock.schedule(
        this.behaviour.latencyMs(),
        () => {
          this.disk.write(toPath, data);
          resolve({ appliedIndex });
        },
        this.life,
      );
    });
  }

  /** Whole-file snapshots only: a capture is a copy, as snapshot() makes. */
  async captureSnapshot(target: CaptureTarget, _previousProof: string | undefined): Promise<CapturedSnapshot> {
    const { appliedIndex } = await this.snapshot(target.dataPath);
    return { appliedIndex, format: 'full', proof: undefined };
  }

  materialiseSnapshot(_chain: SnapshotChain, _toPath: string): Promise<number> {
    return Promise.reject(new Error('the simulated state machine keeps whole-file snapshots: nothing to materialise'));
  }

  absorbSnapshotWal(_rootPath: string): Promise<void> {
    return Promise.resolve();
  }

  walBytes(): number {
    return 0;
  }

  restore(from: string | SnapshotChain): Promise<{ readonly appliedIndex: number }> {
    this.#assertNotRestoring();
    const fromPath = typeof from === 'string' ? from : from.root.dataPath;
    const data = this.disk.read(fromPath);
    if (data === undefined) return Promise.reject(new StateMachineError('BAD_SNAPSHOT', `no snapshot file at ${fromPath}`));
    this.#restoring = true;
    return new Promise((resolve) => {
      const land = (): number => this.database.restoreFrom(data).index;
      this.#pendingRestore = land;
      this.clock.schedule(
        this.behaviour.latencyMs(),
        () => {
          this.#pendingRestore = undefined;
          this.#restoring = false;
          resolve({ appliedIndex: land() });
        },
        this.life,
      );
    });
  }

  checksum(): { readonly checksum: string; readonly appliedIndex: number } {
    return { checksum: this.database.fingerprint(), appliedIndex: this.database.appliedIndex };
  }

  /** The simulated database has no thread to read on: the same checksum, answered on the next turn. */
  async checksumOffThread(): Promise<{ readonly checksum: string; readonly appliedIndex: number }> {
    return this.checksum();
  }

  close(): void {}

  /** The process died: a restore in progress lands or not (the real swap is a rename). */
  crash(): void {
    const land = this.#pendingRestore;
    this.#pendingRestore = undefined;
    if (land !== undefined && this.behaviour.inFlightWriteLands()) land();
  }

  #assertNotRestoring(): void {
    if (this.#restoring) throw new Error('the runtime applied while a restore was in progress');
  }

  /** The entry at `index` as this node's durable log holds it: the runtime applies only persisted entries. */
  #loggedEntry(index: number): Entry {
    const [entry] = this.log.entries(index, index + 1, Number.MAX_SAFE_INTEGER);
    if (entry === undefined) throw new Error(`entry ${index} is not in the durable log`);
    return entry;
  }

  /** Applies `entry`; its results are what the real machine answers: none, or a transaction commit's conflict. */
  #apply(entry: Entry): readonly StatementResult[] {
    const applied = this.database.apply(entry);
    this.observer.applied(applied, entry);
    return applied.transactionAnswer === 'conflict' ? [conflictResult(0)] : noResults;
  }
}
