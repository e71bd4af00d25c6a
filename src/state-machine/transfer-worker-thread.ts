/**
 * The body of a transfer worker thread (started by transfer-worker.ts): file work for
 * backups and loads that would stall the event loop (a 200 MB copy or check takes a
 * second or two). It answers with exactly one message, then the thread exits. As the
 * snapshot worker, it imports no part of the state machine that holds state (only
 * worker-thread-tools.ts and the pure marker, checksum and SQL-rule modules), and relies
 * on neither import.meta nor top-level await (it may run through tsx's require hook).
 *
 * - copy: SQLite's online backup of a live database into a new file, in one step, so in
 *   one read transaction: a consistent copy at one applied index, page for page (about
 *   twice as fast as VACUUM INTO, which rebuilds every table).
 * - check: whether a file may be loaded: SQLite opens it, quick_check finds it whole, it
 *   names nothing with quorumlite's reserved prefix, and no view, trigger or table in it
 *   would answer differently on each node (a trigger storing pragma_database_list's path).
 * - checksum: the content checksum of the live database (checksum.ts) in one read
 *   transaction on a read-only connection of its own: it reads every row, which on the
 *   event loop would stall Raft for as long (about 10 µs a row).
 */
import type Database from 'better-sqlite3';
import { parentPort, isMainThread, workerData } from 'node:worker_threads';
import { indexesFromMarker } from './applied-marker.js';
import { contentChecksum, type ContentChecksum } from './checksum.js';
import { schemaObjectRefusal } from './sql-policy.js';
import { type FailureAnswer, failureAnswer, openWithExtensions } from './worker-thread-tools.js';

interface CopyTask {
  readonly kind: 'copy';
  readonly sourcePath: string;
  /** Must not exist yet. */
  readonly targetPath: string;
  readonly busyTimeoutMs: number;
  readonly extensionPaths: readonly string[];
}

interface CheckTask {
  readonly kind: 'check';
  readonly path: string;
  readonly extensionPaths: readonly string[];
  /** Names starting so belong to quorumlite (sql-policy.ts): a file holding one is refused. */
  readonly reservedPrefix: string;
}

interface ChecksumTask {
  readonly kind: 'checksum';
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly extensionPaths: readonly string[];
  /** An applied index near the one the read will see: the marker holds only its low bits (applied-marker.ts). */
  readonly appliedIndexHint: number;
}

export type TransferTask = CopyTask | CheckTask | ChecksumTask;

/** The thread's workerData: the task under a name of its own. */
export interface TransferWorkerData {
  readonly transferTask: TransferTask;
}

export type TransferAnswer = { readonly ok: true; readonly checksum?: ContentChecksum } | FailureAnswer;

async function copy(task: CopyTask): Promise<void> {
  const source = openWithExtensions(task.sourcePath, { readonly: true, fileMustExist: true, timeout: task.busyTimeoutMs }, task.extensionPaths);
  try {
    // One step copies every page: the copy cannot restart halfway when the database changes.
    await source.backup(task.targetPath, { progress: () => Number.MAX_SAFE_INTEGER });
  } finally {
    source.close();
  }
}

function check(task: CheckTask): void {
  const database = openWithExtensions(task.path, { readonly: true, fileMustExist: true }, task.extensionPaths);
  try {
    const result: unknown = database.pragma('quick_check', { simple: true });
    if (result !== 'ok') throw new Error(`the database file is damaged: ${String(result).split('\n').slice(0, 3).join('; ')}`);
    const reserved = database
      .prepare('SELECT name FROM sqlite_schema WHERE lower(substr(name, 1, :length)) = :prefix OR lower(substr(tbl_name, 1, :length)) = :prefix')
      .pluck()
      .all({ length: task.reservedPrefix.length, prefix: task.reservedPrefix.toLowerCase() }) as string[];
    if (reserved.length > 0) throw new Error(`the database holds names quorumlite reserves (${task.reservedPrefix}…): ${reserved.slice(0, 5).join(', ')}`);
    const refusal = nondeterministicSchemaObject(database);
    if (refusal !== undefined) throw new Error(refusal);
  } finally {
    database.close();
  }
}

/**
 * The first view, trigger or table whose definition would make writes apply differently on
 * each node (sql-policy.ts schemaObjectRefusal), said as the load's refusal: a write that
 * reads through it names only the object, so the write rules cannot see it.
 */
function nondeterministicSchemaObject(database: Database.Database): string | undefined {
  const objects = database.prepare('SELECT type, name, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid').iterate() as IterableIterator<SchemaRow>;
  for (const object of objects) {
    const reason = schemaObjectRefusal(object.sql);
    if (reason !== undefined) return `the database's ${object.type} ${JSON.stringify(object.name)} would apply writes differently on each node: ${reason}`;
  }
  return undefined;
}

interface SchemaRow {
  readonly type: string;
  readonly name: string;
  readonly sql: string;
}

function checksum(task: ChecksumTask): ContentChecksum {
  const database = openWithExtensions(task.path, { readonly: true, fileMustExist: true, timeout: task.busyTimeoutMs }, task.extensionPaths);
  try {
    const markerOf = (read: typeof database): number => Number(read.pragma('application_id', { simple: true }));
    return contentChecksum(database, (read) => indexesFromMarker(markerOf(read), task.appliedIndexHint).appliedIndex);
  } finally {
    database.close();
  }
}

/** Runs one task; every failure becomes an answer, so the parent always hears back. */
async function runTransferTask(task: TransferTask): Promise<TransferAnswer> {
  try {
    if (task.kind === 'copy') await copy(task);
    else if (task.kind === 'checksum') return { ok: true, checksum: checksum(task) };
    else check(task);
    return { ok: true };
  } catch (error) {
    return failureAnswer(error);
  }
}

const task = isMainThread ? undefined : (workerData as Partial<TransferWorkerData> | null)?.transferTask;
if (parentPort !== null && task !== undefined) {
  const port = parentPort;
  void runTransferTask(task).then((answer) => port.postMessage(answer));
}
