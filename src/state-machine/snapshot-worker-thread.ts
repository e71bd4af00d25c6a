/**
 * The body of a snapshot worker thread (started by snapshot-worker.ts): the slow file
 * work (VACUUM INTO, copies, quick_check, fsync) runs here so the main event loop does
 * not stall. It answers with exactly one message, then returns and the thread exits.
 * Nothing here may import the rest of the state machine beyond the thread-safe files.ts,
 * worker-thread-tools.ts and snapshot-chain-tasks.ts: a thread loads only those,
 * better-sqlite3 and Node's own modules.
 */
import { copyFileSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { fsyncPath } from './files.js';
import { isChainTask, runChainTask, sealCopy, type ChainTask } from './snapshot-chain-tasks.js';
import { type FailureAnswer, failureAnswer, openWithExtensions } from './worker-thread-tools.js';

/** One of the internal store's tables, as a snapshot file carries it. */
interface CarriedTable {
  /** SQL on the store: the table's rows live at index :index. */
  readonly liveAtSql: string;
  /** SQL on the copy: insert one such row (as many values as liveAtSql selects). */
  readonly insertSql: string;
}

/**
 * The internal store beside a live database, and how a snapshot file carries it: as the
 * tables of the layout before the store (a snapshot stays one self-contained file).
 */
export interface InternalStateSource {
  /** The internal store's file, opened read-only here. */
  readonly path: string;
  /** The live database's applied index when the snapshot started: the copy holds this or later. */
  readonly appliedIndexHint: number;
  /** The marker's layout (applied-marker.ts): the applied index in the low bits, the distance to the store's last commit above. */
  readonly markerIndexBits: number;
  /** SQL on the store: [floor, covered] of its state row. */
  readonly coveredRangeSql: string;
  /** SQL on the copy: create the carrying tables; insert the applied index (?). */
  readonly legacySchema: readonly string[];
  readonly insertAppliedIndexSql: string;
  /** The store's tables the copy carries at its own index (the dedup table, the maintenance times). */
  readonly carriedTables: readonly CarriedTable[];
}

/** Copy a live database into a snapshot file and rename it into place. */
interface WriteSnapshotTask {
  readonly kind: 'write';
  /** The live database, opened read-only here. */
  readonly sourcePath: string;
  /** Where VACUUM INTO writes the copy (must not exist yet). */
  readonly targetPath: string;
  /** Where the sealed copy is renamed to, durably. */
  readonly finalPath: string;
  readonly busyTimeoutMs: number;
  readonly stateTable: string;
  /** Absent: the live database holds its own state tables (the old layout). */
  readonly internal?: InternalStateSource;
  /** SQLite extensions every connection to the copy loads (a schema may need their functions or modules). */
  readonly extensionPaths?: readonly string[];
}

/** Copy a live database for a user's backup: only the user's objects, application_id 0. */
interface WriteBackupTask {
  readonly kind: 'backup';
  readonly sourcePath: string;
  readonly targetPath: string;
  readonly finalPath: string;
  readonly busyTimeoutMs: number;
  readonly extensionPaths?: readonly string[];
}

/** Copy a shipped snapshot beside the database, check it and make it durable. */
interface StageSnapshotTask {
  readonly kind: 'stage';
  readonly sourcePath: string;
  readonly targetPath: string;
  readonly stateTable: string;
  readonly extensionPaths?: readonly string[];
}

export type SnapshotTask = WriteSnapshotTask | WriteBackupTask | StageSnapshotTask | ChainTask;

/** `appliedIndex` for the copy tasks, `value` for the chain tasks (snapshot-chain-tasks.ts). */
export type SnapshotAnswer = { readonly appliedIndex: number } | { readonly value: unknown } | FailureAnswer;

/**
 * The thread's workerData, under names of its own so no other thread mistakes it: one
 * task to answer, or `chainTasks`: serve chain tasks, one message each, until terminated.
 */
export type SnapshotWorkerData = { readonly snapshotTask: SnapshotTask } | { readonly chainTasks: true };

/** A task sent to a thread that serves chain tasks, and its answer. */
interface ChainTaskMessage {
  readonly id: number;
  readonly task: ChainTask;
}
export interface ChainTaskAnswer {
  readonly id: number;
  readonly answer: SnapshotAnswer;
}

function vacuumInto(sourcePath: string, targetPath: string, busyTimeoutMs: number, extensionPaths: readonly string[] | undefined): void {
  const source = openWithExtensions(sourcePath, { readonly: true, fileMustExist: true, timeout: busyTimeoutMs }, extensionPaths);
  try {
    source.prepare('VACUUM INTO ?').run(targetPath);
  } finally {
    source.close();
  }
}

function sealAndRename(targetPath: string, finalPath: string): void {
  fsyncPath(targetPath, 'r+');
  renameSync(targetPath, finalPath);
  fsyncPath(dirname(finalPath), 'r');
}

/**
 * Writes the internal store's state at the copy's applied index into the copy. The index
 * and the store commit the copy saw are read from its application_id, resolved near the
 * hint exactly as applied-marker.ts does (this file may not import it).
 */
function carryInternalState(targetPath: string, internal: InternalStateSource, extensionPaths: readonly string[] | undefined): void {
  const copy = openWithExtensions(targetPath, { fileMustExist: true }, extensionPaths);
  const store = new Database(internal.path, { readonly: true, fileMustExist: true });
  try {
    const marker = BigInt(copy.pragma('application_id', { simple: true }) as number);
    const bits = BigInt(internal.markerIndexBits);
    const low = marker & ((1n << bits) - 1n);
    const appliedIndex = BigInt(internal.appliedIndexHint) + BigInt.asIntN(internal.markerIndexBits, low - BigInt(internal.appliedIndexHint));
    const storeIndex = appliedIndex - (marker >> bits);
    store.defaultSafeIntegers(true);
    store.exec('BEGIN');
    const [floorIndex, coveredIndex] = store.prepare(internal.coveredRangeSql).raw(true).get() as [bigint, bigint];
    // The store may be ahead of the copy (it commits first), never behind what the copy saw.
    if (appliedIndex < floorIndex || coveredIndex < storeIndex) {
      throw new Error(`the internal store (history ${floorIndex}..${coveredIndex}) does not hold the copy's index ${appliedIndex} (store at ${storeIndex})`);
    }
    copy.transaction(() => {
      for (const sql of internal.legacySchema) copy.exec(sql);
      copy.prepare(internal.insertAppliedIndexSql).run(appliedIndex);
      for (const table of internal.carriedTables) {
        const insert = copy.prepare(table.insertSql);
        const rows = store.prepare(table.liveAtSql).raw(true).iterate({ index: appliedIndex }) as IterableIterator<unknown[]>;
        for (const row of rows) insert.run(...row);
      }
    })();
    store.exec('COMMIT');
  } finally {
    store.close();
    copy.close();
  }
}

function writeSnapshot(task: WriteSnapshotTask): number {
  vacuumInto(task.sourcePath, task.targetPath, task.busyTimeoutMs, task.extensionPaths);
  if (task.internal !== undefined) carryInternalState(task.targetPath, task.internal, task.extensionPaths);
  const appliedIndex = sealCopy(task.targetPath, task.stateTable, false, task.extensionPaths);
  sealAndRename(task.targetPath, task.finalPath);
  return appliedIndex;
}

function writeBackup(task: WriteBackupTask): number {
  vacuumInto(task.sourcePath, task.targetPath, task.busyTimeoutMs, task.extensionPaths);
  const copy = openWithExtensions(task.targetPath, { fileMustExist: true }, task.extensionPaths);
  try {
    // The marker is quorumlite's applied index, not the user's: a backup does not carry it.
    copy.pragma('application_id = 0');
    copy.pragma('journal_mode = DELETE');
  } finally {
    copy.close();
  }
  sealAndRename(task.targetPath, task.finalPath);
  return 0;
}

function stageSnapshot(task: StageSnapshotTask): number {
  copyFileSync(task.sourcePath, task.targetPath);
  const appliedIndex = sealCopy(task.targetPath, task.stateTable, true, task.extensionPaths);
  fsyncPath(task.targetPath, 'r+');
  return appliedIndex;
}

/** Runs one task; every failure becomes an answer, so the parent always hears back. */
export function runSnapshotTask(task: SnapshotTask): SnapshotAnswer {
  try {
    if (isChainTask(task)) return { value: runChainTask(task) };
    if (task.kind === 'backup') return { appliedIndex: writeBackup(task) };
    return { appliedIndex: task.kind === 'write' ? writeSnapshot(task) : stageSnapshot(task) };
  } catch (error) {
    return failureAnswer(error);
  }
}

const data = isMainThread ? undefined : (workerData as Partial<{ snapshotTask: SnapshotTask; chainTasks: true }> | null);
const port = parentPort;
if (port !== null && data?.snapshotTask !== undefined) port.postMessage(runSnapshotTask(data.snapshotTask));
if (port !== null && data?.chainTasks === true) {
  port.on('message', (message: ChainTaskMessage) => port.postMessage({ id: message.id, answer: runSnapshotTask(message.task) } satisfies ChainTaskAnswer));
}
