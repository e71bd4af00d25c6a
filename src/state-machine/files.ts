/** Durable file steps for snapshot and restore: fsync a file (on the thread pool), fsync a directory, remove if present. */
import { closeSync, existsSync, fsyncSync, openSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Makes renames and unlinks in `directory` durable. */
export function fsyncDirectory(directory: string): void {
  const descriptor = openSync(directory, 'r');
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

export function removeIfPresent(path: string): boolean {
  if (!existsSync(path)) return false;
  unlinkSync(path);
  return true;
}

/** fsync on the thread pool, so a large snapshot file does not block reads on the event loop. */
export async function fsyncFileAsync(path: string): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}
