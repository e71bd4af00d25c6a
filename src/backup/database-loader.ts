/**
 * Loads a SQLite file into the cluster through the log (auto-restore's install step; rqlite
 * loads the file through Raft as well): the file's SQL dump, as /db/backup?fmt=sql makes
 * it (tables and rows, sqlite_sequence, then indexes, triggers and views), sent as
 * writes in transactions of bounded size, so every node applies the same statements at
 * the same indexes. The dump's own PRAGMA foreign_keys, BEGIN and COMMIT are left out
 * (writes may not hold them; each batch is a transaction of its own). Each batch carries
 * a request id, so a batch sent again after an unclear failure applies once.
 */
import { dumpLines } from '../state-machine/dump.js';
import { noNamedParameters } from '../state-machine/command-codec.js';
import type { Statement } from '../state-machine/types.js';
import type { ExecuteThroughLog } from './ports.js';

/** A batch stays well under one log entry's bound (8 MiB by default). */
const batchBytesMax = 1024 * 1024;
const batchStatementCountMax = 1000;
const dumpControlLines = new Set(['PRAGMA foreign_keys=OFF;', 'BEGIN TRANSACTION;', 'COMMIT;']);

interface LoadOutcome {
  readonly statementCount: number;
  readonly batchCount: number;
}

export async function loadDatabaseFile(path: string, execute: ExecuteThroughLog, requestIdPrefix: string): Promise<LoadOutcome> {
  let batch: Statement[] = [];
  let batchBytes = 0;
  let statementCount = 0;
  let batchCount = 0;
  const send = async (): Promise<void> => {
    if (batch.length === 0) return;
    await execute(batch, `${requestIdPrefix}-${batchCount}`);
    batchCount += 1;
    batch = [];
    batchBytes = 0;
  };
  for (const line of dumpLines(path)) {
    if (dumpControlLines.has(line)) continue;
    if (batch.length >= batchStatementCountMax || (batch.length > 0 && batchBytes + line.length > batchBytesMax)) await send();
    batch.push({ sql: line, positional: [], named: noNamedParameters });
    batchBytes += line.length;
    statementCount += 1;
  }
  await send();
  return { statementCount, batchCount };
}
