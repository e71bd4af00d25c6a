/**
 * The scratch files of backups and loads: `<data dir>/transfers/`, on the database's
 * filesystem (a booted file is renamed into place), emptied when the node starts (a crash
 * leaves only garbage there: nothing in it is part of the node's state), and each file
 * removed by whoever made it once done. Reading and writing them in bounded chunks.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { open, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { ServiceError } from '../service/service.js';
import { patchedHeader, type JournalKind } from '../state-machine/sqlite-header.js';
import type { ByteStream } from '../service/transfer-service.js';

/** Bytes read from a file per chunk of a stream. */
export const fileChunkBytes = 1024 * 1024;

export class TransferFiles {
  readonly directory: string;

  constructor(dataDirectory: string) {
    this.directory = join(dataDirectory, 'transfers');
    rmSync(this.directory, { recursive: true, force: true });
    mkdirSync(this.directory, { recursive: true });
  }

  /** A fresh path for `purpose` (nothing is created). */
  path(purpose: string): string {
    return join(this.directory, `${purpose}-${randomBytes(8).toString('hex')}`);
  }
}

export async function removeQuietly(path: string): Promise<void> {
  await rm(path, { force: true }).catch(() => undefined);
}

/**
 * A file's bytes as a stream, its first chunk's header set to `journal` (and its
 * application_id cleared: sqlite-header.ts); the file is removed once closed.
 */
export function databaseFileStream(path: string, journal: JournalKind, servedBy: string): Promise<ByteStream> {
  return fileStream(path, servedBy, (chunk) => patchedHeader(chunk, journal));
}

/** A file's bytes as they are (a replica's copy keeps its header: the applied index is in it); the file is removed once closed. */
export function plainFileStream(path: string, servedBy: string): Promise<ByteStream> {
  return fileStream(path, servedBy, (chunk) => chunk);
}

async function fileStream(path: string, servedBy: string, firstChunk: (chunk: Uint8Array) => Uint8Array): Promise<ByteStream> {
  const handle = await open(path, 'r');
  const bytes = (await handle.stat()).size;
  let position = 0;
  let closed = false;
  return {
    bytes,
    servedBy,
    async next() {
      if (closed) throw new ServiceError('UNAVAILABLE', 'backup stream closed');
      if (position >= bytes) return null;
      const buffer = Buffer.allocUnsafe(Math.min(fileChunkBytes, bytes - position));
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, position);
      if (bytesRead === 0) throw new ServiceError('INTERNAL', `backup file ${path} ended at ${position} of ${bytes} bytes`);
      const chunk = buffer.subarray(0, bytesRead);
      const patched = position === 0 ? firstChunk(chunk) : chunk;
      position += bytesRead;
      return patched;
    },
    async close() {
      if (closed) return;
      closed = true;
      await handle.close().catch(() => undefined);
      await removeQuietly(path);
    },
  };
}

/** Writes `body` to a new file at `path`; resolves to its size. On failure the file is removed. */
export async function writeBodyToFile(body: AsyncIterable<Uint8Array>, path: string): Promise<number> {
  const handle = await open(path, 'wx');
  let bytes = 0;
  try {
    for await (const chunk of body) {
      await handle.write(chunk);
      bytes += chunk.byteLength;
    }
    await handle.sync();
  } catch (error) {
    await handle.close().catch(() => undefined);
    await removeQuietly(path);
    throw error;
  }
  await handle.close();
  return bytes;
}
