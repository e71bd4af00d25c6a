/**
 * The backup services of one node (src/backup), wired to its parts: rqlite's automatic
 * backup and automatic restore, and the point-in-time log archive. QuorumNode and
 * EtcdQuorumNode create this before the node forms or joins a cluster (auto-restore
 * downloads only on a node without data) and start it once the node runs; stop() waits
 * for an upload in progress. Copies are staged in `<data>/backup-staging/` (same disk as
 * the database).
 *
 * On the etcd log (EtcdQuorumNode): the node holding the etcd leader key uploads; the
 * auto-restore file is loaded by the first leader only if that leader is this node AND
 * the etcd log was empty when it took up leadership (`logHeldData`): a fresh node that
 * comes to lead a cluster whose log already holds data must not load a backup on top of
 * it. The point-in-time archive reads the embedded Raft's log files: not on etcd.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { PointInTimeArchiver } from '../backup/archiver.js';
import { downloadAutoRestore, installAutoRestore } from '../backup/auto-restore.js';
import { archiveStore } from '../backup/archive-store.js';
import type { AutoBackupConfig, AutoRestoreConfig } from '../backup/config.js';
import { createDestination } from '../backup/destinations.js';
import { systemClock, type DatabaseCopies, type ExecuteThroughLog, type LogView } from '../backup/ports.js';
import { AutoBackupUploader } from '../backup/uploader.js';
import type { NodeClusterService } from '../node/cluster-service.js';
import type { NodeLogger } from '../node/logger.js';
import type { NodeRuntime } from '../node/runtime.js';
import type { NodeId } from '../raft/types.js';
import type { SqliteStateMachine } from '../state-machine/state-machine.js';
import { MultiDatabaseMachine } from '../state-machine/multi-database-machine.js';
import type { DurableStorage } from '../storage/durable-storage.js';

export interface BackupSettings {
  /** -auto-backup's file, parsed (src/backup/config.ts). */
  readonly autoBackup?: AutoBackupConfig;
  /** -auto-restore's file, parsed. */
  readonly autoRestore?: AutoRestoreConfig;
}

/** Who leads, as the node's log sees it (NodeRuntime, EtcdLog). */
interface Leadership {
  readonly isLeader: boolean;
  readonly leaderId: NodeId;
  readonly appliedIndex: number;
  subscribeLeaderChanges(listener: () => void): () => void;
}

interface NodeParts {
  readonly nodeId: string;
  readonly foreignKeys: boolean;
  readonly leadership: Leadership;
  /** The log as the uploader and the archiver read it (raftLogView, etcdLogView). */
  readonly log: LogView;
  /** Whether the archiver can read this log's entries (the embedded Raft's files only). */
  readonly archivable: boolean;
  /** Once this node leads: did the log hold entries before it did? Then auto-restore must not load (etcd; with Raft the empty store decided). */
  readonly logHeldData?: () => boolean;
  readonly stateMachine: SqliteStateMachine;
  readonly service: NodeClusterService;
}

/** How long one batch of auto-restore's load may take to commit. */
const loadBatchTimeoutMs = 60_000;

/** The embedded Raft's log: the runtime's leadership, the entries from the durable store. */
export function raftLogView(runtime: NodeRuntime, storage: DurableStorage): LogView {
  return {
    get isLeader() {
      return runtime.isLeader;
    },
    get appliedIndex() {
      return Math.min(runtime.appliedIndex, storage.lastIndex());
    },
    firstIndex: () => storage.firstIndex(),
    entries: (low, high, bytesMax) => storage.entries(low, high, bytesMax),
  };
}

/**
 * The etcd log as the uploader reads it. Every entry of the etcd log is a command (there
 * are no no-ops or membership entries), so the applied index is the last data index: the
 * view says the log starts past it, and the uploader's scan (lastDataIndex) reads nothing.
 */
export function etcdLogView(log: Pick<Leadership, 'isLeader' | 'appliedIndex'>): LogView {
  return {
    get isLeader() {
      return log.isLeader;
    },
    get appliedIndex() {
      return log.appliedIndex;
    },
    firstIndex: () => log.appliedIndex + 1,
    entries: (low) => {
      throw new Error(`the etcd log's entries are not read back here (asked for ${low})`);
    },
  };
}

function databaseOf(parts: NodeParts): DatabaseCopies {
  return {
    writeUserBackup: async (toPath) => {
      await parts.stateMachine.backup(toPath);
    },
    writeSnapshot: (toPath) => parts.stateMachine.snapshot(toPath),
    foreignKeys: parts.foreignKeys,
    extensionNames: parts.stateMachine.extensionNames,
    ...(parts.stateMachine instanceof MultiDatabaseMachine ? { databaseCountMax: parts.stateMachine.catalog.countMax } : {}),
  };
}

function executeOf(parts: NodeParts): ExecuteThroughLog {
  return async (statements, requestId) => {
    const request = {
      statements,
      transaction: true,
      timings: false,
      timeoutMs: loadBatchTimeoutMs,
      dbTimeoutMs: null,
      forward: false,
      queue: false,
      wait: false,
      idempotencyKey: requestId,
      forwardRetryCountMax: 0,
    };
    const response = await parts.service.execute(request, { signal: AbortSignal.timeout(loadBatchTimeoutMs) });
    const failed = response.results.find((result) => result.kind === 'error');
    if (failed !== undefined && failed.kind === 'error') throw new Error(`a statement of the restored database failed: ${failed.error}`);
  };
}

export class NodeBackups {
  readonly #settings: BackupSettings;
  readonly #stagingDirectory: string;
  readonly #logger: NodeLogger;
  /** The downloaded auto-restore file, until the first leader decides. */
  #restorePath: string | undefined;
  #uploader: AutoBackupUploader | undefined;
  #archiver: PointInTimeArchiver | undefined;
  #unsubscribe: (() => void) | undefined;
  #install: Promise<void> = Promise.resolve();

  private constructor(settings: BackupSettings, stagingDirectory: string, logger: NodeLogger) {
    this.#settings = settings;
    this.#stagingDirectory = stagingDirectory;
    this.#logger = logger;
  }

  /**
   * Before the node forms or joins: clears the staging folder and, for -auto-restore on a
   * node without data, downloads the backup (AutoRestoreError: the node must not start).
   */
  static async prepare(settings: BackupSettings | undefined, dataDirectory: string, storeIsEmpty: boolean, logger: NodeLogger): Promise<NodeBackups> {
    const backups = new NodeBackups(settings ?? {}, join(dataDirectory, 'backup-staging'), logger);
    if (settings?.autoBackup === undefined && settings?.autoRestore === undefined) return backups;
    await rm(backups.#stagingDirectory, { recursive: true, force: true });
    await mkdir(backups.#stagingDirectory, { recursive: true });
    const restore = settings.autoRestore;
    if (restore === undefined) return backups;
    if (!storeIsEmpty) {
      logger.info({ event: 'auto-restore-skipped', dataDirectory }, `auto-restore requested, but data already exists in ${dataDirectory}, skipping`);
      return backups;
    }
    const path = join(backups.#stagingDirectory, 'auto-restore.sqlite');
    if (await downloadAutoRestore(restore, path, logger)) backups.#restorePath = path;
    return backups;
  }

  /** Once the node runs: the install at the first leader seen, the uploader and the archiver. */
  start(parts: NodeParts): void {
    this.#watchFirstLeader(parts);
    const backup = this.#settings.autoBackup;
    if (backup === undefined) return;
    const log = parts.log;
    const database = databaseOf(parts);
    const common = { log, database, stagingDirectory: this.#stagingDirectory, logger: this.#logger, clock: systemClock };
    this.#uploader = new AutoBackupUploader({ ...common, config: backup, destination: createDestination(backup.storage, backup.timestamp) });
    this.#uploader.start();
    const pointInTime = backup.pointInTime;
    if (pointInTime === undefined) return;
    if (!parts.archivable) throw new Error('point_in_time: the log archive reads the embedded Raft\u2019s log; not available on this log');
    const store = archiveStore(backup.storage, pointInTime.path);
    this.#archiver = new PointInTimeArchiver({ ...common, settings: pointInTime, store });
    this.#archiver.start();
  }

  #watchFirstLeader(parts: NodeParts): void {
    const path = this.#restorePath;
    if (path === undefined) return;
    const decide = (): void => {
      const leaderId = parts.leadership.leaderId;
      if (leaderId === '' || this.#restorePath === undefined) return;
      this.#restorePath = undefined;
      this.#unsubscribe?.();
      const isSelf = leaderId === parts.nodeId;
      if (isSelf && parts.logHeldData?.() === true) {
        this.#logger.info(
          { event: 'auto-restore-skipped', reason: 'log-holds-data' },
          'this node leads a log that already holds data, not performing auto-restore',
        );
        this.#install = rm(path, { force: true });
        return;
      }
      const prefix = `auto-restore-${randomBytes(8).toString('hex')}`;
      this.#install = installAutoRestore(path, isSelf, executeOf(parts), prefix, this.#logger);
    };
    this.#unsubscribe = parts.leadership.subscribeLeaderChanges(decide);
    decide();
  }

  /** For tests: the uploader's and archiver's counts. */
  get uploader(): AutoBackupUploader | undefined {
    return this.#uploader;
  }

  get archiver(): PointInTimeArchiver | undefined {
    return this.#archiver;
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    await this.#uploader?.stop();
    await this.#archiver?.stop();
    await this.#install;
  }
}
