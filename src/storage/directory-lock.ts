/**
 * One process per data directory, enforced by a kernel lock: flock(2) on the file LOCK.
 *
 * Node has no flock binding, so the lock is taken by util-linux's `flock` command on a
 * file descriptor this process opened and hands down to it. flock locks belong to the
 * open file description, which this process keeps open: the lock stays held after the
 * helper exits and is released by the kernel when this process closes the descriptor or
 * dies in any way (kill -9 included, even while the dead process is still a zombie).
 * Two processes racing for the lock cannot both win, and there is no stale lock to take
 * over. The LOCK file itself stays in place (deleting it on close would let a waiter
 * lock an unlinked file while a newcomer locks a new one); it holds the owner's pid,
 * for the error message only.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { StorageError, storageErrorFromSystem } from './errors.js';

const lockFileName = 'LOCK';
/** The helper that calls flock(2); util-linux, present on every Linux distribution. */
const flockCommand = 'flock';
/** Bound on the helper's run: it never waits for the lock (--nonblock). */
const flockTimeoutMs = 10_000;
/** What the owner's pid line may hold when read back for a message. */
const ownerBytesMax = 256;
/** How often, and how far apart, a refused opener reads the owner's pid line. */
const ownerReadAttemptCountMax = 20;
const ownerReadPauseMs = 5;

/**
 * The owner writes its pid just after it takes the lock, so a loser that looks at once
 * may find the previous owner's line or none: it looks a few times, briefly (this is
 * the refusal path only), before saying "another process".
 */
function describeOwner(lockPath: string): string {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let attempt = 0; attempt < ownerReadAttemptCountMax; attempt += 1) {
    const pid = readOwnerPid(lockPath);
    if (pid === process.pid) return `this process (pid ${pid}): the directory is already open here`;
    if (pid !== undefined && isRunning(pid)) return `running process ${pid}`;
    Atomics.wait(pause, 0, 0, ownerReadPauseMs);
  }
  return 'another process';
}

/** The pid line an owner wrote, if the file holds one (a previous owner's line may linger until the new owner rewrites it). */
function readOwnerPid(lockPath: string): number | undefined {
  try {
    const text = fs.readFileSync(lockPath, 'utf8').slice(0, ownerBytesMax);
    const digits = /^pid (\d+)\n/.exec(text)?.[1];
    return digits === undefined ? undefined : Number(digits);
  } catch {
    return undefined;
  }
}

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as { code?: string }).code === 'EPERM';
  }
}

/** Runs `flock --exclusive --nonblock 3` with this process's `fd` as the helper's fd 3. */
function tryFlock(fd: number, lockPath: string): boolean {
  const helper = spawnSync(flockCommand, ['--exclusive', '--nonblock', '3'], {
    stdio: ['ignore', 'ignore', 'pipe', fd],
    timeout: flockTimeoutMs,
    encoding: 'utf8',
  });
  if (helper.error !== undefined) {
    throw new StorageError('IO_ERROR', `cannot lock ${lockPath}: running '${flockCommand}' failed (${helper.error.message}); it comes with util-linux`, {
      cause: helper.error,
    });
  }
  if (helper.status === 0) return true;
  if (helper.status === 1) return false;
  throw new StorageError('IO_ERROR', `cannot lock ${lockPath}: '${flockCommand}' exited ${helper.status ?? helper.signal}: ${helper.stderr.trim()}`);
}

/** Takes the lock on `directory` or throws StorageError LOCKED naming the holder. Returns the release function. */
export function lockDirectory(directory: string): () => void {
  const lockPath = join(directory, lockFileName);
  let fd: number;
  try {
    fd = fs.openSync(lockPath, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644);
  } catch (error) {
    throw storageErrorFromSystem(error, `opening lock file ${lockPath}`);
  }
  try {
    if (!tryFlock(fd, lockPath)) {
      throw new StorageError('LOCKED', `data directory ${directory} is locked by ${describeOwner(lockPath)} (${lockPath})`);
    }
    const owner = Buffer.from(`pid ${process.pid}\n`);
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, owner, 0, owner.length, 0);
  } catch (error) {
    fs.closeSync(fd);
    if (error instanceof StorageError) throw error;
    throw storageErrorFromSystem(error, `taking lock ${lockPath}`);
  }
  let released = false;
  return () => {
    if (released) return;
    released = true;
    fs.closeSync(fd);
  };
}
