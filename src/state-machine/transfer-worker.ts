/**
 * Backup copies and load checks on a worker thread (transfer-worker-thread.ts), so the
 * event loop keeps ticking Raft and answering reads while a large file is copied or
 * checked. Started like the snapshot worker (snapshot-worker.ts: built `.js`, or the
 * `.ts` source through tsx in tests and benches).
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ContentChecksum } from './checksum.js';
import { StateMachineError } from './errors.js';
import { internalNamePrefix } from './sql-policy.js';
import { firstAnswer, workerFailure } from './snapshot-worker.js';
import type { TransferAnswer, TransferTask, TransferWorkerData } from './transfer-worker-thread.js';

const transferWorkerUrl = new URL(`./transfer-worker-thread${extname(fileURLToPath(import.meta.url))}`, import.meta.url);

async function runWorker(task: TransferTask): Promise<Extract<TransferAnswer, { readonly ok: true }>> {
  const answer = await firstAnswer<TransferAnswer>({ transferTask: task } satisfies TransferWorkerData, transferWorkerUrl, `${task.kind} worker`);
  if ('error' in answer) throw workerFailure(undefined, answer);
  return answer;
}

/** The content checksum (checksum.ts) of the live database at `path`, read on a worker thread. */
export async function checksumInWorker(
  path: string,
  settings: { readonly readerBusyTimeoutMs: number; readonly extensionPaths: readonly string[]; readonly appliedIndexHint: number },
): Promise<ContentChecksum> {
  const { readerBusyTimeoutMs, extensionPaths, appliedIndexHint } = settings;
  const answer = await runWorker({ kind: 'checksum', path, busyTimeoutMs: readerBusyTimeoutMs, extensionPaths, appliedIndexHint });
  if (answer.checksum === undefined) throw new StateMachineError('BAD_SNAPSHOT', 'the checksum worker answered without a checksum');
  return answer.checksum;
}

/**
 * A consistent page-for-page copy of the live database at `sourcePath` into `targetPath`
 * (a new file): what /db/backup serves when not asked to vacuum. The copy keeps the
 * source's header as it is (WAL mode, the applied-index marker): the server rewrites
 * those bytes as it streams the file (sqlite-header.ts).
 */
export async function copyDatabase(
  sourcePath: string,
  targetPath: string,
  settings: { readonly readerBusyTimeoutMs: number; readonly extensionPaths: readonly string[] },
): Promise<void> {
  await runWorker({ kind: 'copy', sourcePath, targetPath, busyTimeoutMs: settings.readerBusyTimeoutMs, extensionPaths: settings.extensionPaths });
}

/** Rejects (BAD_SNAPSHOT, saying why) unless the SQLite file at `path` may be loaded: whole, and free of reserved names. */
export async function checkLoadableDatabase(path: string, extensionPaths: readonly string[]): Promise<void> {
  await runWorker({ kind: 'check', path, extensionPaths, reservedPrefix: internalNamePrefix });
}
