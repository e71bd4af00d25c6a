/**
 * A load on the leader (docs/ARCHITECTURE.md, "Loads through the log"): the bytes of a
 * SQLite file go into the log as chunk entries of at most `loadChunkBytesMax` as they
 * arrive (never the whole file in memory); every node stages them beside its database;
 * once all are in, the leader checks its own staged copy (every node's is the same
 * bytes) and proposes the commit, which swaps the file in on every node at one index, or,
 * when the file is not a sound database, the abort. SQL text is first run by SQLite on a
 * copy of the database here (src/state-machine/sql-load.ts); that copy is then loaded
 * the same way, or, if a statement failed, nothing is proposed at all.
 */
import { randomBytes } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { ServiceError } from '../service/service.js';
import { encodeTargetedEntry } from '../state-machine/database-entries.js';
import { encodeLoadEntry, loadEntryHeaderBytes, type LoadEntry } from '../state-machine/load-entries.js';
import type { OpenLoad } from '../state-machine/load-staging.js';
import { patchedHeader, sqliteHeaderBytes } from '../state-machine/sqlite-header.js';
import { NotSqlText, runSqlDump } from '../state-machine/sql-load.js';
import { checkLoadableDatabase, copyDatabase } from '../state-machine/transfer-worker.js';
import type { StatementResult } from '../state-machine/types.js';
import type { BackupSettings } from './backup-source.js';
import type { ReplicatedLog } from './replicated-log.js';
import { fileChunkBytes, removeQuietly, type TransferFiles } from './transfer-files.js';

/**
 * A load chunk's bytes at most: one log entry each, small enough that its entry fits one
 * append message (1 MiB, start-up.ts) and that encoding, checksumming and replicating it
 * keeps the event loop free for heartbeats (4 MiB chunks stalled it for up to a quarter
 * second on a busy machine, and loaded no faster). The entry bound may make them smaller.
 */
export const loadChunkBytesMax = 1024 * 1024 - 4096;

/**
 * Chunk entries proposed and not yet applied here, at most: the log pipelines them (one
 * group commit and one round trip serve several), and what waits stays bounded.
 */
const chunksInFlightMax = 4;

/** What the node's state machine tells about staged loads: of any database, or of one (absent: the default one). */
interface StagedLoads {
  readonly openLoad: OpenLoad | undefined;
  /** In a machine of several databases (database-loads.ts); absent, the machine holds the default database only. */
  openLoadOf?(database: string | undefined): OpenLoad | undefined;
}

/** The database a load replaces: its name (undefined: the default one) and its file. */
export interface LoadTarget {
  readonly name: string | undefined;
  readonly path: string;
}

/** The load staged for `target`'s database. */
function stagedLoadOf(loads: StagedLoads, name: string | undefined): OpenLoad | undefined {
  return loads.openLoadOf === undefined ? loads.openLoad : loads.openLoadOf(name);
}

/** A load's entry for database `name`: the default database's as it always was, another's in the targeted envelope. */
export function encodeLoadEntryFor(name: string | undefined, entry: LoadEntry): Uint8Array {
  const data = encodeLoadEntry(entry);
  return name === undefined ? data : encodeTargetedEntry(name, data);
}

/** What a load needs on the leader. */
export interface LeaderLoadPorts {
  /** The plain log: a load's own entries never wait at the load gate. */
  readonly log: ReplicatedLog;
  readonly database: { readonly path: string; readonly loads: StagedLoads };
  readonly files: TransferFiles;
  readonly settings: BackupSettings;
  /** The entry bound (config.entryDataBytesMax). */
  readonly entryDataBytesMax: number;
}

/** One load in progress: its bytes as they arrive, then finish() (or abort() on any failure). */
export interface LoadSession {
  write(bytes: Uint8Array): Promise<void>;
  /** The load's results: none for a file, rqlite's one result for SQL text. */
  finish(): Promise<readonly StatementResult[]>;
  abort(): Promise<void>;
}

export type LoadKind = 'sqlite' | 'sql';

export function invalidSqliteData(detail?: string): ServiceError {
  return new ServiceError('BAD_REQUEST', detail === undefined ? 'invalid SQLite data' : `invalid SQLite data: ${detail}`);
}

/** A SQLite file through the log in chunks; the first chunk's header says rollback-journal mode and application_id 0. */
export class SqliteFileLoad implements LoadSession {
  readonly #ports: LeaderLoadPorts;
  readonly #timeoutMs: number;
  readonly #database: string | undefined;
  readonly #loadId = randomBytes(16).toString('hex');
  readonly #chunkBytes: number;
  #pending: Buffer[] = [];
  #pendingBytes = 0;
  /** Bytes proposed so far: the next chunk's offset. */
  #offset = 0;
  /** Chunk proposals not yet applied here, oldest first. */
  #inFlight: Promise<void>[] = [];

  /** `database`: the database loaded (undefined: the default one); its entries carry the name. */
  constructor(ports: LeaderLoadPorts, timeoutMs: number, database: string | undefined) {
    this.#ports = ports;
    this.#timeoutMs = timeoutMs;
    this.#database = database;
    const envelopeBytes = database === undefined ? 0 : encodeTargetedEntry(database, new Uint8Array(0)).byteLength;
    this.#chunkBytes = Math.min(loadChunkBytesMax, ports.entryDataBytesMax - loadEntryHeaderBytes - envelopeBytes);
  }

  async write(bytes: Uint8Array): Promise<void> {
    this.#pending.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
    this.#pendingBytes += bytes.byteLength;
    while (this.#pendingBytes >= this.#chunkBytes) await this.#proposeChunk(this.#take(this.#chunkBytes));
  }

  #take(byteCount: number): Buffer {
    const all = Buffer.concat(this.#pending, this.#pendingBytes);
    this.#pending = all.byteLength > byteCount ? [all.subarray(byteCount)] : [];
    this.#pendingBytes = all.byteLength - byteCount;
    return all.subarray(0, byteCount);
  }

  async #proposeChunk(data: Buffer): Promise<void> {
    if (this.#offset === 0 && data.byteLength < sqliteHeaderBytes) throw invalidSqliteData('the file is shorter than a SQLite header');
    const bytes = this.#offset === 0 ? patchedHeader(data, 'rollback') : data;
    const proposal = this.#propose({ kind: 'chunk', loadId: this.#loadId, offset: this.#offset, data: bytes });
    // Awaited in order below; until then a failure must not count as unhandled.
    proposal.catch(() => undefined);
    this.#inFlight.push(proposal);
    this.#offset += data.byteLength;
    if (this.#inFlight.length >= chunksInFlightMax) await this.#inFlight.shift();
  }

  /** Waits until every chunk proposed applied here; the first failure throws. */
  async #drain(): Promise<void> {
    for (let proposal = this.#inFlight.shift(); proposal !== undefined; proposal = this.#inFlight.shift()) await proposal;
  }

  async #propose(entry: LoadEntry): Promise<void> {
    const outcome = await this.#ports.log.propose(encodeLoadEntryFor(this.#database, entry), this.#timeoutMs);
    const failure = outcome.results.find((result) => result.kind === 'error');
    if (failure !== undefined) throw new ServiceError('UNAVAILABLE', `load failed at index ${outcome.index}: ${failure.error}`);
  }

  async finish(): Promise<readonly StatementResult[]> {
    if (this.#pendingBytes > 0 || this.#offset === 0) await this.#proposeChunk(this.#take(this.#pendingBytes));
    await this.#drain();
    const staged = stagedLoadOf(this.#ports.database.loads, this.#database);
    if (staged?.loadId !== this.#loadId) throw new ServiceError('UNAVAILABLE', 'the load was superseded before its commit');
    try {
      await checkLoadableDatabase(staged.path, this.#ports.settings.extensionPaths);
    } catch (error) {
      throw invalidSqliteData(error instanceof Error ? error.message : String(error));
    }
    await this.#propose({ kind: 'commit', loadId: this.#loadId, totalBytes: this.#offset });
    return [];
  }

  async abort(): Promise<void> {
    this.#pending = [];
    await this.#drain().catch(() => undefined);
    if (this.#offset === 0) return;
    // Best effort: a leader that lost leadership cannot, and its successor aborts the load.
    await this.#propose({ kind: 'abort', loadId: this.#loadId }).catch(() => undefined);
  }
}

/** SQL text: kept in a scratch file until it is all in, then run on a copy of the database, which is loaded. */
export class SqlTextLoad implements LoadSession {
  readonly #ports: LeaderLoadPorts;
  readonly #timeoutMs: number;
  readonly #target: LoadTarget;
  readonly #sqlPath: string;
  readonly #copyPath: string;
  #file: Promise<FileHandle>;
  #fileLoad: SqliteFileLoad | undefined;

  constructor(ports: LeaderLoadPorts, timeoutMs: number, target: LoadTarget) {
    this.#ports = ports;
    this.#timeoutMs = timeoutMs;
    this.#target = target;
    this.#sqlPath = ports.files.path('load-sql');
    this.#copyPath = ports.files.path('load-copy');
    this.#file = open(this.#sqlPath, 'wx');
    // Awaited by every step; a failed open is the first write's (or finish's) error.
    this.#file.catch(() => undefined);
  }

  async write(bytes: Uint8Array): Promise<void> {
    await (await this.#file).write(bytes);
  }

  async finish(): Promise<readonly StatementResult[]> {
    await (await this.#file).close();
    const { log, settings } = this.#ports;
    try {
      // Every write the log took before the load is in the copy (the gate holds new ones back).
      await log.waitForApplied(log.position().lastIndex, this.#timeoutMs);
      await copyDatabase(this.#target.path, this.#copyPath, settings);
      const result = await runSqlDump(this.#copyPath, this.#sqlPath, settings.extensionPaths).catch((error: unknown) => {
        throw error instanceof NotSqlText ? new ServiceError('BAD_REQUEST', error.message) : error;
      });
      if (result.kind === 'error') return [result];
      this.#fileLoad = new SqliteFileLoad(this.#ports, this.#timeoutMs, this.#target.name);
      await this.#loadCopy(this.#fileLoad);
      await this.#fileLoad.finish();
      return [result];
    } finally {
      await this.#removeFiles();
    }
  }

  async #loadCopy(load: SqliteFileLoad): Promise<void> {
    const handle = await open(this.#copyPath, 'r');
    try {
      const buffer = Buffer.allocUnsafe(fileChunkBytes);
      for (;;) {
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
        if (bytesRead === 0) return;
        await load.write(Buffer.from(buffer.subarray(0, bytesRead)));
      }
    } finally {
      await handle.close();
    }
  }

  async #removeFiles(): Promise<void> {
    await (await this.#file).close().catch(() => undefined);
    await removeQuietly(this.#sqlPath);
    await removeQuietly(this.#copyPath);
  }

  async abort(): Promise<void> {
    await this.#fileLoad?.abort();
    await this.#removeFiles();
  }
}
