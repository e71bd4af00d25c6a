/**
 * Thin promise wrappers over the callback fs API (lighter than FileHandle; every call
 * runs on the libuv thread pool, so the event loop keeps serving while the disk syncs).
 */
import * as fs from 'node:fs';

export function openFile(path: string, flags: string | number, mode = 0o644): Promise<number> {
  return new Promise((resolve, reject) => fs.open(path, flags, mode, (error, fd) => (error ? reject(error) : resolve(fd))));
}

export function closeFile(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.close(fd, (error) => (error ? reject(error) : resolve())));
}

/** Writes all of `buffer` at `position`, looping over short writes. */
export async function writeFully(fd: number, buffer: Uint8Array, position: number): Promise<void> {
  let written = 0;
  while (written < buffer.length) {
    const count = await new Promise<number>((resolve, reject) =>
      fs.write(fd, buffer, written, buffer.length - written, position + written, (error, bytes) => (error ? reject(error) : resolve(bytes))),
    );
    if (count <= 0) throw Object.assign(new Error(`write returned ${count}`), { code: 'EIO' });
    written += count;
  }
}

/**
 * Writes all of `buffer` at `position` on the calling thread. Meant for small frames:
 * the write only copies into the page cache, and doing it here saves a thread-pool
 * round trip before the fdatasync that follows (which is what waits for the disk).
 */
export function writeFullySync(fd: number, buffer: Uint8Array, position: number): void {
  let written = 0;
  while (written < buffer.length) {
    const count = fs.writeSync(fd, buffer, written, buffer.length - written, position + written);
    if (count <= 0) throw Object.assign(new Error(`write returned ${count}`), { code: 'EIO' });
    written += count;
  }
}

export function dataSync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fdatasync(fd, (error) => (error ? reject(error) : resolve())));
}

export function fullSync(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (error) => (error ? reject(error) : resolve())));
}

export function truncateFile(fd: number, length: number): Promise<void> {
  return new Promise((resolve, reject) => fs.ftruncate(fd, length, (error) => (error ? reject(error) : resolve())));
}

/** fsync a directory so that file creations, renames and deletions in it are durable. */
export async function syncDirectory(path: string): Promise<void> {
  const fd = await openFile(path, fs.constants.O_RDONLY | fs.constants.O_DIRECTORY);
  try {
    await fullSync(fd);
  } finally {
    await closeFile(fd);
  }
}
