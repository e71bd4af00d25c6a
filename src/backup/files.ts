/**
 * File helpers of the backup layer: atomic replacement (write a hidden temporary file
 * beside the target, fsync, rename, fsync the directory: a reader sees the old file or
 * the new one, never a part), gzip in both directions, streamed with bounded memory.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, openSync, readSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip, createGzip } from 'node:zlib';
import { fsyncDirectory, syncFile } from '../state-machine/files.js';

const gzipMagic = [0x1f, 0x8b, 0x08];

/** A hidden name beside `path` for its temporary copy (listings skip names starting with '.'). */
function temporaryPathBeside(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp-${randomBytes(6).toString('hex')}`);
}

/** Writes `path` atomically with what `write(temporaryPath)` produces; a failure leaves no temporary file. */
export async function replaceAtomically(path: string, write: (temporaryPath: string) => Promise<void>): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const temporaryPath = temporaryPathBeside(path);
  try {
    await write(temporaryPath);
    await syncFile(temporaryPath, { dataOnly: false });
    await rename(temporaryPath, path);
    fsyncDirectory(dirname(path));
  } catch (error) {
    await rm(temporaryPath, { force: true });
    throw error;
  }
}

export async function gzipFile(fromPath: string, toPath: string): Promise<void> {
  await pipeline(createReadStream(fromPath), createGzip(), createWriteStream(toPath));
}

export async function gunzipFile(fromPath: string, toPath: string): Promise<void> {
  await pipeline(createReadStream(fromPath), createGunzip(), createWriteStream(toPath));
}

/** Whether the file starts with gzip's magic bytes (rqlite's downloader decides so whether to decompress). */
export function isGzipFile(path: string): boolean {
  const descriptor = openSync(path, 'r');
  try {
    const header = Buffer.alloc(gzipMagic.length);
    const read = readSync(descriptor, header, 0, header.length, 0);
    return read === gzipMagic.length && gzipMagic.every((byte, position) => header[position] === byte);
  } finally {
    closeSync(descriptor);
  }
}
