/**
 * The replica feed on a node (docs/REPLICA.md): `GET /db/stream?from=N` streams the
 * committed entries after N as this node applied them, read back from its own log, then
 * waits for more, with a heartbeat carrying the applied index whenever nothing was
 * applied for `heartbeatIntervalMs`; `GET /db/copy` is a full copy of the database with
 * quorumlite's internal state (the dedup table a replica needs to stay identical) and its
 * index, for a replica the log no longer reaches.
 *
 * An entry goes out only once applied here, so it is committed and final; its data is
 * the state machine's input as it is (seed and timestamp included), so a replica applying
 * it with the same state machine gets the same database. A membership change carries no
 * command: it goes out as an empty entry (a no-op), so that the replica applies every index.
 * With `db=X` (another database) the stream carries X's entries only, unwrapped, and
 * no-ops for the rest (database-stream-filter.ts); the copy is X's file.
 */
import { assert } from '../common/assert.js';
import type { LogStreamFrame } from '../common/log-stream-frames.js';
import { RaftStorageError, type Entry } from '../raft/types.js';
import type { DatabaseCopy, DatabaseCopyRequest, LogStream, LogStreamRequest, ReplicaFeed } from '../service/replica-service.js';
import { ServiceError } from '../service/service.js';
import { StateMachineError } from '../state-machine/errors.js';
import { followedDatabase, streamedData } from './database-stream-filter.js';
import type { ReplicatedLog } from './replicated-log.js';
import { plainFileStream, removeQuietly, type TransferFiles } from './transfer-files.js';

export interface LogStreamSettings {
  /** Streams open at once on this node; one more is refused with UNAVAILABLE (the replica tries another node). */
  readonly streamCountMax: number;
  /** Entry bytes read from the log per batch; a stream holds at most one batch besides what its socket buffers. */
  readonly batchBytesMax: number;
  /** A heartbeat goes out when nothing was applied for this long. */
  readonly heartbeatIntervalMs: number;
}

export const defaultLogStreamSettings: LogStreamSettings = {
  streamCountMax: 64,
  batchBytesMax: 1024 * 1024,
  heartbeatIntervalMs: 1000,
};

interface LogStreamDependencies {
  readonly log: Pick<ReplicatedLog, 'appliedIndex' | 'waitForApplied' | 'position'>;
  /** The log's entries in [low, high), at most about `bytesMax` (the node's storage). */
  entries(low: number, high: number, bytesMax: number): Entry[];
  readonly lastLogIndex: () => number;
  /**
   * The machine of database `name` (undefined: the default one), whose snapshot() is a
   * self-contained copy with the internal state; throws NO_DATABASE for a name not created.
   */
  database(name: string | undefined): { snapshot(toPath: string): Promise<{ readonly appliedIndex: number }> };
  readonly foreignKeys: boolean;
  readonly files: TransferFiles;
  readonly servedBy: string;
  readonly settings: LogStreamSettings;
}

const emptyData = new Uint8Array(0);

export class NodeLogStreams implements ReplicaFeed {
  readonly #dependencies: LogStreamDependencies;
  readonly #open = new Set<OneLogStream>();

  constructor(dependencies: LogStreamDependencies) {
    const settings = dependencies.settings;
    assert(Number.isInteger(settings.streamCountMax) && settings.streamCountMax >= 1, 'streamCountMax is at least 1');
    assert(settings.batchBytesMax >= 1 && settings.heartbeatIntervalMs >= 1, 'a batch and a heartbeat interval are positive');
    this.#dependencies = dependencies;
  }

  get openCount(): number {
    return this.#open.size;
  }

  async openLogStream(request: LogStreamRequest): Promise<LogStream> {
    const { log, settings } = this.#dependencies;
    const database = followedDatabase(request.database);
    if (database !== undefined) this.#machineOf(database);
    const appliedIndex = log.appliedIndex;
    if (request.fromIndex > appliedIndex) {
      throw new ServiceError('BAD_REQUEST', `from ${request.fromIndex} is beyond this node's applied index ${appliedIndex}`);
    }
    const firstIndex = log.position().firstIndex;
    if (request.fromIndex + 1 < firstIndex) {
      throw new ServiceError('LOG_COMPACTED', `the log starts at ${firstIndex}: entries after ${request.fromIndex} are compacted; fetch /db/copy first`);
    }
    if (this.#open.size >= settings.streamCountMax) {
      throw new ServiceError('UNAVAILABLE', `too many log streams on this node (streamCountMax ${settings.streamCountMax})`);
    }
    const stream = new OneLogStream(this.#dependencies, { fromIndex: request.fromIndex, appliedIndex, database }, () => this.#open.delete(stream));
    this.#open.add(stream);
    return stream;
  }

  /** The machine of `database`; NOT_FOUND (HTTP 404) for a database that does not exist. */
  #machineOf(database: string | undefined): ReturnType<LogStreamDependencies['database']> {
    try {
      return this.#dependencies.database(database);
    } catch (error) {
      if (error instanceof StateMachineError && error.code === 'NO_DATABASE') throw new ServiceError('NOT_FOUND', error.message, { cause: error });
      throw error;
    }
  }

  async openDatabaseCopy(request: DatabaseCopyRequest = {}): Promise<DatabaseCopy> {
    const database = followedDatabase(request.database);
    const machine = this.#machineOf(database);
    const path = this.#dependencies.files.path('replica-copy');
    try {
      // Another database's file marks its last own entry; it is as it was at every index up to the node's
      // applied index before the copy began (all its entries up to there are in it): the copy's index is
      // the later of the two, so a replica resumes from where the log still reaches (replica docs).
      const nodeIndexBefore = this.#dependencies.log.appliedIndex;
      const copied = await machine.snapshot(path);
      const appliedIndex = database === undefined ? copied.appliedIndex : Math.max(copied.appliedIndex, nodeIndexBefore);
      const stream = await plainFileStream(path, this.#dependencies.servedBy);
      return { ...stream, appliedIndex };
    } catch (error) {
      await removeQuietly(path);
      // "Not now": a load is staged (no copy may fall inside one); another node or a later try serves it.
      if (error instanceof StateMachineError && error.code === 'LOAD_IN_PROGRESS') throw new ServiceError('UNAVAILABLE', 'load in progress', { cause: error });
      throw error;
    }
  }

  /** The node stops: every stream ends with an UNAVAILABLE error frame, so HTTP can close at once. */
  closeAll(): void {
    const stopping = new ServiceError('UNAVAILABLE', 'the node is stopping');
    for (const stream of [...this.#open]) stream.close(stopping);
  }
}

class OneLogStream implements LogStream {
  readonly #dependencies: LogStreamDependencies;
  readonly #onClose: () => void;
  readonly appliedIndex: number;
  readonly foreignKeys: boolean;
  /** The database followed; undefined for the default one (every entry as it is). */
  readonly #database: string | undefined;
  /** The last index sent (or asked from). */
  #sentIndex: number;
  /** The error that ends the stream after what was sent (the drop of the followed database). */
  #pendingError: ServiceError | undefined;
  #closed = false;
  /** Why the node ended the stream, if it did: the last frame says so. */
  #endError: ServiceError | undefined;
  #heartbeatSent = false;

  constructor(
    dependencies: LogStreamDependencies,
    start: { readonly fromIndex: number; readonly appliedIndex: number; readonly database: string | undefined },
    onClose: () => void,
  ) {
    this.#dependencies = dependencies;
    this.#sentIndex = start.fromIndex;
    this.appliedIndex = start.appliedIndex;
    this.#database = start.database;
    this.foreignKeys = dependencies.foreignKeys;
    this.#onClose = onClose;
  }

  async next(): Promise<readonly LogStreamFrame[] | null> {
    if (this.#closed) return this.#ended();
    if (this.#pendingError !== undefined) throw this.#pendingError;
    // The first frame says at once how far this node is; later ones only when idle.
    if (!this.#heartbeatSent) {
      this.#heartbeatSent = true;
      return [{ kind: 'heartbeat', index: this.#dependencies.log.appliedIndex }];
    }
    const entries = this.#readApplied();
    if (entries.length > 0) return entries;
    try {
      await this.#dependencies.log.waitForApplied(this.#sentIndex + 1, this.#dependencies.settings.heartbeatIntervalMs);
    } catch (error) {
      if (!(error instanceof ServiceError) || error.code !== 'TIMEOUT') throw error;
      if (this.#closed) return this.#ended();
      return [{ kind: 'heartbeat', index: this.#dependencies.log.appliedIndex }];
    }
    if (this.#closed) return this.#ended();
    return this.#readApplied();
  }

  /** A closed stream's end: null when its reader left, the node's reason when the node ended it (once). */
  #ended(): null {
    const error = this.#endError;
    this.#endError = undefined;
    if (error !== undefined) throw error;
    return null;
  }

  /** Entries after the last one sent, up to the applied index (and what the log holds), one batch at most. */
  #readApplied(): LogStreamFrame[] {
    const { log, settings } = this.#dependencies;
    const lastIndex = Math.min(log.appliedIndex, this.#dependencies.lastLogIndex());
    if (lastIndex <= this.#sentIndex) return [];
    let entries: Entry[];
    try {
      entries = this.#dependencies.entries(this.#sentIndex + 1, lastIndex + 1, settings.batchBytesMax);
    } catch (error) {
      // A snapshot compacted the log past this stream while it ran: the replica starts again from a copy.
      if (error instanceof RaftStorageError && error.code === 'COMPACTED') throw new ServiceError('LOG_COMPACTED', error.message, { cause: error });
      throw error;
    }
    const frames: LogStreamFrame[] = [];
    for (const entry of entries) {
      assert(entry.index === this.#sentIndex + 1, `stream entry ${entry.index} follows ${this.#sentIndex}`);
      const data = this.#dataOf(entry);
      if (data instanceof ServiceError) {
        // What came before goes out; the error is the next (and last) frame.
        this.#pendingError = data;
        if (frames.length === 0) throw data;
        break;
      }
      frames.push({ kind: 'entry', index: entry.index, data });
      this.#sentIndex = entry.index;
    }
    return frames;
  }

  #dataOf(entry: Entry): Uint8Array | ServiceError {
    const data = entry.type === 'normal' ? entry.data : emptyData;
    const database = this.#database;
    if (database === undefined) return data;
    return streamedData(database, entry.index, data, () => databaseExists(this.#dependencies, database));
  }

  close(reason?: ServiceError): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#endError = reason;
    this.#onClose();
  }
}

function databaseExists(dependencies: LogStreamDependencies, name: string): boolean {
  try {
    dependencies.database(name);
    return true;
  } catch (error) {
    if (error instanceof StateMachineError && error.code === 'NO_DATABASE') return false;
    throw error;
  }
}
