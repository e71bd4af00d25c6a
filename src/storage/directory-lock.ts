/**
 * One process per data directory. Node has no flock, so the lock is a file created
 * exclusively, holding the owner's pid and process start time. A lock left by a process
 * that no longer runs (a crash, SIGKILL) is taken over; a live owner gives LOCKED.
 * Known limit: two processes that find the same stale lock at the same instant can race.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { StorageError, storageErrorFromSystem } from './errors.js';

export const LOCK_FILE_NAME = 'LOCK';

interface LockOwner {
  readonly pid: number;
  readonly startTime: string | null;
}

/** Directories locked by this process, so a second open in the same process is refused too. */
const lockedByThisProcess = new Set<string>();

function processStartTime(pid: number): string | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const afterName = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return afterName[19] ?? null;
  } catch {
    return null;
  }
}

function isAlive(owner: LockOwner): boolean {
  try {
    process.kill(owner.pid, 0);
  } catch (error) {
    if ((error as { code?: string }).code !== 'EPERM') return false;
  }
  const startTime = processStartTime(owner.pid);
  return owner.startTime === null || startTime === null || startTime === owner.startTime;
}

function readOwner(lockPath: string): LockOwner | null {
  try {
    const parsed = JSON.parse(fs.readFileSync(lockPath, 'utf8')) as Partial<LockOwner>;
    if (typeof parsed.pid !== 'number') return null;
    return { pid: parsed.pid, startTime: typeof parsed.startTime === 'string' ? parsed.startTime : null };
  } catch {
    return null;
  }
}

function tryCreate(lockPath: string): boolean {
  const owner: LockOwner = { pid: process.pid, startTime: processStartTime(process.pid) };
  try {
    fs.writeFileSync(lockPath, JSON.stringify(owner), { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as { code?: string }).code === 'EEXIST') return false;
    throw storageErrorFromSystem(error, `creating lock file ${lockPath}`);
  }
}

/** Takes the lock on `directory` or throws StorageError LOCKED naming the holder. */
export function lockDirectory(directory: string): () => void {
  const lockPath = join(directory, LOCK_FILE_NAME);
  if (lockedByThisProcess.has(lockPath)) {
    throw new StorageError('LOCKED', `data directory ${directory} is already open in this process (pid ${process.pid})`);
  }
  if (!tryCreate(lockPath)) {
    const owner = readOwner(lockPath);
    if (owner !== null && owner.pid !== process.pid && isAlive(owner)) {
      throw new StorageError('LOCKED', `data directory ${directory} is locked by running process ${owner.pid} (${lockPath})`);
    }
    fs.rmSync(lockPath, { force: true });
    if (!tryCreate(lockPath)) {
      throw new StorageError('LOCKED', `data directory ${directory} was locked by another process while taking over a stale lock`);
    }
  }
  lockedByThisProcess.add(lockPath);
  return () => {
    lockedByThisProcess.delete(lockPath);
    fs.rmSync(lockPath, { force: true });
  };
}
