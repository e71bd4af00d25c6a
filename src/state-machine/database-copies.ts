/**
 * The file work behind snapshot(), backup() and restore(): copies made on a worker thread
 * (snapshot-worker.ts), each either whole under its final name or absent, and the
 * crash-safe swap of a staged snapshot into the database's place.
 */
import type Database from 'better-sqlite3';
import { existsSync, renameSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StateMachineError } from './errors.js';
import { fsyncDirectory, removeIfPresent } from './files.js';
import type { RestoreStep } from './options.js';
import { stageSnapshotInWorker, writeBackupInWorker, writeSnapshotInWorker } from './snapshot-worker.js';

export interface SnapshotInfo {
  /** The applied index the snapshot file holds. */
  readonly appliedIndex: number;
  readonly bytes: number;
}

/** Runs `write` to `${toPath}.partial`'s care: a failed copy leaves no partial file behind. */
async function withPartialPath<Result>(toPath: string, write: (partialPath: string) => Promise<Result>): Promise<Result> {
  const partialPath = `${toPath}.partial`;
  removeIfPresent(partialPath);
  try {
    return await write(partialPath);
  } catch (error) {
    removeIfPresent(partialPath);
    throw error;
  }
}

/** How the copies open the database: as the node's read connections do. */
interface CopySettings {
  readonly readerBusyTimeoutMs: number;
  readonly extensionPaths: readonly string[];
}

/** A snapshot of the database at `path` and of its internal store (at `internal.path`), as one file. */
export function writeSnapshot(
  path: string,
  toPath: string,
  settings: CopySettings,
  internal: { readonly path: string; readonly appliedIndexHint: number },
): Promise<SnapshotInfo> {
  return withPartialPath(toPath, async (partialPath) => {
    const options = { extensionPaths: settings.extensionPaths, internal };
    const appliedIndex = await writeSnapshotInWorker(path, partialPath, toPath, settings.readerBusyTimeoutMs, options);
    return { appliedIndex, bytes: (await stat(toPath)).size };
  });
}

/** A copy of the user's objects only, for /db/backup. */
export function writeBackup(path: string, toPath: string, settings: CopySettings): Promise<{ readonly bytes: number }> {
  return withPartialPath(toPath, async (partialPath) => {
    await writeBackupInWorker(path, partialPath, toPath, settings.readerBusyTimeoutMs, settings.extensionPaths);
    return { bytes: (await stat(toPath)).size };
  });
}

/** Copies the snapshot at `fromPath` to `stagingPath` and checks it; resolves to its applied index. */
export async function stageSnapshot(fromPath: string, stagingPath: string, extensionPaths: readonly string[]): Promise<number> {
  if (!existsSync(fromPath)) throw new StateMachineError('BAD_SNAPSHOT', `no snapshot file at ${fromPath}`);
  removeIfPresent(stagingPath);
  try {
    return await stageSnapshotInWorker(fromPath, stagingPath, extensionPaths);
  } catch (error) {
    removeIfPresent(stagingPath);
    throw error;
  }
}

/** Every WAL frame into the main file, so the WAL can be removed without losing anything. */
export function checkpointFully(database: Database.Database): void {
  const [result] = database.pragma('wal_checkpoint(TRUNCATE)') as { busy: number | bigint }[];
  if (result === undefined || Number(result.busy) !== 0) {
    throw new StateMachineError('BAD_ENVIRONMENT', 'could not checkpoint the WAL before restore; the old database is untouched');
  }
}

/**
 * With the database checkpointed and closed: removes its WAL, then renames the staged
 * copy over it, each step made durable. A crash before the rename leaves the old
 * database (whole: it was checkpointed); after it, the snapshot, which carries its
 * internal state as tables that the next open migrates into the internal store.
 */
export function swapInStagedFile(path: string, stagingPath: string, onStep: ((step: RestoreStep) => void) | undefined): void {
  removeIfPresent(`${path}-wal`);
  removeIfPresent(`${path}-shm`);
  fsyncDirectory(dirname(path));
  onStep?.('wal-removed');
  renameSync(stagingPath, path);
  fsyncDirectory(dirname(path));
  onStep?.('renamed');
}
