/**
 * Writes a snapshot file off the main thread: a worker opens its own read-only connection,
 * runs VACUUM INTO (one read transaction: a consistent copy at one applied index, never
 * blocking the apply connection thanks to WAL), turns the copy into a self-contained
 * rollback-journal file, reads its applied index, fsyncs it and renames it into place.
 * The event loop (reads, Raft ticks) keeps running the whole time.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { StateMachineError } from './errors.js';
import { stateTable } from './connections.js';

const require = createRequire(import.meta.url);

/** Plain JavaScript (CommonJS) so the worker needs no TypeScript loader. */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.betterSqlitePath);
function fsyncPath(path, flags) {
  const descriptor = fs.openSync(path, flags);
  try { fs.fsyncSync(descriptor); } finally { fs.closeSync(descriptor); }
}
function run() {
  const source = new Database(workerData.sourcePath, { readonly: true, fileMustExist: true, timeout: workerData.busyTimeoutMs });
  try {
    source.prepare('VACUUM INTO ?').run(workerData.targetPath);
  } finally {
    source.close();
  }
  const copy = new Database(workerData.targetPath, { fileMustExist: true });
  let appliedIndex;
  try {
    copy.pragma('journal_mode = DELETE');
    appliedIndex = Number(copy.prepare('SELECT applied_index FROM ' + workerData.stateTable + ' WHERE id = 1').pluck().safeIntegers(true).get());
  } finally {
    copy.close();
  }
  fsyncPath(workerData.targetPath, 'r+');
  fs.renameSync(workerData.targetPath, workerData.finalPath);
  fsyncPath(require('node:path').dirname(workerData.finalPath), 'r');
  return appliedIndex;
}
try {
  parentPort.postMessage({ appliedIndex: run() });
} catch (error) {
  parentPort.postMessage({ error: String(error && error.message || error) });
}
`;

/**
 * Copies the database at `sourcePath` to `targetPath` in a worker, then renames it to
 * `finalPath` (durably: file and directory fsynced); resolves to the copy's applied index.
 */
export function writeSnapshotInWorker(sourcePath: string, targetPath: string, finalPath: string, busyTimeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(workerSource, {
      eval: true,
      workerData: { sourcePath, targetPath, finalPath, busyTimeoutMs, stateTable, betterSqlitePath: require.resolve('better-sqlite3') },
    });
    let settled = false;
    worker.once('message', (message: { appliedIndex?: number; error?: string }) => {
      settled = true;
      if (message.error !== undefined || message.appliedIndex === undefined || !Number.isSafeInteger(message.appliedIndex)) {
        reject(new StateMachineError('BAD_SNAPSHOT', `snapshot failed: ${message.error ?? 'no applied index in the copy'}`));
      } else {
        resolve(message.appliedIndex);
      }
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new StateMachineError('BAD_SNAPSHOT', `snapshot worker exited with code ${code} before answering`));
    });
  });
}
