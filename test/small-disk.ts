/**
 * A size-limited tmpfs for disk-full tests (needs root to mount; a test skips with the
 * reason otherwise), and a filler that takes its space: the one copy the state-machine and
 * node tests share.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SmallDisk {
  /** The mount point (an empty directory when mounting failed). */
  readonly path: string;
  /** Why no tmpfs could be mounted; undefined when `path` is one. */
  readonly skipReason: string | undefined;
  /** Unmounts (lazily) and removes the mount point; safe to call twice. */
  remove(): void;
  /** With no tmpfs mounted: prints why, marks `context` skipped and answers true (the test then returns). */
  skipped(context: { skip(message?: string): void }): boolean;
}

/** Mounts a tmpfs of `sizeBytes` on a new directory named with `prefix`. */
export function mountSmallDisk(prefix: string, sizeBytes: number): SmallDisk {
  const path = mkdtempSync(join(tmpdir(), `quorumlite-${prefix}-`));
  let skipReason: string | undefined;
  if (process.getuid?.() !== 0) skipReason = 'not running as root, cannot mount a tmpfs';
  else {
    const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeBytes}`, 'tmpfs', path], { encoding: 'utf8' });
    if (mounted.status !== 0) skipReason = `cannot mount a tmpfs: ${mounted.stderr.trim() || String(mounted.error)}`;
  }
  let removed = false;
  return {
    path,
    skipReason,
    remove() {
      if (removed) return;
      removed = true;
      if (skipReason === undefined) spawnSync('umount', ['-l', path]);
      rmSync(path, { recursive: true, force: true });
    },
    skipped(context) {
      if (skipReason === undefined) return false;
      console.log(`skipped: ${skipReason}`);
      context.skip(skipReason);
      return true;
    },
  };
}

const fillChunkBytes = 256 * 1024;

/**
 * Writes `<directory>/filler` until the file system has `leaveBytes` free (default none:
 * until ENOSPC, bounded by the space statfs reports); returns the filler's path.
 */
export function fillDisk(directory: string, leaveBytes = 0): string {
  const path = join(directory, 'filler');
  const stats = statfsSync(directory);
  const fillerBytes = stats.bavail * stats.bsize - leaveBytes;
  const descriptor = openSync(path, 'w');
  const chunk = Buffer.alloc(fillChunkBytes, 1);
  try {
    // Past the reported space by one chunk: a full disk must end in ENOSPC, never loop on.
    const bound = leaveBytes === 0 ? fillerBytes + fillChunkBytes : fillerBytes;
    for (let written = 0; written < bound; ) written += writeSync(descriptor, chunk, 0, Math.min(chunk.length, bound - written));
    if (leaveBytes === 0) throw new Error(`the disk at ${directory} did not fill`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    closeSync(descriptor);
  }
  return path;
}
