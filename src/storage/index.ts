export { DurableStorage, type StorageStats } from './durable-storage.js';
export type { RecoveryReport } from './log-replay.js';
export type { SaveRequest } from './save-plan.js';
export { DEFAULT_STORAGE_OPTIONS, type StorageOptions } from './options.js';
export { SnapshotStore, SnapshotWriter, type SnapshotInfo } from './snapshot-store.js';
export { StorageError, type StorageErrorCode } from './errors.js';
export { crc32c, crc32cUpdate } from './crc32c.js';
