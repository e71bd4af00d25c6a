/** Durable file steps for restore: fsync a directory, remove if present. */
import { closeSync, existsSync, fsyncSync, openSync, unlinkSync } from 'node:fs';

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
