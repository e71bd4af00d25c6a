/**
 * Loads on this node while it leads: one at a time (another is refused with rqlite's
 * "load in progress"), each holding the load gate (load-gate.ts) from its first byte to
 * its end; `/boot`, which stages a file on a one-node cluster without the log; and, when
 * this node becomes leader, the abort of a load its predecessor left staged (no snapshot
 * may be taken while one is, so it must not linger).
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import { ServiceError } from '../service/service.js';
import { hasSqliteMagic, patchedHeader, sqliteHeaderBytes } from '../state-machine/sqlite-header.js';
import { checkLoadableDatabase } from '../state-machine/transfer-worker.js';
import type { LoadGate } from './load-gate.js';
import {
  encodeLoadEntryFor,
  invalidSqliteData,
  SqliteFileLoad,
  SqlTextLoad,
  type LeaderLoadPorts,
  type LoadKind,
  type LoadSession,
  type LoadTarget,
} from './leader-load.js';
import type { NodeLogger } from './logger.js';
import { removeQuietly, writeBodyToFile } from './transfer-files.js';

interface CoordinatorPorts extends LeaderLoadPorts {
  readonly database: LeaderLoadPorts['database'] & {
    readonly appliedIndex: number;
    readonly loads: LeaderLoadPorts['database']['loads'] & { adopt(path: string, loadId: string, beginIndex: number, database?: string): void };
  };
  readonly gate: LoadGate;
  readonly nodeId: string;
  /** Takes a snapshot now, the log compacted to it less `trailingEntries` (NodeRuntime.snapshotNow). */
  readonly snapshotNow: (trailingEntries: number) => Promise<boolean>;
  readonly logger: NodeLogger;
}

/** How long a new leader waits for its log to apply before it looks for a load left staged. */
const staleLoadCheckTimeoutMs = 60_000;
/** Loads left staged a new leader aborts at most (one per database could be; a cluster holds at most 64 by default). */
const staleLoadAbortCountMax = 1024;

export class LoadCoordinator {
  readonly #ports: CoordinatorPorts;
  #active = false;
  #checkingStaleLoad = false;

  constructor(ports: CoordinatorPorts) {
    this.#ports = ports;
  }

  /** A load or boot is running on this node. */
  get busy(): boolean {
    return this.#active;
  }

  /**
   * Starts a load of `target` on this leader. finish() ends it; after any failure, abort()
   * must (and ends it). One load at a time in the whole cluster, whatever its database:
   * the gate holds back every write meanwhile (it does not know their databases).
   */
  begin(kind: LoadKind, timeoutMs: number, target: LoadTarget): LoadSession {
    this.#refuseUnlessLeader();
    const release = this.#acquire();
    const session = kind === 'sqlite' ? new SqliteFileLoad(this.#ports, timeoutMs, target.name) : new SqlTextLoad(this.#ports, timeoutMs, target);
    return {
      write: (bytes) => session.write(bytes),
      finish: async () => {
        const results = await session.finish();
        release();
        return results;
      },
      abort: async () => {
        try {
          await session.abort();
        } finally {
          release();
        }
      },
    };
  }

  #refuseUnlessLeader(): void {
    if (!this.#ports.log.isLeader) throw new ServiceError('NOT_LEADER', 'not leader');
  }

  #acquire(): () => void {
    if (this.#active) throw new ServiceError('UNAVAILABLE', 'load in progress');
    const openGate = this.#ports.gate.hold();
    this.#active = true;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#active = false;
      openGate();
    };
  }

  /**
   * rqlite's boot: only the leader of a one-node cluster. The file is checked, staged
   * beside the database and committed with one entry (no chunks: no other node replays
   * this log), then a snapshot holds it and the log before it is dropped, so no node can
   * ever replay that commit without the file.
   */
  async boot(body: AsyncIterable<Uint8Array>, timeoutMs: number, databaseName: string | undefined): Promise<void> {
    const { log, files, settings, database } = this.#ports;
    if (!log.isLeader) throw new ServiceError('UNAVAILABLE', 'not leader');
    const confState = log.confState();
    const members = [...confState.voters, ...confState.learners];
    if (members.length !== 1 || members[0] !== this.#ports.nodeId) throw new ServiceError('UNAVAILABLE', 'not single-node');
    const release = this.#acquire();
    const path = files.path('boot');
    try {
      const totalBytes = await writeBodyToFile(body, path);
      await markRollbackJournal(path);
      await checkLoadableDatabase(path, settings.extensionPaths).catch((error: unknown) => {
        throw invalidSqliteData(error instanceof Error ? error.message : String(error));
      });
      const loadId = randomBytes(16).toString('hex');
      if (databaseName === undefined) database.loads.adopt(path, loadId, database.appliedIndex);
      else database.loads.adopt(path, loadId, database.appliedIndex, databaseName);
      const outcome = await log.propose(encodeLoadEntryFor(databaseName, { kind: 'commit', loadId, totalBytes }), timeoutMs);
      const failure = outcome.results.find((result) => result.kind === 'error');
      if (failure !== undefined) throw new ServiceError('INTERNAL', `boot failed: ${failure.error}`);
      await this.#ports.snapshotNow(0);
      this.#ports.logger.info({ event: 'booted', bytes: totalBytes, index: outcome.index, database: databaseName ?? 'main' }, 'node booted from a SQLite file');
    } finally {
      release();
      await removeQuietly(path);
    }
  }

  /** On every change of leader: once this node leads, a load its predecessor staged and left is aborted. */
  onLeaderChange(): void {
    if (!this.#ports.log.isLeader || this.#active || this.#checkingStaleLoad) return;
    this.#checkingStaleLoad = true;
    void this.#abortStaleLoad()
      .catch((error: unknown) => this.#ports.logger.warn({ event: 'stale-load-abort-failed', error: String(error) }, 'could not abort a staged load'))
      .finally(() => {
        this.#checkingStaleLoad = false;
      });
  }

  /** One database after another (a load of each may have been left), at most `staleLoadAbortCountMax`. */
  async #abortStaleLoad(): Promise<void> {
    const { log, database, logger } = this.#ports;
    // Applied up to this leader's own first entry, the state machine knows what is staged.
    await log.waitForApplied(log.position().lastIndex, staleLoadCheckTimeoutMs);
    for (let aborted = 0; aborted < staleLoadAbortCountMax; aborted++) {
      const staged = database.loads.openLoad;
      if (!log.isLeader || this.#active || staged === undefined) return;
      const fields = { event: 'stale-load-abort', loadId: staged.loadId, beginIndex: staged.beginIndex, database: staged.database ?? 'main' };
      logger.warn(fields, 'aborting a load its leader left unfinished');
      await log.propose(encodeLoadEntryFor(staged.database, { kind: 'abort', loadId: staged.loadId }), staleLoadCheckTimeoutMs);
    }
  }
}

/** A booted file's header, checked and set to rollback-journal mode with application_id 0, in place. */
async function markRollbackJournal(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    const header = Buffer.alloc(sqliteHeaderBytes);
    const { bytesRead } = await handle.read(header, 0, sqliteHeaderBytes, 0);
    if (bytesRead < sqliteHeaderBytes || !hasSqliteMagic(header)) throw invalidSqliteData();
    await handle.write(patchedHeader(header, 'rollback'), 0, sqliteHeaderBytes, 0);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
