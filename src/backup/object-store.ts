/**
 * Where backups and the log archive go: a flat namespace of keys ('pitr/segments/…'),
 * each written whole or not at all. Two implementations: an S3 bucket (s3-store.ts, the
 * AWS SDK, so any S3-compatible service) and a directory (directory-store.ts). Every
 * failure (unreachable, refused, full) is thrown to the caller, which retries later;
 * nothing here retries on its own beyond the SDK's few attempts.
 */

export interface StoredObject {
  readonly key: string;
  readonly bytes: number;
}

export interface ObjectStore {
  /** Where the store is, for logs and messages ("s3://bucket/prefix", "dir:/var/backups"). */
  readonly description: string;
  /** Stores the file at `path` under `key`, replacing any object there; `metadata` rides along (S3 user metadata). */
  putFile(key: string, path: string, metadata?: Readonly<Record<string, string>>): Promise<void>;
  putBytes(key: string, bytes: Uint8Array): Promise<void>;
  /** The object's bytes, or undefined when there is no such object. */
  getBytes(key: string): Promise<Uint8Array | undefined>;
  /** Writes the object to `toPath`; false when there is no such object. */
  getFile(key: string, toPath: string, signal?: AbortSignal): Promise<boolean>;
  /** Every object whose key starts with `prefix`, sorted by key. */
  list(prefix: string): Promise<StoredObject[]>;
  /** Removes the objects; a missing one is not an error. */
  remove(keys: readonly string[]): Promise<void>;
}
