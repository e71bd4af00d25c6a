/**
 * A real S3-protocol server for the tests (s3rver), on 127.0.0.1, its data in a temp
 * directory, with one bucket: the AWS SDK talks to it exactly as to S3 (path-style, as
 * with MinIO). stop() closes it and removes the directory.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// biome-ignore lint/correctness/noUnresolvedImports: s3rver's package.json "main" (lib/s3rver.js) is one biome's resolver does not follow
import S3rver from 's3rver';
import { freePort } from '../cluster/harness.js';

export const s3Credentials = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export interface TestS3Server {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly directory: string;
  /** Closes the server (objects stay on disk); start() opens it again on the same port. */
  pause(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** Starts s3rver with `bucket`; on `port` when given (a test may point a node at it before it runs). */
export async function startS3Server(bucket = 'quorumlite-backups', port?: number, startNow = true): Promise<TestS3Server> {
  const directory = mkdtempSync(join(tmpdir(), 'quorumlite-s3-'));
  const chosenPort = port ?? (await freePort('127.0.0.1'));
  let server: S3rver | undefined;
  const start = async (): Promise<void> => {
    if (server !== undefined) return;
    const created = new S3rver({ address: '127.0.0.1', port: chosenPort, silent: true, directory, configureBuckets: [{ name: bucket }] });
    await created.run();
    server = created;
  };
  const pause = async (): Promise<void> => {
    const running = server;
    server = undefined;
    await running?.close();
  };
  if (startNow) await start();
  return {
    endpoint: `http://127.0.0.1:${chosenPort}`,
    port: chosenPort,
    bucket,
    directory,
    pause,
    start,
    stop: async () => {
      await pause();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}

/** The `sub` object of an s3 config for this server. */
export function s3Sub(server: Pick<TestS3Server, 'endpoint' | 'bucket'>, path: string): Record<string, unknown> {
  return {
    access_key_id: s3Credentials.accessKeyId,
    secret_access_key: s3Credentials.secretAccessKey,
    endpoint: server.endpoint,
    region: 'us-east-1',
    bucket: server.bucket,
    path,
    force_path_style: true,
  };
}
