/**
 * The file work of snapshots that cost what changed (snapshot-capture.ts), run on a worker
 * thread (snapshot-worker.ts starts it; snapshot-worker-thread.ts dispatches here):
 *
 * - `copy-wal`: the live WAL's committed pages into a delta file, each page once (most of
 *   a delta is copied here while entries keep applying; the main thread appends the rest);
 * - `copy-database`: the database file, right after a complete checkpoint (a new base);
 * - `export-internal`: the internal store's rows live at one index, as the old layout's
 *   tables in a small file of their own (every snapshot carries the dedup table and the
 *   maintenance times at its own index);
 * - `materialise`: a chain (a root file, then deltas) into one self-contained snapshot
 *   file in the old one-file format: the root copied, each delta taken as the copy's WAL
 *   and checkpointed into it, then the internal state carried in as tables;
 * - `absorb-wal`: checkpoint a stored root that has a delta placed beside it as its WAL.
 *
 * Nothing here may import the rest of the state machine beyond wal-frames.ts, files.ts and
 * worker-thread-tools.ts (a thread loads only what it needs): SQL and table names come in the task.
 */
import { copyFileSync, existsSync, rmSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { fsyncPath } from './files.js';
import { compactWal, type WalCopy } from './wal-frames.js';
import { openWithExtensions } from './worker-thread-tools.js';

/** How a snapshot file carries the internal store (the old layout's tables), as connections.ts defines them. */
export interface CarriedLayout {
  /** CREATE statements of the old layout's tables, the applied-index table first. */
  readonly legacySchema: readonly string[];
  /** The old layout's table names (dropped before they are created again). */
  readonly tableNames: readonly string[];
  /** The table that holds the applied index (`id = 1`, `applied_index`). */
  readonly stateTable: string;
  /** Tables carried when the export holds them (the other databases: database-catalog-files.ts), with their CREATE statements. */
  readonly optionalTables: readonly { readonly name: string; readonly sql: string }[];
}

interface CopyWalTask {
  readonly kind: 'copy-wal';
  readonly sourcePath: string;
  readonly targetPath: string;
  readonly expectedSalts: string;
  /** The live database: checkpointed (PASSIVE) after the copy, so the event loop has little left to checkpoint. */
  readonly databasePath: string;
}

/** A PASSIVE checkpoint of the live database: copies what it can into the file without waiting for anyone. */
interface CheckpointTask {
  readonly kind: 'checkpoint-passive';
  readonly databasePath: string;
}

interface CopyDatabaseTask {
  readonly kind: 'copy-database';
  readonly sourcePath: string;
  readonly targetPath: string;
}

interface ExportInternalTask {
  readonly kind: 'export-internal';
  /** The internal store, opened read-only. */
  readonly storePath: string;
  readonly index: number;
  readonly targetPath: string;
  readonly layout: CarriedLayout;
  /** SQL on the store: [floor, covered]. */
  readonly coveredRangeSql: string;
  /** Per carried table (after the state table): rows live at :index, and the insert of one into the export. */
  readonly carriedTables: readonly { readonly liveAtSql: string; readonly insertSql: string }[];
  readonly insertAppliedIndexSql: string;
}

/** One snapshot of a chain to materialise: its data file, and its index (checked against the marker). */
interface ChainLink {
  readonly dataPath: string;
  readonly index: number;
}

interface MaterialiseTask {
  readonly kind: 'materialise';
  /** The chain's root: a self-contained snapshot file or a base image (a pending WAL beside it is taken too). */
  readonly root: ChainLink;
  /** The deltas after the root, oldest first (WAL files). */
  readonly deltas: readonly ChainLink[];
  /** The internal state at the chain's newest snapshot; absent when the root alone is the snapshot and holds it. */
  readonly internalPath: string | undefined;
  readonly targetPath: string;
  readonly layout: CarriedLayout;
  /** The marker's low bits hold the applied index modulo 2^markerIndexBits (applied-marker.ts). */
  readonly markerIndexBits: number;
  readonly extensionPaths: readonly string[];
  /** Run quick_check on the result (a restore stages what it will swap in). */
  readonly verify: boolean;
}

interface AbsorbWalTask {
  readonly kind: 'absorb-wal';
  readonly databasePath: string;
  readonly extensionPaths: readonly string[];
}

export type ChainTask = CopyWalTask | CheckpointTask | CopyDatabaseTask | ExportInternalTask | MaterialiseTask | AbsorbWalTask;

export function isChainTask(task: { readonly kind: string }): task is ChainTask {
  return ['copy-wal', 'checkpoint-passive', 'copy-database', 'export-internal', 'materialise', 'absorb-wal'].includes(task.kind);
}

/**
 * The caller holds a read transaction on the live database meanwhile: the checkpoint
 * stops at that reader's end of the log, and no writer can start the WAL again (which
 * would drop frames a delta still has to copy). The connection is never the file's last
 * one, so closing it neither checkpoints nor deletes the WAL.
 */
function checkpointPassive(databasePath: string): void {
  const database = new Database(databasePath, { fileMustExist: true });
  try {
    database.pragma('synchronous = NORMAL');
    database.pragma('wal_checkpoint(PASSIVE)');
  } finally {
    database.close();
  }
}

function removeSidecars(path: string): void {
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
}

/**
 * Checkpoints the WAL beside `databasePath` into it and removes the WAL (the connection is
 * the file's only one, so closing it does), then fsyncs the file. `expectedFrames`: the
 * WAL must hold exactly that many committed frames, or it was not taken whole (SQLite
 * ignores a WAL it cannot read rather than failing).
 */
function absorbWal(databasePath: string, extensionPaths: readonly string[], expectedFrames: number | undefined): void {
  const database = openWithExtensions(databasePath, { fileMustExist: true }, extensionPaths);
  try {
    const [result] = database.pragma('wal_checkpoint(FULL)') as { busy: number; log: number; checkpointed: number }[];
    if (result === undefined || result.busy !== 0 || result.log !== result.checkpointed) {
      throw new Error(`could not checkpoint the WAL into ${databasePath}: ${JSON.stringify(result)}`);
    }
    if (expectedFrames !== undefined && result.log !== expectedFrames) {
      throw new Error(`${databasePath}: SQLite took ${result.log} frames of a WAL that holds ${expectedFrames}`);
    }
  } finally {
    database.close();
  }
  if (existsSync(`${databasePath}-wal`)) throw new Error(`${databasePath}-wal is still there after the checkpoint`);
  fsyncPath(databasePath, 'r+');
}

/** Copies a WAL file beside `databasePath` (as its WAL), checked frame by frame; returns its committed frame count. */
function placeWal(walPath: string, databasePath: string): number {
  removeSidecars(databasePath);
  const copy = compactWal(walPath, `${databasePath}-wal`);
  if (copy === undefined) throw new Error(`${walPath} is not a WAL file`);
  return copy.frameCount;
}

function markerIndex(database: Database.Database, markerIndexBits: number): number {
  const marker = Number(database.pragma('application_id', { simple: true }));
  return marker % 2 ** markerIndexBits;
}

/** Each delta must bring the copy to its own index: the marker's low bits say which index the copy holds. */
function checkMarker(path: string, link: ChainLink, task: MaterialiseTask): void {
  const database = openWithExtensions(path, { fileMustExist: true }, task.extensionPaths);
  try {
    const held = markerIndex(database, task.markerIndexBits);
    const expected = link.index % 2 ** task.markerIndexBits;
    if (held !== expected) throw new Error(`after ${link.dataPath} the copy is at index ${held} (mod 2^${task.markerIndexBits}), not ${link.index}`);
  } finally {
    database.close();
  }
}

/** Replaces the copy's old-layout tables with those of the export at `internalPath`. */
function carryInternal(path: string, internalPath: string, task: MaterialiseTask): void {
  const database = openWithExtensions(path, { fileMustExist: true }, task.extensionPaths);
  try {
    database.prepare('ATTACH DATABASE ? AS carried').run(internalPath);
    database.transaction(() => {
      for (const name of task.layout.tableNames) database.exec(`DROP TABLE IF EXISTS main.${name}`);
      for (const sql of task.layout.legacySchema) database.exec(sql);
      for (const name of task.layout.tableNames) database.exec(`INSERT INTO main.${name} SELECT * FROM carried.${name}`);
      for (const table of task.layout.optionalTables) {
        if (database.prepare('SELECT count(*) FROM carried.sqlite_schema WHERE name = ?').pluck().get(table.name) === 0) continue;
        database.exec(`DROP TABLE IF EXISTS main.${table.name}`);
        database.exec(table.sql.replace('CREATE TABLE ', 'CREATE TABLE main.'));
        database.exec(`INSERT INTO main.${table.name} SELECT * FROM carried.${table.name}`);
      }
    })();
    database.exec('DETACH DATABASE carried');
  } finally {
    database.close();
  }
}

/** Makes the copy a self-contained rollback-journal file (checked first if `verify`) and reads the applied index its state table holds. */
export function sealCopy(path: string, stateTable: string, verify: boolean, extensionPaths: readonly string[] | undefined): number {
  const copy = openWithExtensions(path, { fileMustExist: true }, extensionPaths);
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

function materialise(task: MaterialiseTask): number {
  const target = task.targetPath;
  removeSidecars(target);
  copyFileSync(task.root.dataPath, target);
  if (existsSync(`${task.root.dataPath}-wal`)) {
    absorbWal(target, task.extensionPaths, placeWal(`${task.root.dataPath}-wal`, target));
  }
  for (const delta of task.deltas) {
    absorbWal(target, task.extensionPaths, placeWal(delta.dataPath, target));
    checkMarker(target, delta, task);
  }
  if (task.internalPath !== undefined) carryInternal(target, task.internalPath, task);
  const newest = task.deltas.at(-1) ?? task.root;
  const appliedIndex = sealCopy(target, task.layout.stateTable, task.verify, task.extensionPaths);
  fsyncPath(target, 'r+');
  if (appliedIndex !== newest.index) throw new Error(`the materialised snapshot holds index ${appliedIndex}, not ${newest.index}`);
  return appliedIndex;
}

function exportInternal(task: ExportInternalTask): number {
  const store = new Database(task.storePath, { readonly: true, fileMustExist: true });
  rmSync(task.targetPath, { force: true });
  const target = new Database(task.targetPath);
  let rowCount = 0;
  try {
    store.defaultSafeIntegers(true);
    store.exec('BEGIN');
    const [floorIndex, coveredIndex] = store.prepare(task.coveredRangeSql).raw(true).get() as [bigint, bigint];
    // The store may be ahead of the index (it commits first); its history must reach back to it.
    if (BigInt(task.index) < floorIndex) {
      throw new Error(`the internal store (history ${floorIndex}..${coveredIndex}) does not hold index ${task.index}`);
    }
    target.transaction(() => {
      for (const sql of task.layout.legacySchema) target.exec(sql);
      target.prepare(task.insertAppliedIndexSql).run(BigInt(task.index));
      for (const table of task.carriedTables) {
        const insert = target.prepare(table.insertSql);
        const rows = store
          .prepare(table.liveAtSql)
          .raw(true)
          .iterate({ index: BigInt(task.index) }) as IterableIterator<unknown[]>;
        for (const row of rows) {
          insert.run(...row);
          rowCount++;
        }
      }
    })();
    store.exec('COMMIT');
  } finally {
    target.close();
    store.close();
  }
  fsyncPath(task.targetPath, 'r+');
  return rowCount;
}

function copyDatabase(task: CopyDatabaseTask): number {
  rmSync(task.targetPath, { force: true });
  copyFileSync(task.sourcePath, task.targetPath);
  fsyncPath(task.targetPath, 'r+');
  return statSync(task.targetPath).size;
}

function copyLiveWal(task: CopyWalTask): WalCopy | undefined {
  rmSync(task.targetPath, { force: true });
  const copy = compactWal(task.sourcePath, task.targetPath, task.expectedSalts);
  checkpointPassive(task.databasePath);
  return copy;
}

/** Runs one chain task on this thread; throws on failure (the caller turns it into an answer). */
export function runChainTask(task: ChainTask): unknown {
  switch (task.kind) {
    case 'copy-wal':
      return copyLiveWal(task);
    case 'checkpoint-passive':
      checkpointPassive(task.databasePath);
      return true;
    case 'copy-database':
      return copyDatabase(task);
    case 'export-internal':
      return exportInternal(task);
    case 'materialise':
      return materialise(task);
    case 'absorb-wal':
      if (existsSync(`${task.databasePath}-wal`)) absorbWal(task.databasePath, task.extensionPaths, undefined);
      fsyncPath(dirname(task.databasePath), 'r');
      return true;
  }
}
