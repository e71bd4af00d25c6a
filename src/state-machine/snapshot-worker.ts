/**
 * Snapshot file work off the main thread, so the event loop (reads, Raft ticks) keeps
 * running while large files are copied, checked and fsynced.
 *
 * - writing: a worker opens its own read-only connection and runs VACUUM INTO (one read
 *   transaction: a consistent copy at one applied index, never blocking the apply
 *   connection thanks to WAL), makes the copy a self-contained rollback-journal file,
 *   reads its applied index, fsyncs it and renames it into place (directory fsynced);
 * - staging for restore: a worker copies the shipped file beside the database, runs
 *   quick_check, makes it a rollback-journal file, reads its applied index and fsyncs it;
 * - backup: as writing, without the internal state, application_id 0;
 * - chain tasks (snapshot-chain-tasks.ts): the file work of captures and folds runs on one
 *   long-lived thread (`ChainWorker`), one task after another; materialising a chain
 *   (a whole database's bytes) gets a thread of its own, as the tasks above do.
 * Every connection to a copy loads the node's SQLite extensions (a schema may use them).
 *
 * The thread runs snapshot-worker-thread, loaded as a file beside this one: the
 * compiled `.js` from dist/, or the `.ts` source when this module itself runs as
 * TypeScript (tests, benches and the simulator run the source through tsx).
 */
import { createRequire } from 'node:module';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { isRefusalCode, StateMachineError } from './errors.js';
import { legacySchema, maintenanceTable, requestsTable, stateTable } from './connections.js';
import { markerIndexBits } from './applied-marker.js';
import { coveredRangeSql, liveMaintenanceAtSql, liveRequestsAtSql } from './internal-store.js';
import type { ChainTask } from './snapshot-chain-tasks.js';
import type { ChainTaskAnswer, InternalStateSource, SnapshotAnswer, SnapshotTask, SnapshotWorkerData } from './snapshot-worker-thread.js';
import type { FailureAnswer } from './worker-thread-tools.js';

const ownExtension = extname(fileURLToPath(import.meta.url));

/** The worker's file, with this module's own extension (`.js` when built, `.ts` from source). */
export const snapshotWorkerUrl = new URL(`./snapshot-worker-thread${ownExtension}`, import.meta.url);

/**
 * Built, the worker file runs as it is. From source, the thread must register the
 * TypeScript loader itself before loading the worker file: Node 20 does not carry a
 * process's `--import` loader into worker threads (and tsx's own entry skips them).
 * tsx's require hook is used rather than its ESM hooks, which start a hooks thread per
 * worker (about three times slower to start); so the worker file must not rely on
 * import.meta or top-level await.
 */
function startWorker(workerData: unknown, workerUrl: URL = snapshotWorkerUrl): Worker {
  if (ownExtension !== '.ts') return new Worker(workerUrl, { workerData, resourceLimits });
  const loaderPath = createRequire(import.meta.url).resolve('tsx/cjs/api');
  const bootstrap = `require(${JSON.stringify(loaderPath)}).register(); require(${JSON.stringify(fileURLToPath(workerUrl))});`;
  return new Worker(bootstrap, { eval: true, workerData, resourceLimits });
}

/**
 * A file worker's objects are short-lived and its bytes live in Buffers outside the heap,
 * so a small young generation serves it; V8's default would let each thread's grow to 32 MiB.
 */
const resourceLimits = { maxYoungGenerationSizeMb: 4 };

/**
 * Starts a thread that answers with one message; resolves to that message. Rejects with
 * the thread's error, or (BAD_SNAPSHOT, `<exitLabel> exited with code …`) when it ends
 * without answering.
 */
export function firstAnswer<Answer>(workerData: unknown, workerUrl: URL, exitLabel: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const worker = startWorker(workerData, workerUrl);
    let settled = false;
    worker.once('message', (message: Answer) => {
      settled = true;
      resolve(message);
    });
    worker.once('error', (error) => {
      settled = true;
      reject(error);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new StateMachineError('BAD_SNAPSHOT', `${exitLabel} exited with code ${code} before answering`));
    });
  });
}

/**
 * A worker's failure as the error to throw: ENVIRONMENT when its code says the disk or
 * the system refused (the same task may succeed later: a node halts and retries), else
 * BAD_SNAPSHOT naming `failure` (none: the worker's message alone).
 */
export function workerFailure(failure: string | undefined, answer: FailureAnswer): StateMachineError {
  if (answer.code !== undefined && isRefusalCode(answer.code)) {
    // Not the file's fault: say what refused rather than `failure` (which may call the file unusable).
    return new StateMachineError('ENVIRONMENT', `the disk or the system refused (${answer.code}): ${answer.error}`);
  }
  return new StateMachineError('BAD_SNAPSHOT', failure === undefined ? answer.error : `${failure}: ${answer.error}`);
}

/** Runs one task on a thread of its own; resolves to its answer, rejects with workerFailure's error naming `failure`. */
async function runTask(task: SnapshotTask, failure: string): Promise<SnapshotAnswer> {
  const answer = await firstAnswer<SnapshotAnswer>({ snapshotTask: task } satisfies SnapshotWorkerData, snapshotWorkerUrl, `${failure}: worker`);
  if ('error' in answer) throw workerFailure(failure, answer);
  return answer;
}

async function runWorker(task: SnapshotTask, failure: string): Promise<number> {
  const answer = await runTask(task, failure);
  if (!('appliedIndex' in answer) || !Number.isSafeInteger(answer.appliedIndex)) throw new StateMachineError('BAD_SNAPSHOT', `${failure}: no applied index`);
  return answer.appliedIndex;
}

/** Runs a chain task (snapshot-chain-tasks.ts) on a worker thread of its own; resolves to what it returned. */
export async function runChainTaskInWorker(task: ChainTask, failure: string): Promise<unknown> {
  const answer = await runTask(task, failure);
  if (!('value' in answer)) throw new StateMachineError('BAD_SNAPSHOT', `${failure}: no answer`);
  return answer.value;
}

/** How long a chain worker waits for its next task before its thread ends (captures come every few seconds at most). */
const chainWorkerIdleMs = 60_000;

interface PendingTask {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly failure: string;
}

/**
 * One long-lived thread for the small, frequent tasks of captures and folds, one after
 * another: starting a thread (and SQLite in it) costs more than copying most deltas. The
 * thread ends after chainWorkerIdleMs without tasks, or at close(); it never keeps the
 * process alive. A thread that dies fails its tasks; the next task starts another.
 */
export class ChainWorker {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, PendingTask>();
  #nextId = 0;
  #idleTimer: NodeJS.Timeout | undefined;

  run(task: ChainTask, failure: string): Promise<unknown> {
    const worker = this.#started();
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject, failure });
      worker.postMessage({ id, task });
    });
  }

  close(): void {
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#idleTimer = undefined;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new Error('the state machine closed'));
    void worker?.terminate();
  }

  #started(): Worker {
    if (this.#worker !== undefined) return this.#worker;
    const worker = startWorker({ chainTasks: true });
    worker.unref();
    worker.on('message', (message: ChainTaskAnswer) => this.#answer(message));
    worker.once('error', (error) => this.#lost(worker, error));
    worker.once('exit', (code) => this.#lost(worker, new Error(`worker exited with code ${code}`)));
    this.#worker = worker;
    return worker;
  }

  #answer(message: ChainTaskAnswer): void {
    const pending = this.#pending.get(message.id);
    this.#pending.delete(message.id);
    if (pending !== undefined) {
      const answer = message.answer;
      if ('value' in answer) pending.resolve(answer.value);
      else pending.reject('error' in answer ? workerFailure(pending.failure, answer) : new StateMachineError('BAD_SNAPSHOT', `${pending.failure}: no answer`));
    }
    if (this.#pending.size === 0 && this.#worker !== undefined) {
      this.#idleTimer = setTimeout(() => this.close(), chainWorkerIdleMs);
      this.#idleTimer.unref();
    }
  }

  #lost(worker: Worker, error: Error): void {
    if (this.#worker !== worker) return;
    this.#worker = undefined;
    this.#failAll(error);
  }

  #failAll(error: Error): void {
    for (const pending of this.#pending.values()) pending.reject(new StateMachineError('BAD_SNAPSHOT', `${pending.failure}: ${error.message}`));
    this.#pending.clear();
  }
}

/**
 * Copies the database at `sourcePath` to `targetPath` in a worker, then renames it to
 * `finalPath` (durably: file and directory fsynced); resolves to the copy's applied index.
 * With `internal` (the internal store beside the database, and the applied index when the
 * snapshot started), the copy also gets the store's state at its own index, as the old
 * layout's tables; without it the database must hold those tables itself.
 */
export function writeSnapshotInWorker(
  sourcePath: string,
  targetPath: string,
  finalPath: string,
  busyTimeoutMs: number,
  options: { readonly extensionPaths?: readonly string[]; readonly internal?: { readonly path: string; readonly appliedIndexHint: number } } = {},
): Promise<number> {
  const internal = options.internal;
  const source: InternalStateSource | undefined =
    internal === undefined
      ? undefined
      : {
          ...internal,
          markerIndexBits,
          coveredRangeSql,
          legacySchema,
          insertAppliedIndexSql: `INSERT INTO ${stateTable} (id, applied_index) VALUES (1, ?)`,
          carriedTables: [
            { liveAtSql: liveRequestsAtSql, insertSql: `INSERT INTO ${requestsTable} (request_id, sequence, timestamp_ms, result) VALUES (?, ?, ?, ?)` },
            { liveAtSql: liveMaintenanceAtSql, insertSql: `INSERT INTO ${maintenanceTable} (kind, timestamp_ms) VALUES (?, ?)` },
          ],
        };
  const task: SnapshotTask = {
    kind: 'write',
    sourcePath,
    targetPath,
    finalPath,
    busyTimeoutMs,
    stateTable,
    extensionPaths: options.extensionPaths ?? [],
    ...(source === undefined ? {} : { internal: source }),
  };
  return runWorker(task, 'snapshot failed');
}

/** Copies the user's database to `targetPath` and renames it to `finalPath`, durably: only the user's objects. */
export async function writeBackupInWorker(
  sourcePath: string,
  targetPath: string,
  finalPath: string,
  busyTimeoutMs: number,
  extensionPaths: readonly string[],
): Promise<void> {
  await runWorker({ kind: 'backup', sourcePath, targetPath, finalPath, busyTimeoutMs, extensionPaths }, 'backup failed');
}

/** Copies a shipped snapshot to `targetPath`, checks it and fsyncs it; resolves to its applied index. */
export function stageSnapshotInWorker(sourcePath: string, targetPath: string, extensionPaths: readonly string[] = []): Promise<number> {
  return runWorker({ kind: 'stage', sourcePath, targetPath, stateTable, extensionPaths }, `not a usable snapshot: ${sourcePath}`);
}
