/**
 * The service contract for embedded replicas (docs/REPLICA.md): a stream of the log's
 * committed, applied entries after an index (`GET /db/stream`), and a full copy of the
 * database with the index it holds (`GET /db/copy`) for a replica whose index the log no
 * longer reaches. Both are served by the node that receives them (any node), never
 * forwarded.
 */
import type { LogStreamFrame } from '../common/log-stream-frames.js';
import type { CallContext } from './service.js';
import type { ByteStream } from './transfer-service.js';

export interface LogStreamRequest {
  /** Entries after this index are sent: the replica's applied index. */
  readonly fromIndex: number;
  /** The database followed (`?db=`); undefined or `main` for the default one. */
  readonly database?: string | undefined;
}

export interface DatabaseCopyRequest {
  /** The database copied (`?db=`); undefined or `main` for the default one. */
  readonly database?: string | undefined;
}

/** An open stream. `next()` waits for entries or, after the heartbeat interval, a heartbeat; null once closed. */
export interface LogStream {
  /** This node's applied index when the stream opened. */
  readonly appliedIndex: number;
  /** Whether the node's state machine enforces foreign keys (a replica must do the same to stay identical). */
  readonly foreignKeys: boolean;
  /** The next frames, in order: entries after the last one sent, or one heartbeat. Rejects with a ServiceError when the stream must end. */
  next(): Promise<readonly LogStreamFrame[] | null>;
  close(): void;
}

/** A full copy: the database with quorumlite's internal state, at `appliedIndex`. */
export interface DatabaseCopy extends ByteStream {
  readonly appliedIndex: number;
}

export interface ReplicaFeed {
  /**
   * Rejects with LOG_COMPACTED when the log no longer holds the entry after `fromIndex`,
   * UNAVAILABLE at the stream bound, NOT_FOUND for a database that does not exist.
   */
  openLogStream(request: LogStreamRequest, context: CallContext): Promise<LogStream>;
  openDatabaseCopy(request: DatabaseCopyRequest, context: CallContext): Promise<DatabaseCopy>;
}
