/**
 * Opening and closing everything a state machine holds open: the database and its
 * internal store as one consistent pair (database-layout.ts), the read connection, and
 * the statement runners on both connections.
 */
import type { ApplyConnectionSettings, Connections } from './connections.js';
import { openReadConnection, prepareControl } from './connections.js';
import { openDatabasePair, type OpenEvent } from './database-layout.js';
import type { DeterministicFunctions } from './deterministic-functions.js';
import { StatementRunner } from './statement-runner.js';
import { TransactionPreviews } from './transaction-preview.js';

interface MachineConnectionSettings extends ApplyConnectionSettings {
  readonly readerBusyTimeoutMs: number;
  readonly statementCacheCountMax: number;
  readonly resultRowCountMax: number;
}

interface OpenedConnections {
  readonly connections: Connections;
  /** The database's applied index, with the internal store brought to it. */
  readonly appliedIndex: number;
  /** The store's last commit the database saw. */
  readonly storeIndex: number;
  readonly event: OpenEvent;
}

export function openConnections(path: string, settings: MachineConnectionSettings, functions: DeterministicFunctions | undefined): OpenedConnections {
  const opened = openDatabasePair(path, settings);
  const { apply, store } = opened;
  try {
    functions?.register(apply);
    const read = openReadConnection(path, settings.readerBusyTimeoutMs, settings);
    const runnerOptions = { statementCacheCountMax: settings.statementCacheCountMax, resultRowCountMax: settings.resultRowCountMax };
    const connections: Connections = {
      apply,
      read,
      control: prepareControl(apply),
      store,
      applyRunner: new StatementRunner(apply, { purpose: 'write', ...runnerOptions }),
      readRunner: new StatementRunner(read, { purpose: 'read', ...runnerOptions }),
      previews: new TransactionPreviews(path, { ...runnerOptions, foreignKeys: settings.foreignKeys, extensionPaths: settings.extensionPaths }, functions),
    };
    return { connections, appliedIndex: opened.appliedIndex, storeIndex: opened.storeIndex, event: opened.event };
  } catch (error) {
    store.close();
    apply.close();
    throw error;
  }
}

/**
 * Closes the preview connection, the database, the store and the read connection, each even if an earlier close
 * failed. First every WAL frame is copied into the database file (a checkpoint that does
 * not start the WAL again), so the file alone holds everything once the node is stopped;
 * then the database closes while the read connection still holds the file: SQLite would
 * otherwise delete the WAL as the last connection that can write closes, and the next
 * snapshot's delta needs every frame since the previous snapshot (snapshot-capture.ts).
 * The read connection is read-only: it never checkpoints nor deletes the WAL.
 */
export function closeConnections(connections: Connections): void {
  // First: the preview connection must never be the last one to the file (it would checkpoint and delete the WAL).
  try {
    connections.previews.close();
  } catch {
    // A failed close leaves nothing of the database's: the preview never commits.
  }
  try {
    connections.apply.pragma('wal_checkpoint(PASSIVE)');
    // A connection holds its lock on the file only once it has read: read, so it holds it now.
    connections.read.pragma('schema_version');
  } catch {
    // Then the WAL may be checkpointed at close: the next snapshot is a base, nothing worse.
  }
  try {
    connections.apply.close();
  } finally {
    try {
      connections.store.close();
    } finally {
      connections.read.close();
    }
  }
}

/** Rolls back whatever transaction either file has open; a failure is followed by a reopen, which reconciles the pair. */
export function rollbackQuietly(connections: Connections): void {
  const rollbacks = [() => connections.apply.inTransaction && connections.control.rollback.run(), () => connections.store.rollback()];
  for (const rollback of rollbacks) {
    try {
      rollback();
    } catch {}
  }
}
