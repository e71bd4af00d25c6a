/**
 * What every worker-thread body (snapshot-worker-thread.ts, snapshot-chain-tasks.ts,
 * transfer-worker-thread.ts) needs alike: a connection with the node's SQLite extensions
 * loaded, and a failure turned into an answer. A thread loads this file too, so it
 * imports only better-sqlite3 and relies on neither import.meta nor top-level await.
 */
import Database from 'better-sqlite3';

/** Opens a connection with the extensions loaded (closed again if one fails). */
export function openWithExtensions(path: string, options: Database.Options, extensionPaths: readonly string[] = []): Database.Database {
  const database = new Database(path, options);
  try {
    for (const extensionPath of extensionPaths) database.loadExtension(extensionPath);
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

/** A failed task's answer: the message, and the error's code (`ENOSPC`, `SQLITE_FULL`) when it has one. */
export interface FailureAnswer {
  readonly error: string;
  readonly code?: string;
}

/** A task's failure as its answer, so the parent always hears back (an empty message is replaced by the value's text). */
export function failureAnswer(error: unknown): FailureAnswer {
  const message = error instanceof Error && error.message !== '' ? error.message : String(error);
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? { error: message, code } : { error: message };
}
