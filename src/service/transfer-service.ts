/**
 * The service contract for moving whole databases and managing snapshots (rqlite's
 * `/db/backup`, `/db/load`, `/boot`, `/snapshot`, `/reap`). Unlike the rest of the
 * contract (service.ts) these carry streams, never a whole database in memory: a backup
 * is read chunk by chunk, a load's body is handed over as it arrives. The node forwards
 * them to the leader itself, in bounded chunks over peer calls.
 */
import type { CallContext, DataResponse } from './service.js';

/** rqlite's `fmt`: a SQLite file in WAL mode (its default), in rollback-journal mode (`delete`), or a SQL dump (`sql`). */
export type BackupFormat = 'binary' | 'delete' | 'sql';

export interface BackupRequest {
  readonly format: BackupFormat;
  /** `vacuum`: the copy is rebuilt by VACUUM (binary formats only). */
  readonly vacuum: boolean;
  /** `tables` with `fmt=sql`: dump only these; null for every table. */
  readonly tables: readonly string[] | null;
  /** `noleader`: this node's own copy, wherever the leader is. */
  readonly local: boolean;
  /** False with `?redirect`: NOT_LEADER instead of forwarding. */
  readonly forward: boolean;
  readonly timeoutMs: number;
  /** `?db=` (ours: several databases): the database to back up; absent: the default one. */
  readonly database?: string | null | undefined;
}

/** A backup being read: its bytes in order, then null. Close it in every case. */
export interface ByteStream {
  /** The size when known before the first byte (a file), else null. */
  readonly bytes: number | null;
  /** Raft address of the node the bytes come from (`X-RQLITE-SERVED-BY`). */
  readonly servedBy: string;
  next(): Promise<Uint8Array | null>;
  close(): Promise<void>;
}

export interface LoadRequest {
  readonly timeoutMs: number;
  readonly forward: boolean;
  /** `?db=`: the database loaded (ours: several databases); absent or `main`, the default one. */
  readonly database?: string | undefined;
}

export interface SnapshotRequest {
  /** `trailing_logs`: log entries kept behind the snapshot (rqlite's default for a requested snapshot: none). */
  readonly trailingEntries: number;
}

export interface ReapResponse {
  readonly snapshotsReaped: number;
  readonly walsCheckpointed: number;
}

export interface DatabaseTransfers {
  /** Opens a backup; errors before the first byte reject here. */
  backup(request: BackupRequest, context: CallContext): Promise<ByteStream>;
  /**
   * Loads a SQLite file (told by its header) or SQL text, through the log, on every node
   * at one index, or not at all. SQL text answers rqlite's one result, or its error.
   */
  load(request: LoadRequest, body: AsyncIterable<Uint8Array>, context: CallContext): Promise<DataResponse>;
  /** Replaces a one-node cluster's database with a SQLite file, outside the log, then snapshots it. */
  boot(request: LoadRequest, body: AsyncIterable<Uint8Array>, context: CallContext): Promise<void>;
  /** Resolves false when nothing was applied since the newest snapshot (HTTP 204). */
  snapshot(request: SnapshotRequest, context: CallContext): Promise<boolean>;
  reap(context: CallContext): Promise<ReapResponse>;
}
