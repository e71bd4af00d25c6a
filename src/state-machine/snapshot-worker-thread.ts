/**
 * The body of a snapshot worker thread (started by snapshot-worker.ts): the slow file
 * work (VACUUM INTO, copies, quick_check, fsync) runs here so the main event loop does
 * not stall. It answers with exactly one message, then returns and the thread exits.
 * Nothing here may import the rest of the state machine: a thread loads only this file,
 * better-sqlite3 and Node's own modules.
 */
import { closeSync, copyFileSync, fsyncSync, openSync, renameSync } from 'node:fs';
import { dirname } from 'node:path';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

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
  /** SQLite extensions every connection loads (a schema may need their functions or modules). */
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

export type SnapshotTask = WriteSnapshotTask | StageSnapshotTask;

export type SnapshotAnswer = { readonly appliedIndex: number } | { readonly error: string };

/** The thread's workerData: the task under a name of its own, so no other thread mistakes it. */
export interface SnapshotWorkerData {
  readonly snapshotTask: SnapshotTask;
}

function fsyncPath(target: string, flags: string): void {
  const descriptor = openSync(target, flags);
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

/** Opens a connection with the extensions loaded (closed again if one fails). */
function openWithExtensions(path: string, options: Database.Options, extensionPaths: readonly string[] = []): Database.Database {
  const database = new Database(path, options);
  try {
    for (const extensionPath of extensionPaths) database.loadExtension(extensionPath);
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

/** Makes the copy a self-contained rollback-journal file and reads its applied index. */
function sealCopy(target: string, stateTable: string, verify: boolean, extensionPaths: readonly string[] | undefined): number {
  const copy = openWithExtensions(target, { fileMustExist: true }, extensionPaths);
  try {
    if (verify) {
      const check: unknown = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error(`quick_check: ${String(check)}`);
    }
    copy.pragma('journal_mode = DELETE');
    const index: unknown = copy.prepare(`SELECT applied_index FROM ${stateTable} WHERE id = 1`).pluck().safeIntegers(true).get();
    if (typeof index !== 'bigint') throw new Error(`no applied index in ${stateTable}`);
    return Number(index);
  } finally {
    copy.close();
  }
}

function writeSnapshot(task: WriteSnapshotTask): number {
  const source = openWithExtensions(task.sourcePath, { readonly: true, fileMustExist: true, timeout: task.busyTimeoutMs }, task.extensionPaths);
  try {
    source.prepare('VACUUM INTO ?').run(task.targetPath);
  } finally {
    source.close();
  }
  const appliedIndex = sealCopy(task.targetPath, task.stateTable, false, task.extensionPaths);
  fsyncPath(task.targetPath, 'r+');
  renameSync(task.targetPath, task.finalPath);
  fsyncPath(dirname(task.finalPath), 'r');
  return appliedIndex;
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
    return { appliedIndex: task.kind === 'write' ? writeSnapshot(task) : stageSnapshot(task) };
  } catch (error) {
    return { error: error instanceof Error && error.message !== '' ? error.message : String(error) };
  }
}

const task = isMainThread ? undefined : (workerData as Partial<SnapshotWorkerData> | null)?.snapshotTask;
if (parentPort !== null && task !== undefined) parentPort.postMessage(runSnapshotTask(task));
