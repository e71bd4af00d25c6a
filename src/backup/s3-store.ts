/**
 * An S3 bucket through the AWS SDK, configured as rqlite configures its client
 * (auto/aws/s3.go): the region; static credentials only when both keys are given (else
 * the SDK's default chain: environment, IAM role); an `endpoint` without a scheme gets
 * https://; `force_path_style` for servers that want path-style requests (MinIO);
 * checksums only where the service requires them (some S3-compatible services refuse
 * the SDK's default ones). Large files go up in parts (lib-storage's Upload).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { pipeline } from 'node:stream/promises';
import type { Readable } from 'node:stream';
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import type { S3Storage } from './config.js';
import { describeS3 } from './s3-description.js';
import type { ObjectStore, StoredObject } from './object-store.js';

/** Bounds on one request: a target that does not answer must not hold the loop forever. */
const connectTimeoutMs = 5_000;
const requestTimeoutMs = 120_000;
/** DeleteObjects takes at most 1000 keys per call (S3's limit). */
const deleteKeyCountMax = 1000;
/** List pages are at most 1000 keys (S3's limit); this bounds how many pages one listing reads. */
const listPageCountMax = 10_000;

function endpointUrl(endpoint: string): string {
  return endpoint.includes('://') ? endpoint : `https://${endpoint}`;
}

export function createS3Client(storage: S3Storage): S3Client {
  const hasKeys = storage.accessKeyId !== '' && storage.secretAccessKey !== '';
  return new S3Client({
    region: storage.region,
    ...(storage.endpoint === '' ? {} : { endpoint: endpointUrl(storage.endpoint) }),
    forcePathStyle: storage.forcePathStyle,
    ...(hasKeys ? { credentials: { accessKeyId: storage.accessKeyId, secretAccessKey: storage.secretAccessKey } } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: { connectionTimeout: connectTimeoutMs, requestTimeout: requestTimeoutMs },
  });
}

/** A missing object (404, NoSuchKey, NotFound) rather than a failure to reach the service. */
function isMissingObject(error: unknown): boolean {
  if (!(error instanceof S3ServiceException)) return false;
  return error.name === 'NoSuchKey' || error.name === 'NotFound' || error.$metadata.httpStatusCode === 404;
}

export class S3ObjectStore implements ObjectStore {
  readonly description: string;
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(client: S3Client, storage: S3Storage, prefixForDescription: string) {
    this.#client = client;
    this.#bucket = storage.bucket;
    this.description = describeS3(storage, prefixForDescription);
  }

  async putFile(key: string, path: string, metadata: Readonly<Record<string, string>> = {}): Promise<void> {
    const upload = new Upload({
      client: this.#client,
      params: { Bucket: this.#bucket, Key: key, Body: createReadStream(path), Metadata: { ...metadata } },
    });
    await upload.done();
  }

  async putBytes(key: string, bytes: Uint8Array): Promise<void> {
    await this.#client.send(new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: bytes }));
  }

  async getBytes(key: string): Promise<Uint8Array | undefined> {
    try {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }));
      return answer.Body === undefined ? new Uint8Array(0) : await answer.Body.transformToByteArray();
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  async getFile(key: string, toPath: string, signal?: AbortSignal): Promise<boolean> {
    let body: Readable;
    try {
      const answer = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }), signal === undefined ? {} : { abortSignal: signal });
      body = answer.Body as Readable;
    } catch (error) {
      if (isMissingObject(error)) return false;
      throw error;
    }
    await pipeline(body, createWriteStream(toPath), signal === undefined ? {} : { signal });
    return true;
  }

  /** The object's user metadata, or undefined when there is no such object. */
  async metadata(key: string): Promise<Record<string, string> | undefined> {
    try {
      const answer = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }));
      return answer.Metadata ?? {};
    } catch (error) {
      if (isMissingObject(error)) return undefined;
      throw error;
    }
  }

  async list(prefix: string): Promise<StoredObject[]> {
    const objects: StoredObject[] = [];
    let token: string | undefined;
    for (let page = 0; page < listPageCountMax; page += 1) {
      const answer = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: prefix, ContinuationToken: token }));
      for (const item of answer.Contents ?? []) if (item.Key !== undefined) objects.push({ key: item.Key, bytes: item.Size ?? 0 });
      token = answer.IsTruncated === true ? answer.NextContinuationToken : undefined;
      if (token === undefined) return objects.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    }
    throw new Error(`listing ${this.description} took more than ${listPageCountMax} pages`);
  }

  async remove(keys: readonly string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += deleteKeyCountMax) {
      const batch = keys.slice(start, start + deleteKeyCountMax);
      const answer = await this.#client.send(
        new DeleteObjectsCommand({ Bucket: this.#bucket, Delete: { Objects: batch.map((key) => ({ Key: key })), Quiet: true } }),
      );
      const failed = (answer.Errors ?? []).filter((error) => error.Code !== 'NoSuchKey');
      if (failed.length > 0)
        throw new Error(`could not delete ${failed.length} objects from ${this.description}: ${failed[0]?.Code ?? ''} ${failed[0]?.Message ?? ''}`);
    }
  }
}
