/**
 * The point-in-time archive's object store, from the -auto-backup file's storage: the
 * same bucket (keys under `point_in_time.path/`) or the same directory (files under
 * `dir/<point_in_time.path>/`) as the automatic backup.
 */
import type { StorageSettings } from './config.js';
import { DirectoryObjectStore } from './directory-store.js';
import type { ObjectStore } from './object-store.js';
import { LazyS3ObjectStore } from './lazy-s3-store.js';

export function archiveStore(storage: StorageSettings, archivePath: string): ObjectStore {
  if (storage.type === 'file') return new DirectoryObjectStore(storage.directory);
  return new LazyS3ObjectStore(storage, `${archivePath}/`);
}
