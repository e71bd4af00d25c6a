/**
 * Where rqlite's automatic backup goes and where automatic restore reads it, with
 * rqlite's naming and bookkeeping (auto/aws/s3.go, auto/file/file.go):
 * - s3: the object `sub.path`; with `timestamp`, `YYYYMMDDHHMMSS_` (UTC) is put before
 *   its last path element, so each upload is a new object. The upload's id (the log
 *   index of the data it holds) rides as user metadata `x-rqlite-auto-backup-id`.
 * - file: `sub.dir/sub.name` (timestamped the same way), written atomically; the id, the
 *   time and the written file's path go to `sub.dir/METADATA.json`.
 * The id lets a new leader see that the object already holds the data it would upload.
 */
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FileStorage, S3Storage, StorageSettings } from './config.js';
import { replaceAtomically } from './files.js';
import { LazyS3ObjectStore } from './lazy-s3-store.js';
import { describeS3 } from './s3-description.js';

/** rqlite's metadata key for the upload id (AWSS3IDKey). */
export const backupIdMetadataKey = 'x-rqlite-auto-backup-id';
const fileMetadataName = 'METADATA.json';

export interface BackupDestination {
  readonly description: string;
  /** Stores the file at `path` as the backup, with its id; `nowMs` names a timestamped upload. */
  upload(path: string, id: string, nowMs: number): Promise<void>;
  /** The id stored with the current backup; undefined when there is none or it carries no id. */
  currentId(): Promise<string | undefined>;
  /** Writes the current backup to `toPath`; throws when there is none. */
  download(toPath: string, signal: AbortSignal): Promise<void>;
}

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

/** rqlite's TimestampedPath: `YYYYMMDDHHMMSS_` (UTC) before the last element of `path`. */
export function timestampedPath(path: string, nowMs: number): string {
  const time = new Date(nowMs);
  const date = `${time.getUTCFullYear()}${twoDigits(time.getUTCMonth() + 1)}${twoDigits(time.getUTCDate())}`;
  const stamp = `${date}${twoDigits(time.getUTCHours())}${twoDigits(time.getUTCMinutes())}${twoDigits(time.getUTCSeconds())}`;
  const parts = path.split('/');
  parts[parts.length - 1] = `${stamp}_${parts[parts.length - 1] ?? ''}`;
  return parts.join('/');
}

class S3Destination implements BackupDestination {
  readonly description: string;
  readonly #storage: S3Storage;
  readonly #timestamp: boolean;
  readonly #store: LazyS3ObjectStore;

  constructor(storage: S3Storage, timestamp: boolean) {
    this.#storage = storage;
    this.#timestamp = timestamp;
    this.description = describeS3(storage, storage.path);
    this.#store = new LazyS3ObjectStore(storage, storage.path);
  }

  upload(path: string, id: string, nowMs: number): Promise<void> {
    const key = this.#timestamp ? timestampedPath(this.#storage.path, nowMs) : this.#storage.path;
    return this.#store.putFile(key, path, id === '' ? {} : { [backupIdMetadataKey]: id });
  }

  async currentId(): Promise<string | undefined> {
    const metadata = await this.#store.metadata(this.#storage.path);
    return metadata?.[backupIdMetadataKey];
  }

  async download(toPath: string, signal: AbortSignal): Promise<void> {
    if (!(await this.#store.getFile(this.#storage.path, toPath, signal))) throw new Error(`no backup at ${this.description}`);
  }
}

interface FileMetadata {
  readonly id: string;
  readonly timestamp: number;
  readonly name: string;
}

class FileDestination implements BackupDestination {
  readonly description: string;
  readonly #storage: FileStorage;
  readonly #timestamp: boolean;

  constructor(storage: FileStorage, timestamp: boolean) {
    this.#storage = storage;
    this.#timestamp = timestamp;
    this.description = `dir:${storage.directory}, file:${storage.name}`;
  }

  get #metadataPath(): string {
    return join(this.#storage.directory, fileMetadataName);
  }

  async upload(path: string, id: string, nowMs: number): Promise<void> {
    await mkdir(this.#storage.directory, { recursive: true });
    const name = this.#timestamp ? timestampedPath(this.#storage.name, nowMs) : this.#storage.name;
    const finalPath = join(this.#storage.directory, name);
    await replaceAtomically(finalPath, (temporaryPath) => copyFile(path, temporaryPath));
    const metadata: FileMetadata = { id, timestamp: nowMs, name: finalPath };
    await replaceAtomically(this.#metadataPath, (temporaryPath) => writeFile(temporaryPath, JSON.stringify(metadata)));
  }

  async #metadata(): Promise<Partial<FileMetadata> | undefined> {
    let text: string;
    try {
      text = await readFile(this.#metadataPath, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null) throw new Error(`${this.#metadataPath} does not hold a JSON object`);
    return value as Partial<FileMetadata>;
  }

  async currentId(): Promise<string | undefined> {
    const metadata = await this.#metadata();
    return typeof metadata?.id === 'string' && metadata.id !== '' ? metadata.id : undefined;
  }

  /** The file METADATA.json names (the newest upload, timestamped or not), else `dir/name`. */
  async download(toPath: string): Promise<void> {
    const metadata = await this.#metadata().catch(() => undefined);
    const source = typeof metadata?.name === 'string' && metadata.name !== '' ? metadata.name : join(this.#storage.directory, this.#storage.name);
    try {
      await copyFile(source, toPath);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new Error(`no backup at ${source}`);
      throw error;
    }
  }
}

export function createDestination(storage: StorageSettings, timestamp: boolean): BackupDestination {
  return storage.type === 's3' ? new S3Destination(storage, timestamp) : new FileDestination(storage, timestamp);
}
