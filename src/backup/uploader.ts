/**
 * rqlite's automatic backup (auto/backup/uploader.go): every `interval`, the leader — and
 * only the leader — uploads a copy of the user's database (no internal state, as
 * /db/backup makes it), gzip-compressed unless `no_compress`, if the data changed since
 * its last upload. "Changed" is told by the log index of the last command applied
 * (log-reading.ts), which every node agrees on: the upload carries it as its id, and a
 * node that has not uploaded since it started or became leader first asks the
 * destination for the stored id, so a new leader does not upload the same data again.
 *
 * `vacuum` is accepted and changes nothing: the copy is always made by VACUUM INTO, so it
 * is already vacuumed.
 *
 * A failed upload (target unreachable, refused, full) is logged and retried with backoff
 * (retry-delay.ts); the node keeps running, and nothing of the database is touched.
 */
import { rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { AutoBackupConfig } from './config.js';
import type { BackupDestination } from './destinations.js';
import { gzipFile } from './files.js';
import { lastDataIndex } from './log-reading.js';
import type { BackupClock, BackupLogger, DatabaseCopies, LogView } from './ports.js';
import { PeriodicTask } from './periodic-task.js';

type UploadOutcome = 'not-leader' | 'unchanged' | 'already-stored' | 'uploaded';

interface UploaderDependencies {
  readonly config: Pick<AutoBackupConfig, 'intervalMs' | 'compress'>;
  readonly destination: BackupDestination;
  readonly log: LogView;
  readonly database: Pick<DatabaseCopies, 'writeUserBackup'>;
  /** Where the copy is made before it goes up (the data directory's staging folder). */
  readonly stagingDirectory: string;
  readonly logger: BackupLogger;
  readonly clock: BackupClock;
}

interface UploaderCounts {
  uploaded: number;
  failed: number;
  skipped: number;
  skippedById: number;
  lastUploadBytes: number;
}

export class AutoBackupUploader {
  readonly #dependencies: UploaderDependencies;
  /** The id (data index) of this node's last upload; 0: none since it started or last became leader. */
  #lastUploadedIndex = 0;
  readonly #task: PeriodicTask;
  readonly counts: UploaderCounts = { uploaded: 0, failed: 0, skipped: 0, skippedById: 0, lastUploadBytes: 0 };

  constructor(dependencies: UploaderDependencies) {
    this.#dependencies = dependencies;
    this.#task = new PeriodicTask({
      intervalMs: dependencies.config.intervalMs,
      run: async () => {
        try {
          await this.uploadOnce();
        } catch (error) {
          this.counts.failed += 1;
          throw error;
        }
      },
      clock: dependencies.clock,
      logger: dependencies.logger,
      failureEvent: 'auto-backup-failed',
      failureMessage: 'automatic backup failed; retrying',
      fields: { destination: dependencies.destination.description },
    });
  }

  start(): void {
    const { destination, config, logger } = this.#dependencies;
    logger.info(
      { event: 'auto-backup-start', destination: destination.description, intervalMs: config.intervalMs },
      'automatic backups: the leader uploads on change',
    );
    this.#task.start();
  }

  stop(): Promise<void> {
    return this.#task.stop();
  }

  /** One turn of the loop (exposed for tests): upload if this node leads and the data changed. */
  async uploadOnce(): Promise<UploadOutcome> {
    const { log, destination, logger } = this.#dependencies;
    if (!log.isLeader) {
      this.#lastUploadedIndex = 0;
      return 'not-leader';
    }
    const dataIndex = lastDataIndex(log);
    if (dataIndex <= this.#lastUploadedIndex) {
      this.counts.skipped += 1;
      return 'unchanged';
    }
    if (this.#lastUploadedIndex === 0 && (await this.#storedIdMatches(dataIndex))) {
      this.#lastUploadedIndex = dataIndex;
      this.counts.skippedById += 1;
      logger.info({ event: 'auto-backup-current', index: dataIndex }, 'the stored backup already holds this data');
      return 'already-stored';
    }
    const bytes = await this.#upload(String(dataIndex));
    this.#lastUploadedIndex = dataIndex;
    this.counts.uploaded += 1;
    this.counts.lastUploadBytes = bytes;
    logger.info({ event: 'auto-backup-uploaded', destination: destination.description, index: dataIndex, bytes }, 'automatic backup uploaded');
    return 'uploaded';
  }

  async #storedIdMatches(dataIndex: number): Promise<boolean> {
    try {
      return (await this.#dependencies.destination.currentId()) === String(dataIndex);
    } catch (error) {
      this.#dependencies.logger.debug({ event: 'auto-backup-id-unknown', error: String(error) }, 'could not read the stored backup id');
      return false;
    }
  }

  /** Copies, compresses and uploads; the staging files are gone afterwards whatever happened. */
  async #upload(id: string): Promise<number> {
    const { database, destination, clock, config, stagingDirectory } = this.#dependencies;
    const copyPath = join(stagingDirectory, 'auto-backup.sqlite');
    const compressedPath = `${copyPath}.gz`;
    try {
      await rm(copyPath, { force: true });
      await database.writeUserBackup(copyPath);
      let uploadPath = copyPath;
      if (config.compress) {
        await gzipFile(copyPath, compressedPath);
        uploadPath = compressedPath;
      }
      const { size } = await stat(uploadPath);
      await destination.upload(uploadPath, id, clock.nowMs());
      return size;
    } finally {
      await rm(copyPath, { force: true });
      await rm(compressedPath, { force: true });
    }
  }
}
