/** How an S3 location is named in logs and messages (without loading the AWS SDK). */
import type { S3Storage } from './config.js';

/** rqlite's String(): s3://bucket/key for Amazon S3, the endpoint's URL otherwise. */
export function describeS3(storage: S3Storage, key: string): string {
  if (storage.endpoint === '' || storage.endpoint.endsWith('amazonaws.com')) return `s3://${storage.bucket}/${key}`;
  return `${storage.endpoint}/${storage.bucket}/${key}`;
}
