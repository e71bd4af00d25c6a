/**
 * Durable file steps: fsync a file or a directory, remove if present. The worker threads
 * load this file too: it imports only Node's own modules.
 */
import { closeSync, existsSync, fsyncSync, openSync, unlinkSync } from 'node:fs';
import { open } from 'node:fs/promises';

/** Fsyncs the file or directory at `path`, opened with `flags` (`'r+'` for a file, `'r'` for a directory). */
export function fsyncPath(path: string, flags: string): void {
  const descriptor = openSync(path, flags);
  try {
    fsyncSync(descriptor);
  } finally {
    closeSync(descriptor);
  }
}

/** Makes renames and unlinks in `directory` durable. */
export function fsyncDirectory(directory: string): void {
  fsyncPath(directory, 'r');
}

/** Fsyncs a file without blocking the event loop; `dataOnly`: fdatasync (its size may change, other metadata need not reach the disk). */
export async function syncFile(path: string, options: { readonly dataOnly: boolean }): Promise<void> {
  const handle = await open(path, 'r+');
  try {
    if (options.dataOnly) await handle.datasync();
    else await handle.sync();
  } finally {
    await handle.close();
  }
}

export function removeIfPresent(path: string): boolean {
  if (!existsSync(path)) return false;
  unlinkSync(path);
  return true;
}
