/**
 * The child process behind reads with a deadline (timed-reads.ts). It opens its own
 * read-only connection and runs one request at a time through the same StatementRunner
 * (same policy, same row bound, same result shapes) as the main read path, answering
 * each statement's result as soon as it has it. It never checks the deadline itself:
 * the parent kills it when the deadline passes. It exits when the parent goes away.
 *
 * Its settings arrive as JSON in argv[2]; messages use Node's advanced IPC serialization
 * (bigints and byte arrays cross as they are).
 */
import { openReadConnection } from './connections.js';
import { isEnvironmentalError, StatementRunner } from './statement-runner.js';
import type { Statement, StatementResult } from './types.js';

export interface TimedReadProcessSettings {
  readonly path: string;
  readonly busyTimeoutMs: number;
  readonly statementCacheCountMax: number;
  readonly resultRowCountMax: number;
}

/** Parent to child: one read request. */
export interface TimedReadJob {
  readonly statements: readonly Statement[];
  readonly transaction: boolean;
  readonly timings: boolean;
  readonly qualifyColumns: boolean;
}

/** Child to parent: ready once, then per job one result per statement and `done`, or `failed`. */
export type TimedReadAnswer =
  | { readonly kind: 'ready' }
  | { readonly kind: 'result'; readonly result: StatementResult }
  | { readonly kind: 'done' }
  | { readonly kind: 'failed'; readonly message: string };

function answer(message: TimedReadAnswer): void {
  process.send?.(message);
}

function start(settings: TimedReadProcessSettings): void {
  const database = openReadConnection(settings.path, settings.busyTimeoutMs);
  const runner = new StatementRunner(database, {
    purpose: 'read',
    statementCacheCountMax: settings.statementCacheCountMax,
    resultRowCountMax: settings.resultRowCountMax,
  });
  process.on('message', (job: TimedReadJob) => {
    try {
      if (job.transaction) database.exec('BEGIN');
      try {
        for (const statement of job.statements) answer({ kind: 'result', result: runner.run(statement, job.timings, job.qualifyColumns) });
      } finally {
        if (job.transaction) database.exec('COMMIT');
      }
      answer({ kind: 'done' });
    } catch (error) {
      // Environmental failures (a busy or unreadable file) fail the read; SQL errors are results already.
      const message = error instanceof Error ? error.message : String(error);
      answer({ kind: 'failed', message: isEnvironmentalError(error) ? `${error.code}: ${message}` : message });
    }
  });
  answer({ kind: 'ready' });
}

process.on('disconnect', () => process.exit(0));
try {
  start(JSON.parse(process.argv[2] ?? '{}') as TimedReadProcessSettings);
} catch (error) {
  const failed: TimedReadAnswer = { kind: 'failed', message: error instanceof Error ? error.message : String(error) };
  process.send?.(failed, () => process.exit(1));
}
