/**
 * The SQLite state machine: applies committed Raft entries, in order, to one SQLite
 * database, and serves reads.
 *
 * Contract (as hashicorp/raft's FSM): apply must be deterministic. Applying the same
 * entries to the same database gives the same database and the same results on every
 * node, whatever its clock, time zone, seed or restart history:
 * - random(), randomblob() and every 'now' answer from the entry's seed and timestamp
 *   (see deterministic-functions.ts), in statements, defaults and triggers alike;
 * - connection state a statement could observe (changes(), last_insert_rowid()) is reset
 *   at the start of every entry;
 * - SQL that would differ per node or vanish on restart is refused (sql-policy.ts);
 * - a SQL error is a result; an environmental failure halts: the entry is not applied, the
 *   machine reports unhealthy, and applying the same entry again may succeed.
 * The applied index (in the database's header) and the request dedup table (in the
 * internal store beside it, with the maintenance times) never let a crash apply an entry
 * twice: database-layout.ts, pair-transactions.ts.
 */
import type Database from 'better-sqlite3';
import { basename } from 'node:path';
import { indexesFromMarker } from './applied-marker.js';
import { contentChecksum, type ContentChecksum } from './checksum.js';
import { checksumInWorker } from './transfer-worker.js';
import { dumpLines, userTables } from './dump.js';
import type { SnapshotInfo } from './database-copies.js';
import { MachineSnapshots, type RestoredSnapshot } from './machine-snapshots.js';
import type { CapturedSnapshot, CaptureTarget } from './snapshot-capture.js';
import type { SnapshotChain } from './snapshot-chains.js';
import { decodeCommand } from './command-codec.js';
import { assertUtcTimeZone, openPristineConnection, readMarker, resetConnectionState, type Connections } from './connections.js';
import type { OpenEvent } from './database-layout.js';
import { closeConnections, openConnections } from './machine-connections.js';
import { DeterministicFunctions, localSource } from './deterministic-functions.js';
import { EntryExecutor, TransactionLostError } from './entry-execution.js';
import { isLoadEntry } from './load-entries.js';
import { MachineLoads, type LoadApplier } from './machine-loads.js';
import { StateMachineError, StateMachineHaltedError } from './errors.js';
import { assert } from '../common/assert.js';
import { decodeMaintenanceCommand, isMaintenanceCommand, maintenanceTimes, runMaintenance, vacuum, type MaintenanceKind } from './maintenance.js';
import { resolveSettings, type StateMachineOptions, type StateMachineSettings } from './options.js';
import { PairTransactions } from './pair-transactions.js';
import { isEnvironmentalError } from './statement-runner.js';
import { readStatusPragmas } from './status-pragmas.js';
import { createTimedReads, type TimedReadOptions, type TimedReads } from './timed-reads.js';
import type { PreviewOutcome, PreviewTransaction } from './transaction-preview.js';
import type { ApplyOutcome, Command, StateMachineStatus, Statement, StatementResult } from './types.js';
import { capturedWork, endedEntry, type ChangeCapture } from './change-capture.js';

export interface BatchEntry {
  readonly index: number;
  /** The entry's data; empty for a leader's no-op or a membership change. */
  readonly data: Uint8Array;
}

/** Open events kept for openEvents (a node halting and reopening every second must not grow it without end). */
const openEventCountMax = 16;

/** Entries one applyBatch() call may carry (the runtime hands over one Ready's committed entries). */
export const applyBatchEntryCountMax = 10_000;

export class SqliteStateMachine {
  readonly path: string;
  readonly #settings: StateMachineSettings;
  readonly #pristine: Database.Database;
  readonly #functions: DeterministicFunctions | undefined;
  readonly #executor: EntryExecutor;
  #connections: Connections | undefined;
  /** The applied index, and the two-file commit of every entry transaction. */
  readonly #pair: PairTransactions;
  /** What each open of the database found (migrations, resets): the node logs them. */
  readonly #openEvents: OpenEvent[] = [];
  #haltReason: string | undefined;
  #closed = false;
  /** Inside applyBatch: a lost transaction must restart the batch one entry at a time. */
  #batching = false;
  readonly #sparseEntries: boolean;
  /** Reads with a deadline, in child processes started on first use. */
  readonly #timedReads: TimedReads;
  readonly #loads: MachineLoads;
  /** Snapshot captures, materialising, backups and restores (machine-snapshots.ts). */
  readonly #snapshots: MachineSnapshots;
  readonly sqliteVersion: string;
  readonly #capture: ChangeCapture | undefined;

  constructor(options: StateMachineOptions) {
    this.path = options.path;
    this.#sparseEntries = options.sparseEntries ?? false;
    this.#pair = new PairTransactions(this.path, options.onCommitStep, (index, code, cause) => this.#halt(index, code, cause));
    this.#settings = resolveSettings(options);
    this.#capture = options.changeCapture;
    assert(this.#settings.dedupRequestCountMax >= 1, 'dedupRequestCountMax is at least 1');
    assert(this.#settings.dedupWindowMs >= 0, 'dedupWindowMs is not negative');
    this.#pristine = openPristineConnection();
    this.#functions = this.#settings.determinism === 'sqlite-builtin' ? undefined : new DeterministicFunctions(this.#pristine);
    const localClockSource = this.#settings.determinism === 'local-clock' ? localSource(options.localClock ?? Date.now, options.localSeed ?? 0n) : undefined;
    this.#executor = new EntryExecutor(this.#settings, this.#functions, localClockSource);
    this.#timedReads = createTimedReads(this.path, this.#settings);
    this.#snapshots = new MachineSnapshots({
      path: this.path,
      settings: this.#settings,
      timedReads: this.#timedReads,
      onRestoreStep: options.onRestoreStep,
      onSnapshotStep: options.onSnapshotStep,
      applyConnection: () => this.#open().apply,
      pinHistory: () => this.#pair.pinHistory(),
      appliedIndex: () => this.#pair.appliedIndex,
      reopenAround: (swap) => {
        this.#closeConnections();
        swap();
        this.#connections = this.#openConnections();
        this.#haltReason = undefined;
      },
    });
    try {
      assertUtcTimeZone(this.#pristine);
      this.sqliteVersion = this.#pristine.prepare('SELECT sqlite_version()').pluck().get() as string;
      this.#connections = this.#openConnections();
      this.#loads = new MachineLoads(this.path, this.appliedIndex, {
        extensionPaths: this.#settings.extensionPaths,
        store: () => this.#open().store,
        appliedIndex: () => this.#pair.appliedIndex,
        skipIfApplied: (index) => this.#skipIfApplied(index),
        applyNoops: (indexes) => this.applyBatch(indexes.map((index) => ({ index, data: new Uint8Array(0) }))),
        restore: (path) => this.restore(path, 'load'),
        halt: (index, code, cause) => this.#halt(index, code, cause),
      });
    } catch (error) {
      this.#pristine.close();
      throw error;
    }
  }

  /** Loads staged through the log (machine-loads.ts); a machine of several databases routes them (database-loads.ts). */
  get loads(): LoadApplier {
    return this.#loads;
  }

  #openConnections(): Connections {
    const opened = openConnections(this.path, this.#settings, this.#functions);
    this.#pair.opened(opened.appliedIndex, opened.storeIndex);
    opened.connections.applyRunner.schemaChangeListener = this.#capture;
    this.#openEvents.push(opened.event);
    if (this.#openEvents.length > openEventCountMax) this.#openEvents.shift();
    return opened.connections;
  }

  #closeConnections(): void {
    const connections = this.#connections;
    this.#connections = undefined;
    if (connections !== undefined) closeConnections(connections);
  }

  #open(): Connections {
    if (this.#closed) throw new StateMachineError('CLOSED', 'the state machine is closed');
    if (this.#connections === undefined) {
      // Only after a halt whose reopen failed; the next apply() tries to reopen again.
      throw new StateMachineError('UNAVAILABLE', `the database is not open: ${this.#haltReason ?? 'unknown reason'}`);
    }
    return this.#connections;
  }

  get appliedIndex(): number {
    return this.#pair.appliedIndex;
  }

  get healthy(): boolean {
    return this.#haltReason === undefined;
  }

  status(): StateMachineStatus {
    return {
      path: this.path,
      sqliteVersion: this.sqliteVersion,
      appliedIndex: this.#pair.appliedIndex,
      healthy: this.healthy,
      haltReason: this.#haltReason,
    };
  }

  /** For tests: statements held in the apply connection's prepared-statement cache. */
  get cachedApplyStatementCount(): number {
    return this.#open().applyRunner.cachedStatementCount;
  }

  /**
   * Applies committed entry `index`. Entries at or below the applied index are skipped
   * (replay after a crash). Empty data is a leader's no-op. Throws StateMachineHaltedError
   * on an environmental failure; the entry is then not applied.
   */
  apply(index: number, data: Uint8Array): ApplyOutcome {
    const skipped = this.#skipIfApplied(index);
    if (skipped !== undefined) return skipped;
    if (data.length === 0) return this.applyNoop(index);
    if (isMaintenanceCommand(data)) return this.#applyMaintenance(index, data);
    if (isLoadEntry(data)) throw new StateMachineError('BAD_COMMAND', `entry ${index} is a load's: it applies through loads.apply()`);
    const command = this.#decoded(index, decodeCommand, data);
    return this.#inEntryTransaction(
      index,
      index,
      (connections) => endedEntry(this.#capture, index, command, this.#executor.execute(connections, index, command, this.#batching)),
      (connections) => this.#executor.deferredViolation(connections, index, command),
    );
  }

  /**
   * Applies consecutive committed entries in one SQLite transaction (one commit, one WAL
   * write), each with exactly the semantics and results of apply(). Empty data is a no-op.
   * On an environmental failure nothing of the batch is applied and the halt names its
   * first entry; an undecodable entry applies the entries before it, then halts (their
   * outcomes ride on the error's `outcomesBefore`).
   */
  applyBatch(entries: readonly BatchEntry[]): ApplyOutcome[] {
    if (entries.length > applyBatchEntryCountMax) {
      assert(false, `a batch holds at most ${applyBatchEntryCountMax} entries (applyBatchEntryCountMax), got ${entries.length}`);
    }
    const firstEntry = entries[0];
    if (firstEntry === undefined) return [];
    if (this.#closed) throw new StateMachineError('CLOSED', 'the state machine is closed');
    assert(!this.#snapshots.restoring, 'no entries apply while a restore is in progress');
    if (!this.healthy) this.#recover(firstEntry.index);
    const pending = entries.filter((item) => item.index > this.#pair.appliedIndex);
    const skipped = entries.slice(0, entries.length - pending.length).map((item) => this.apply(item.index, item.data));
    // A maintenance entry (VACUUM runs outside transactions) or a load's (file work first) never shares a batch.
    if (pending.length <= 1 || pending.some((item) => isMaintenanceCommand(item.data) || isLoadEntry(item.data))) {
      return [...skipped, ...pending.map((item) => this.apply(item.index, item.data))];
    }
    pending.forEach((item, position) => {
      if (item.index !== this.#pair.appliedIndex + 1 + position) assert(false, `batch entry ${item.index} follows ${this.#pair.appliedIndex + position}`);
    });
    const commands: (Command | undefined)[] = [];
    for (const item of pending) {
      if (item.data.length === 0) {
        commands.push(undefined);
        continue;
      }
      try {
        commands.push(decodeCommand(item.data));
      } catch (error) {
        if (!(error instanceof StateMachineError)) throw error;
        const halted = this.#halt(item.index, 'BAD_COMMAND', error);
        this.#haltReason = undefined;
        const appliedBefore = this.applyBatch(pending.slice(0, commands.length));
        this.#haltReason = halted.message;
        halted.outcomesBefore = [...skipped, ...appliedBefore];
        throw halted;
      }
    }
    return [...skipped, ...this.#applyDecodedBatch(pending, commands)];
  }

  #applyDecodedBatch(pending: readonly BatchEntry[], commands: readonly (Command | undefined)[]): ApplyOutcome[] {
    const first = pending[0] as BatchEntry;
    this.#batching = true;
    try {
      return this.#inEntryTransaction(first.index, pending[pending.length - 1]?.index as number, (connections) =>
        pending.map((item, position) => {
          if (position > 0) resetConnectionState(connections);
          const command = commands[position];
          if (command === undefined) return { entryIndex: item.index, results: [], deduplicated: false, skipped: false };
          return endedEntry(this.#capture, item.index, command, this.#executor.execute(connections, item.index, command, this.#batching));
        }),
      );
    } catch (error) {
      if (!(error instanceof TransactionLostError)) throw error;
      // A statement's ROLLBACK ended the shared transaction, or COMMIT hit a deferred
      // constraint violation: nothing of the batch committed; apply one at a time instead.
      this.#batching = false;
      return pending.map((item) => this.apply(item.index, item.data));
    } finally {
      this.#batching = false;
    }
  }

  /** An undecodable entry halts the node (a newer build wrote it, or it is corrupt): it is never skipped. */
  #decoded<Decoded>(index: number, decode: (data: Uint8Array) => Decoded, data: Uint8Array): Decoded {
    try {
      return decode(data);
    } catch (error) {
      if (!(error instanceof StateMachineError)) throw error;
      throw this.#halt(index, 'BAD_COMMAND', error);
    }
  }

  /** A maintenance entry (maintenance.ts): VACUUM just before the entry's transaction (it cannot run inside one), the rest inside. */
  #applyMaintenance(index: number, data: Uint8Array): ApplyOutcome {
    const command = this.#decoded(index, decodeMaintenanceCommand, data);
    if (command.kind === 'vacuum') {
      // A crash before the commit vacuums again on replay: the same content. A failure (no room for
      // VACUUM's copy) halts like any environmental one: every node must vacuum at this index.
      try {
        vacuum(this.#open().apply);
      } catch (error) {
        throw this.#halt(index, isEnvironmentalError(error) ? error.code : 'VACUUM_FAILED', error);
      }
    }
    return this.#inEntryTransaction(index, index, (connections) => runMaintenance(connections, command, index));
  }

  /** When the leader last had every node VACUUM or refresh statistics (maintenance.ts). */
  maintenanceTimes(): Map<MaintenanceKind, number> {
    return maintenanceTimes(this.#open().store, this.#pair.appliedIndex);
  }

  /** The SQLite extensions every connection loads, by file name (rqlite's /status extensions.names). */
  get extensionNames(): string[] {
    return this.#settings.extensionPaths.map((path) => basename(path)).sort();
  }

  /** Advances the applied index without running anything: a no-op or membership-change entry. */
  applyNoop(index: number): ApplyOutcome {
    const skipped = this.#skipIfApplied(index);
    if (skipped !== undefined) return skipped;
    return this.#inEntryTransaction(index, index, () => ({ entryIndex: index, results: [], deduplicated: false, skipped: false }));
  }

  #skipIfApplied(index: number): ApplyOutcome | undefined {
    if (this.#closed) throw new StateMachineError('CLOSED', 'the state machine is closed');
    assert(!this.#snapshots.restoring, 'no entries apply while a restore is in progress');
    assert(Number.isSafeInteger(index) && index > 0, 'entry index is a positive integer');
    if (!this.healthy) this.#recover(index);
    if (index <= this.#pair.appliedIndex) return { entryIndex: index, results: [], deduplicated: false, skipped: true };
    if (index !== this.#pair.appliedIndex + 1 && !this.#sparseEntries) assert(false, `entry ${index} follows applied index ${this.#pair.appliedIndex}`);
    return undefined;
  }

  /** Runs entries firstIndex..lastIndex in one transaction of each file (pair-transactions.ts); the applied index moves only on commit. */
  #inEntryTransaction<Outcome>(
    firstIndex: number,
    lastIndex: number,
    work: (connections: Connections) => Outcome,
    onDeferredViolation?: (connections: Connections) => Outcome,
  ): Outcome {
    assert(this.healthy, 'entries apply only while healthy');
    return this.#pair.run(this.#open(), firstIndex, lastIndex, ...capturedWork(this.#capture, firstIndex, lastIndex, work, onDeferredViolation));
  }

  #halt(index: number, code: string, cause: unknown): StateMachineHaltedError {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const error = new StateMachineHaltedError(index, code, detail, { cause });
    this.#haltReason = error.message;
    return error;
  }

  /**
   * After a halt: reopen the connections (the file may be writable again) and re-read the
   * applied index from the database, the only authority on what committed (a commit that
   * reported an I/O error may still have reached the disk; the entry is then skipped).
   */
  #recover(index: number): void {
    const appliedBefore = this.#pair.appliedIndex;
    try {
      this.#closeConnections();
      this.#connections = this.#openConnections();
    } catch (error) {
      const code = isEnvironmentalError(error) ? error.code : 'REOPEN_FAILED';
      throw this.#halt(index, code, error);
    }
    // Only a power loss makes the pair start over; a running node must restart to restore its snapshot.
    assert(this.#pair.appliedIndex >= appliedBefore, `the database started over while running (${JSON.stringify(this.#openEvents.at(-1))}): restart the node`);
    this.#haltReason = undefined;
  }

  /**
   * Whether `statement` can run as a read (for /db/request, which sends a request through
   * the log if any statement writes): every SQLite statement in it passes the read policy
   * and is read-only by SQLite's own judgement. SQL that does not compile counts as a write
   * (the log path then reports its error deterministically).
   */
  isReadOnly(statement: Statement): boolean {
    return this.#open().readRunner.isReadOnly(statement.sql);
  }

  /**
   * Runs reads on the read-only connection with the real clock. A statement that would
   * change anything is an error result and changes nothing. With `transaction`, all
   * statements see one snapshot of the database.
   */
  query(statements: readonly Statement[], options: Omit<TimedReadOptions, 'timeoutMs' | 'signal'> = {}): StatementResult[] {
    const connections = this.#open();
    const timings = options.timings ?? false;
    const qualifyColumns = options.qualifyColumns ?? false;
    if (!options.transaction) return statements.map((statement) => connections.readRunner.run(statement, timings, qualifyColumns));
    connections.read.exec('BEGIN');
    try {
      return statements.map((statement) => connections.readRunner.run(statement, timings, qualifyColumns));
    } finally {
      connections.read.exec('COMMIT');
    }
  }

  /** An interactive transaction's statements run after its earlier ones, then rolled back (transaction-preview.ts). */
  previewTransaction(transaction: PreviewTransaction, statements: readonly Statement[], timings: boolean): PreviewOutcome {
    return this.#open().previews.run(transaction, statements, timings);
  }

  /** rqlite's `store.sqlite3.pragmas`: the write (`rw`) and read (`ro`) connections' settings. */
  pragmas(): Record<'rw' | 'ro', Record<string, string>> {
    const connections = this.#open();
    return { rw: readStatusPragmas(connections.apply), ro: readStatusPragmas(connections.read) };
  }

  /** query() with rqlite's `db_timeout`: in a child process killed at the deadline (timed-reads.ts); unfinished statements answer "query timeout". */
  queryWithDeadline(statements: readonly Statement[], options: TimedReadOptions): Promise<StatementResult[]> {
    this.#open();
    return this.#timedReads.run(statements, options);
  }

  /** The content checksum at the applied index (one read transaction: the marker names its index exactly, near the one applied). */
  checksum(): ContentChecksum {
    return contentChecksum(this.#open().read, (read) => indexesFromMarker(readMarker(read), this.#pair.appliedIndex).appliedIndex);
  }

  /** checksum() on a worker thread with a read-only connection of its own: it reads every row, too long to hold the event loop. */
  checksumOffThread(): Promise<ContentChecksum> {
    return checksumInWorker(this.path, { ...this.#settings, appliedIndexHint: this.#pair.appliedIndex });
  }

  /** What the last opens of the database found, oldest first (a migration of the old layout, a reset after power loss). */
  get openEvents(): readonly OpenEvent[] {
    return this.#openEvents;
  }

  /** The request ids the dedup table remembers now. */
  rememberedRequestCount(): number {
    return this.#open().store.rememberedRequestCount();
  }

  userTables(): string[] {
    return userTables(this.#open().read);
  }

  /** The sqlite3-style dump of `tables` (all user tables when omitted), internal tables excluded. */
  dumpLines(tables?: readonly string[]): Generator<string> {
    this.#open();
    return dumpLines(this.path, tables, this.#settings.extensionPaths);
  }

  dump(tables?: readonly string[]): string {
    return `${[...this.dumpLines(tables)].join('\n')}\n`;
  }

  /** A full self-contained copy at `toPath` (VACUUM INTO on a worker, the old one-file format) and its index: lost-quorum recovery. */
  async snapshot(toPath: string): Promise<SnapshotInfo> {
    this.#open();
    const outsideAnyLoad = this.#loads.guardSnapshot();
    return outsideAnyLoad(await this.#snapshots.fullCopy(toPath));
  }

  /** A snapshot at the applied index that costs what changed: a delta after the snapshot `previousProof` names, or a base (snapshot-capture.ts). */
  async captureSnapshot(target: CaptureTarget, previousProof: string | undefined): Promise<CapturedSnapshot> {
    this.#open();
    // No snapshot may fall inside a load (machine-loads.ts); one discarded for that leaves the next capture a base.
    const outsideAnyLoad = this.#loads.guardSnapshot();
    return outsideAnyLoad(await this.#snapshots.capture(target, previousProof));
  }

  /** The live WAL's bytes: rqlite's -raft-snap-wal-size triggers a snapshot past it. */
  walBytes(): number {
    return this.#snapshots.walBytes();
  }

  /** One self-contained snapshot file (the old one-file format) from a stored chain: for a follower or a user. */
  materialiseSnapshot(chain: SnapshotChain, toPath: string): Promise<number> {
    return this.#snapshots.materialise(chain, toPath);
  }

  /** Checkpoints a delta placed beside a stored root as its WAL into it (the snapshot store folds deltas). */
  absorbSnapshotWal(rootPath: string): Promise<void> {
    return this.#snapshots.absorbWal(rootPath);
  }

  /** /db/backup: a copy of the user's objects only (no applied index, no dedup table), application_id 0, made on a worker. */
  backup(toPath: string): Promise<{ readonly bytes: number }> {
    this.#open();
    return this.#snapshots.backup(toPath);
  }

  /** Replaces the database with a snapshot file or stored chain, crash-safely (machine-snapshots.ts); no entries apply until it resolves. */
  async restore(from: string | SnapshotChain, reason: 'snapshot' | 'load' = 'snapshot'): Promise<RestoredSnapshot> {
    this.#open();
    const appliedBefore = this.#pair.appliedIndex;
    if (reason === 'snapshot') this.#capture?.restoring(appliedBefore);
    const restored = await this.#snapshots.restore(from);
    // CDC never saw the entries a snapshot covers (its queue fills them from peers); a load emits no events, as in rqlite.
    if (reason === 'snapshot') this.#capture?.restored(appliedBefore, this.#pair.appliedIndex);
    // A load staged before the restored index is of the history the restore replaced.
    this.#loads.discardAll();
    return restored;
  }

  close(): void {
    if (this.#closed) return;
    this.#timedReads.close();
    this.#snapshots.close();
    this.#closeConnections();
    this.#pristine.close();
    this.#closed = true;
  }
}
