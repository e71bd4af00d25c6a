/**
 * The node's state machine when a cluster holds several databases (docs/ARCHITECTURE.md,
 * "Several databases"): the default database is this SqliteStateMachine itself, exactly
 * as before; the others live in a DatabaseCatalog. An entry for another database (or a
 * create or drop) applies there first, then the default database applies it as a no-op:
 * the default's applied index stays the node's, and every entry at or below it is in
 * every database (replay from it skips, per database, what that database has).
 */
import { DatabaseCatalog } from './database-catalog.js';
import { hasIncomingDatabases } from './database-catalog-files.js';
import { DatabaseLoads } from './database-loads.js';
import { decodeDatabaseEntry, defaultDatabaseName, isDatabaseEntry, unknownDatabaseMessage, type DatabaseEntry } from './database-entries.js';
import { StateMachineError, StateMachineHaltedError } from './errors.js';
import type { SnapshotInfo } from './database-copies.js';
import type { RestoredSnapshot } from './machine-snapshots.js';
import type { StateMachineOptions } from './options.js';
import type { CapturedSnapshot, CaptureTarget } from './snapshot-capture.js';
import type { SnapshotChain } from './snapshot-chains.js';
import { SqliteStateMachine, type BatchEntry } from './state-machine.js';
import type { TimedReadOptions } from './timed-reads.js';
import type { PreviewOutcome, PreviewTransaction } from './transaction-preview.js';
import type { ApplyOutcome, Statement, StatementResult } from './types.js';

interface MultiDatabaseOptions extends StateMachineOptions {
  /** Databases in all, the default one included; must be equal on every node. */
  readonly databaseCountMax: number;
}

/** Which database a read addresses; absent: the default one. */
export interface DatabaseChoice {
  readonly database?: string | undefined;
}

export class MultiDatabaseMachine extends SqliteStateMachine {
  readonly catalog: DatabaseCatalog;
  readonly #loads: DatabaseLoads;

  constructor(options: MultiDatabaseOptions) {
    super(options);
    // Change data capture follows the default database only: rqlite's events name no
    // database, and an extra database's entry is applied again in the default one as a no-op.
    const { databaseCountMax, path, onCommitStep, onRestoreStep, onSnapshotStep, changeCapture, ...shared } = options;
    try {
      this.catalog = new DatabaseCatalog(path, shared, databaseCountMax);
    } catch (error) {
      super.close();
      throw error;
    }
    this.#loads = new DatabaseLoads(this, super.loads, () => this.catalog);
  }

  /** Loads of every database: the default one's, and the targeted ones of the others (database-loads.ts). */
  override get loads(): DatabaseLoads {
    return this.#loads;
  }

  /** The machine that holds database `name` (the default one: this); throws NO_DATABASE for a name not created. */
  database(name: string | undefined): SqliteStateMachine {
    if (name === undefined || name === defaultDatabaseName) return this;
    const machine = this.catalog.get(name);
    if (machine === undefined) throw new StateMachineError('NO_DATABASE', unknownDatabaseMessage(name));
    return machine;
  }

  override apply(index: number, data: Uint8Array): ApplyOutcome {
    if (!isDatabaseEntry(data)) return super.apply(index, data);
    if (index <= this.appliedIndex) return super.applyNoop(index);
    let entry: DatabaseEntry;
    try {
      entry = decodeDatabaseEntry(data);
    } catch (error) {
      throw new StateMachineHaltedError(index, 'BAD_COMMAND', error instanceof Error ? error.message : String(error), { cause: error });
    }
    // The addressed database first: a crash between the two commits replays the entry, which it then skips.
    const outcome = this.catalog.apply(index, entry);
    super.applyNoop(index);
    return { ...outcome, skipped: false };
  }

  /** Runs of the default database's entries apply as one batch each; every other entry on its own. */
  override applyBatch(entries: readonly BatchEntry[]): ApplyOutcome[] {
    if (!entries.some((entry) => isDatabaseEntry(entry.data))) return super.applyBatch(entries);
    const outcomes: ApplyOutcome[] = [];
    let run: BatchEntry[] = [];
    try {
      for (const entry of entries) {
        if (!isDatabaseEntry(entry.data)) {
          run.push(entry);
          continue;
        }
        outcomes.push(...super.applyBatch(run));
        run = [];
        outcomes.push(this.apply(entry.index, entry.data));
      }
      outcomes.push(...super.applyBatch(run));
      return outcomes;
    } catch (error) {
      if (error instanceof StateMachineHaltedError) error.outcomesBefore = [...outcomes, ...error.outcomesBefore];
      throw error;
    }
  }

  override query(statements: readonly Statement[], options: Omit<TimedReadOptions, 'timeoutMs' | 'signal'> & DatabaseChoice = {}): StatementResult[] {
    const machine = this.database(options.database);
    return machine === this ? super.query(statements, options) : machine.query(statements, options);
  }

  override queryWithDeadline(statements: readonly Statement[], options: TimedReadOptions & DatabaseChoice): Promise<StatementResult[]> {
    const machine = this.database(options.database);
    return machine === this ? super.queryWithDeadline(statements, options) : machine.queryWithDeadline(statements, options);
  }

  override previewTransaction(transaction: PreviewTransaction, statements: readonly Statement[], timings: boolean, database?: string): PreviewOutcome {
    const machine = this.database(database);
    return machine === this ? super.previewTransaction(transaction, statements, timings) : machine.previewTransaction(transaction, statements, timings);
  }

  override isReadOnly(statement: Statement, database?: string): boolean {
    const machine = this.database(database);
    return machine === this ? super.isReadOnly(statement) : machine.isReadOnly(statement);
  }

  /** A capture of the default database, then a copy of every other one into its internal export (database-catalog.ts). */
  override async captureSnapshot(target: CaptureTarget, previousProof: string | undefined): Promise<CapturedSnapshot> {
    const captured = await super.captureSnapshot(target, previousProof);
    await this.catalog.addToSnapshot(target.internalPath);
    return captured;
  }

  override async snapshot(toPath: string): Promise<SnapshotInfo> {
    const info = await super.snapshot(toPath);
    await this.catalog.addToSnapshot(toPath);
    return info;
  }

  /**
   * The default database is restored; when the snapshot carried the other databases (its
   * migration staged them: database-catalog-files.ts), they replace the open ones. A load
   * of the default database carries none: the others stay open throughout.
   */
  override async restore(from: string | SnapshotChain): Promise<RestoredSnapshot> {
    const restored = await super.restore(from);
    if (hasIncomingDatabases(this.path)) {
      this.catalog.close();
      this.catalog.open();
    }
    return restored;
  }

  override close(): void {
    this.catalog.close();
    super.close();
  }
}
