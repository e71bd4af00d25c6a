/**
 * Durable Raft storage: the log, hard state, membership and snapshot files of one node.
 *
 *   const storage = await DurableStorage.open(dataDirectory);      // LOCKED / CORRUPT / IO_ERROR
 *   if (storage.isEmpty()) await storage.bootstrap({ voters: ['n1'], learners: [] });
 *   // once per Ready turn; saves made while one is on the disk share the next write + sync:
 *   await storage.save({ hardState, entries, snapshot, confState });
 *   // the core reads synchronously: initialState, entries, term, firstIndex, lastIndex, snapshot
 *   const writer = await storage.snapshots.begin(metadata, context); // write writer.dataPath or writer.write(chunk)
 *   await writer.commit();
 *   await storage.compact(index);                                   // a snapshot must cover index
 *   storage.healthy / storage.lastError / storage.recovery           // for /readyz and logs
 *   await storage.close();
 *
 * Errors are StorageError with a code (DISK_FULL, IO_ERROR, CORRUPT, LOCKED,
 * INVALID_ARGUMENT, TOO_LARGE, OVERLOADED, NOT_FOUND, CLOSED); range errors of the core's
 * reads are RaftStorageError (COMPACTED, UNAVAILABLE).
 */
export { DurableStorage, type StorageStats } from './durable-storage.js';
export type { LogRepair, RecoveryReport } from './log-replay.js';
export type { SaveRequest } from './save-plan.js';
export { defaultStorageOptions, type StorageOptions } from './options.js';
export { SnapshotStore, SnapshotWriter, type SnapshotInfo } from './snapshot-store.js';
export { StorageError, type StorageErrorCode } from './errors.js';
export { crc32c, crc32cUpdate } from './crc32c.js';
