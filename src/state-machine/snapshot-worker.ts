/**
 * Snapshot file work off the main thread, so the event loop (reads, Raft ticks) keeps
 * running while large files are copied, checked and fsynced.
 *
 * - writing: a worker opens its own read-only connection and runs VACUUM INTO (one read
 *   transaction: a consistent copy at one applied index, never blocking the apply
 *   connection thanks to WAL), makes the copy a self-contained rollback-journal file,
 *   reads its applied index, fsyncs it and renames it into place (directory fsynced);
 * - staging for restore: a worker copies the shipped file beside the database, runs
 *   quick_check, makes it a rollback-journal file, reads its applied index and fsyncs it.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StateMachineError } from './errors.js';
import { stateTable } from './connections.js';

const require = createRequire(import.meta.url);

/** Shared by both workers: plain JavaScript (CommonJS) so a worker needs no TypeScript loader. */
const workerPrelude = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const path = require('node:path');
const Database = require(workerData.betterSqlitePath);
function fsyncPath(target, flags) {
  const descriptor = fs.openSync(target, flags);
  try { fs.fsyncSync(descriptor); } finally { fs.closeSync(descriptor); }
}
function sealCopy(target, verify) {
  const copy = new Database(target, { fileMustExist: true });
  try {
    if (verify) {
      const check = copy.pragma('quick_check', { simple: true });
      if (check !== 'ok') throw new Error('quick_check: ' + check);
    }
    copy.pragma('journal_mode = DELETE');
    const index = copy.prepare('SELECT applied_index FROM ' + workerData.stateTable + ' WHERE id = 1').pluck().safeIntegers(true).get();
    if (typeof index !== 'bigint') throw new Error('no applied index in ' + workerData.stateTable);
    return Number(index);
  } finally {
    copy.close();
  }
}
function answer(run) {
  try {
    parentPort.postMessage({ appliedIndex: run() });
  } catch (error) {
    parentPort.postMessage({ error: String((error && error.message) || error) });
  }
}
`;

const writeSource = `${workerPrelude}
answer(() => {
  const source = new Database(workerData.sourcePath, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs });
  try {
    source.prepare('VACUUM INTO ?').run(workerData.targetPath);
  } finally {
    source.close();
  }
  const appliedIndex = sealCopy(workerData.targetPath, false);
  fsyncPath(workerData.targetPath, 'r+');
  fs.renameSync(workerData.targetPath, workerData.finalPath);
  fsyncPath(path.dirname(workerData.finalPath), 'r');
  return appliedIndex;
});
`;

const stageSource = `${workerPrelude}
answer(() => {
  fs.copyFileSync(workerData.sourcePath, workerData.targetPath);
  const appliedIndex = sealCopy(workerData.targetPath, true);
  fsyncPath(workerData.targetPath, 'r+');
  return appliedIndex;
});
`;

function runWorker(source: string, workerData: Record<string, unknown>, failure: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, {
      eval: true,
      workerData: { ...workerData, stateTable, betterSqlitePath: require.resolve('better-sqlite3') },
    });
    let settled = false;
    worker.once('message', (message: { appliedIndex?: number; error?: string }) => {
      settled = true;
      if (message.error !== undefined || message.appliedIndex === undefined || !Number.isSafeInteger(message.appliedIndex)) {
        reject(new StateMachineError('BAD_SNAPSHOT', `${failure}: ${message.error ?? 'no applied index'}`));
      } else {
        resolve(message.appliedIndex);
      }
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new StateMachineError('BAD_SNAPSHOT', `${failure}: worker exited with code ${code} before answering`));
    });
  });
}

/**
 * Copies the database at `sourcePath` to `targetPath` in a worker, then renames it to
 * `finalPath` (durably: file and directory fsynced); resolves to the copy's applied index.
 */
export function writeSnapshotInWorker(sourcePath: string, targetPath: string, finalPath: string, busyTimeoutMs: number): Promise<number> {
  return runWorker(writeSource, { sourcePath, targetPath, finalPath, busyTimeoutMs }, 'snapshot failed');
}

/** Copies a shipped snapshot to `targetPath`, checks it and fsyncs it; resolves to its applied index. */
export function stageSnapshotInWorker(sourcePath: string, targetPath: string): Promise<number> {
  return runWorker(stageSource, { sourcePath, targetPath }, `not a usable snapshot: ${sourcePath}`);
}
