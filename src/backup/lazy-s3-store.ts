/**
 * An S3 bucket whose AWS SDK is loaded at the first request, not at start-up: the SDK
 * costs a node about 20 MiB of memory and is needed only with -auto-backup or
 * -auto-restore to S3 (and by `restore` from an S3 archive). Every call is S3ObjectStore's.
 */
import type { S3Storage } from './config.js';
import type { ObjectStore, StoredObject } from './object-store.js';
import { describeS3 } from './s3-description.js';
import type { S3ObjectStore } from './s3-store.js';

export class LazyS3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly #storage: S3Storage;
  readonly #prefixForDescription: string;
  #store: Promise<S3ObjectStore> | undefined;

  constructor(storage: S3Storage, prefixForDescription: string) {
    this.#storage = storage;
    this.#prefixForDescription = prefixForDescription;
    this.description = describeS3(storage, prefixForDescription);
  }

  #loaded(): Promise<S3ObjectStore> {
    this.#store ??= import('./s3-store.js').then(
      ({ createS3Client, S3ObjectStore }) => new S3ObjectStore(createS3Client(this.#storage), this.#storage, this.#prefixForDescription),
    );
    return this.#store;
  }

  async putFile(key: string, path: string, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
    return (await this.#loaded()).putFile(key, path, metadata);
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    return (await this.#loaded()).putBytes(key, bytes);
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    return (await this.#loaded()).getBytes(key);
  }

  async getFile(key: string, toPath: string, signal?: AbortSignal): Promise<boolean> {
    return (await this.#loaded()).getFile(key, toPath, signal);
  }

  /** The object's user metadata, or undefined when there is no such object. */
  async metadata(key: string): Promise<Record<string, string> | undefined> {
    return (await this.#loaded()).metadata(key);
  }

  async list(prefix: string): Promise<StoredObject[]> {
    return (await this.#loaded()).list(prefix);
  }

  async remove(keys: readonly string[]): Promise<void> {
    return (await this.#loaded()).remove(keys);
  }
}
