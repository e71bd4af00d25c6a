/**
 * Snapshots whose cost follows what changed, not the size of the database.
 *
 * The apply connection never checkpoints on its own (wal_autocheckpoint = 0), and no other
 * connection to the database can write, so the WAL holds every change since the last
 * checkpoint, and only captures checkpoint. A capture at applied index N is then:
 * - a delta, when the live WAL is of the generation the previous snapshot recorded (its
 *   `proof`): the pages the WAL committed, each once, copied into the snapshot (on a
 *   worker thread while entries keep applying; the frames of those entries are appended
 *   on the event loop between two entries), then the WAL checkpointed and started again;
 * - a base otherwise (no previous snapshot, a restore, a WAL that someone else
 *   checkpointed): a complete checkpoint, then the database file copied on a worker (no
 *   checkpoint runs until the next capture, so the file holds N throughout).
 * Most of the checkpoint runs on the worker too (PASSIVE, while a read transaction here
 * keeps any writer from starting the WAL again); the event loop checkpoints the rest.
 * Either way a no-op transaction then gives the live WAL its next generation, whose salts
 * are the new snapshot's proof: the next capture is a delta only if nothing restarted the
 * WAL in between (a crash keeps the WAL; so does closing, see machine-connections.ts).
 * A checkpoint that readers keep from finishing leaves the WAL as it is: the next delta
 * then repeats frames the previous one had, which changes nothing when applied again.
 *
 * Every snapshot also carries the internal store's state at N (snapshot-chain-tasks.ts,
 * `export-internal`): the store is bounded (dedupRequestCountMax rows), and a file of its
 * own keeps the chain of database pages free of it.
 */
import Database from 'better-sqlite3';
import { databasesTable, databasesTableSql } from './database-catalog-files.js';
import { legacySchema, maintenanceTable, requestsTable, stateTable } from './connections.js';
import { StateMachineError } from './errors.js';
import { coveredRangeSql, liveMaintenanceAtSql, liveRequestsAtSql } from './internal-store.js';
import type { SnapshotStep } from './options.js';
import type { CarriedLayout } from './snapshot-chain-tasks.js';
import type { ChainTask } from './snapshot-chain-tasks.js';
import { appendWal, readWalHeader, walFileBytes, type WalCopy } from './wal-frames.js';

/** The file layout a snapshot carries the internal state in: the old one-file format's tables. */
export const carriedLayout: CarriedLayout = {
  legacySchema,
  tableNames: [stateTable, requestsTable, maintenanceTable],
  stateTable,
  optionalTables: [{ name: databasesTable, sql: databasesTableSql }],
};

export interface CapturedSnapshot {
  /** The applied index the snapshot holds. */
  readonly appliedIndex: number;
  /** 'delta': the data file holds WAL frames since the snapshot the proof named; 'base': it is a copy of the database file. */
  readonly format: 'base' | 'delta';
  /** The live WAL's generation after the capture: a capture given this proof continues the chain. */
  readonly proof: string;
  readonly dataBytes: number;
  /** How long the capture held the event loop (the checkpoint's rest and the frames of entries applied meanwhile). */
  readonly eventLoopMs: number;
}

/** Where a capture writes: the data (WAL frames or the database file) and the internal state at the same index. */
export interface CaptureTarget {
  readonly dataPath: string;
  readonly internalPath: string;
}

/** What a capture needs of the state machine that owns it. */
interface CaptureHost {
  readonly path: string;
  readonly storePath: string;
  /** The apply connection (throws if the machine is closed or restoring). */
  applyConnection(): Database.Database;
  /** Keeps the internal store's history back to the applied index now until released. */
  pinHistory(): { readonly index: number; readonly release: () => void };
  readonly onStep: ((step: SnapshotStep) => void) | undefined;
  /** Runs a file task off the event loop (the machine's long-lived chain worker). */
  runTask(task: ChainTask, failure: string): Promise<unknown>;
}

/** How long the event loop may wait for readers at a capture's checkpoint, in ms: it then leaves the WAL as it is. */
const checkpointBusyTimeoutMs = 20;
/** The apply connection's usual busy timeout (better-sqlite3's default). */
const applyBusyTimeoutMs = 5_000;

/** Checkpoints the whole WAL and starts it again; false when readers kept it (the WAL is then left as it is). */
function checkpointAndRestart(apply: Database.Database): boolean {
  apply.pragma(`busy_timeout = ${checkpointBusyTimeoutMs}`);
  try {
    const [result] = apply.pragma('wal_checkpoint(TRUNCATE)') as { busy: number | bigint }[];
    return result !== undefined && Number(result.busy) === 0;
  } finally {
    apply.pragma(`busy_timeout = ${applyBusyTimeoutMs}`);
  }
}

/**
 * A transaction that changes nothing but writes page 1 (the marker, set to what it is),
 * so the WAL gets a header now: its salts are the generation the next capture checks.
 */
function markGeneration(apply: Database.Database, walPath: string): string {
  const marker = apply.pragma('application_id', { simple: true }) as bigint | number;
  apply.exec('BEGIN IMMEDIATE');
  try {
    apply.exec(`PRAGMA application_id = ${marker}`);
    apply.exec('COMMIT');
  } catch (error) {
    if (apply.inTransaction) apply.exec('ROLLBACK');
    throw error;
  }
  const header = readWalHeader(walPath);
  if (header === undefined) throw new StateMachineError('BAD_ENVIRONMENT', `${walPath} has no header after a write`);
  return header.salts;
}

export class SnapshotCapture {
  readonly #host: CaptureHost;

  constructor(host: CaptureHost) {
    this.#host = host;
  }

  get #walPath(): string {
    return `${this.#host.path}-wal`;
  }

  /** The live WAL's size in bytes (rqlite's -raft-snap-wal-size compares it). */
  walBytes(): number {
    return walFileBytes(this.#walPath);
  }

  /** A snapshot at the applied index: a delta after the snapshot whose proof is `previousProof` when the WAL allows it, a base otherwise. */
  async capture(target: CaptureTarget, previousProof: string | undefined): Promise<CapturedSnapshot> {
    const salts = readWalHeader(this.#walPath)?.salts;
    if (previousProof !== undefined && salts === previousProof) return this.#captureDelta(target, previousProof);
    return this.#captureBase(target);
  }

  /**
   * Runs `work` on a worker while a read transaction here holds the WAL where it ends now:
   * a checkpoint in the worker stops there, and no writer can start the WAL again meanwhile.
   */
  async #whileWalHeld<Result>(work: () => Promise<Result>): Promise<Result> {
    const reader = new Database(this.#host.path, { readonly: true, fileMustExist: true });
    try {
      reader.exec('BEGIN');
      reader.pragma('schema_version');
      return await work();
    } finally {
      reader.close();
    }
  }

  async #captureDelta(target: CaptureTarget, proof: string): Promise<CapturedSnapshot> {
    // Off the event loop: the pages committed so far (the WAL only grows until a capture checkpoints it), then most of the checkpoint.
    const task = { kind: 'copy-wal', sourcePath: this.#walPath, targetPath: target.dataPath, expectedSalts: proof, databasePath: this.#host.path } as const;
    const copied = (await this.#whileWalHeld(() => this.#host.runTask(task, 'copying the WAL'))) as WalCopy | undefined;
    if (copied === undefined) throw new StateMachineError('BAD_ENVIRONMENT', `${this.#walPath} vanished while it was copied`);
    // On the event loop, between two entries: the frames of entries applied meanwhile, then a new generation.
    const apply = this.#host.applyConnection();
    const pin = this.#host.pinHistory();
    try {
      const started = performance.now();
      const copy = appendWal(this.#walPath, target.dataPath, copied);
      this.#host.onStep?.('delta-copied');
      const nextProof = this.#restartWal(apply);
      const eventLoopMs = performance.now() - started;
      await this.#exportInternal(pin.index, target.internalPath);
      return { appliedIndex: pin.index, format: 'delta', proof: nextProof, dataBytes: copy.targetOffset, eventLoopMs };
    } finally {
      pin.release();
    }
  }

  async #captureBase(target: CaptureTarget): Promise<CapturedSnapshot> {
    // Most of the checkpoint off the event loop (the WAL may hold a whole database's pages).
    await this.#whileWalHeld(() => this.#host.runTask({ kind: 'checkpoint-passive', databasePath: this.#host.path }, 'checkpointing'));
    const apply = this.#host.applyConnection();
    const pin = this.#host.pinHistory();
    try {
      const started = performance.now();
      if (!checkpointAndRestart(apply)) {
        throw new StateMachineError('BUSY', 'readers kept the WAL from a complete checkpoint; the snapshot is tried again later');
      }
      this.#host.onStep?.('checkpointed');
      const proof = markGeneration(apply, this.#walPath);
      this.#host.onStep?.('generation-marked');
      const eventLoopMs = performance.now() - started;
      // No checkpoint runs until the next capture: the database file holds index pin.index while it is copied.
      const dataBytes = (await this.#host.runTask(
        { kind: 'copy-database', sourcePath: this.#host.path, targetPath: target.dataPath },
        'copying the database',
      )) as number;
      this.#host.onStep?.('base-copied');
      await this.#exportInternal(pin.index, target.internalPath);
      return { appliedIndex: pin.index, format: 'base', proof, dataBytes, eventLoopMs };
    } finally {
      pin.release();
    }
  }

  /** After a delta is copied: checkpoint, and the WAL's generation that the next delta continues. */
  #restartWal(apply: Database.Database): string {
    // Readers may keep the WAL from starting again: then it keeps its generation, and the next delta repeats frames.
    checkpointAndRestart(apply);
    this.#host.onStep?.('checkpointed');
    const proof = markGeneration(apply, this.#walPath);
    this.#host.onStep?.('generation-marked');
    return proof;
  }

  async #exportInternal(index: number, targetPath: string): Promise<void> {
    await this.#host.runTask(
      {
        kind: 'export-internal',
        storePath: this.#host.storePath,
        index,
        targetPath,
        layout: carriedLayout,
        coveredRangeSql,
        insertAppliedIndexSql: `INSERT INTO ${stateTable} (id, applied_index) VALUES (1, ?)`,
        carriedTables: [
          { liveAtSql: liveRequestsAtSql, insertSql: `INSERT INTO ${requestsTable} (request_id, sequence, timestamp_ms, result) VALUES (?, ?, ?, ?)` },
          { liveAtSql: liveMaintenanceAtSql, insertSql: `INSERT INTO ${maintenanceTable} (kind, timestamp_ms) VALUES (?, ?)` },
        ],
      },
      'exporting the internal state',
    );
    this.#host.onStep?.('exported');
  }
}
