/**
 * rqlite's automatic restore (-auto-restore; its auto/restore downloader and the store's
 * restore on leadership), with its rules:
 * - Only a node with no data of its own (an empty Raft store: first start) downloads;
 *   one with data logs that it skips.
 * - The download is bounded by `timeout` (default 30 s); a gzip file (by its magic bytes)
 *   is decompressed. If the download fails, the node exits with the error, unless
 *   `continue_on_failure` is set: then it logs and starts without the data. A download
 *   that is not a SQLite file always stops the start.
 * - The install is one-shot, at the first leader this node sees: if it is that leader,
 *   it loads the file through the log (database-loader.ts), so every node gets the data
 *   by replication; if another node leads, it does nothing. The file is removed either way.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import type { AutoRestoreConfig } from './config.js';
import { createDestination } from './destinations.js';
import { gunzipFile, isGzipFile } from './files.js';
import { loadDatabaseFile } from './database-loader.js';
import type { BackupLogger, ExecuteThroughLog } from './ports.js';

const sqliteHeader = 'SQLite format 3\0';

/** The download failed and `continue_on_failure` is not set: the node must not start. */
export class AutoRestoreError extends Error {
  override readonly name = 'AutoRestoreError';
}

function isSqliteFile(path: string): boolean {
  const descriptor = openSync(path, 'r');
  try {
    const header = Buffer.alloc(sqliteHeader.length);
    return readSync(descriptor, header, 0, header.length, 0) === header.length && header.toString('latin1') === sqliteHeader;
  } finally {
    closeSync(descriptor);
  }
}

/**
 * Downloads the backup to `toPath` (decompressed). Resolves true when it is there, false
 * when the download failed and `continue_on_failure` lets the node start without it.
 */
export async function downloadAutoRestore(config: AutoRestoreConfig, toPath: string, logger: BackupLogger): Promise<boolean> {
  const destination = createDestination(config.storage, false);
  const downloadPath = `${toPath}.download`;
  const startedMs = Date.now();
  logger.info({ event: 'auto-restore-download', source: destination.description }, 'auto-restore requested, initiating download');
  try {
    await rm(downloadPath, { force: true });
    await destination.download(downloadPath, AbortSignal.timeout(config.timeoutMs));
    if (isGzipFile(downloadPath)) {
      await gunzipFile(downloadPath, toPath);
    } else {
      await rename(downloadPath, toPath);
    }
  } catch (error) {
    const message = `failed to download auto-restore file from ${destination.description}: ${error instanceof Error ? error.message : String(error)}`;
    if (!config.continueOnFailure) throw new AutoRestoreError(message);
    logger.warn({ event: 'auto-restore-download-failed', error: message }, `${message}, continuing with node startup anyway`);
    return false;
  } finally {
    await rm(downloadPath, { force: true });
  }
  if (!isSqliteFile(toPath)) {
    await rm(toPath, { force: true });
    throw new AutoRestoreError(`failed to preload auto-restore data: the file from ${destination.description} is not a SQLite database`);
  }
  logger.info({ event: 'auto-restore-downloaded', durationMs: Date.now() - startedMs }, 'auto-restore file downloaded');
  return true;
}

/** The first leader this node sees decides: this node loads the file, or nobody here does. */
export async function installAutoRestore(
  path: string,
  firstLeaderIsSelf: boolean,
  execute: ExecuteThroughLog,
  requestIdPrefix: string,
  logger: BackupLogger,
): Promise<void> {
  try {
    if (!firstLeaderIsSelf) {
      logger.info({ event: 'auto-restore-skipped' }, 'different node became leader, not performing auto-restore');
      return;
    }
    logger.info({ event: 'auto-restore-install' }, 'this node is now leader, auto-restoring');
    const outcome = await loadDatabaseFile(path, execute, requestIdPrefix);
    logger.info({ event: 'auto-restored', statements: outcome.statementCount, batches: outcome.batchCount }, 'node auto-restored successfully');
  } catch (error) {
    logger.error({ event: 'auto-restore-failed', error: String(error) }, 'failed to auto-restore');
  } finally {
    await rm(path, { force: true });
  }
}
