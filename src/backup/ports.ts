/**
 * What the backup layer needs from the node, and nothing more (the composition root,
 * src/server/node-backups.ts, wires the real ones): leadership, the log's committed
 * entries, copies of the database, and a way to write through the log.
 */
import type { Statement } from '../state-machine/types.js';

export interface LogEntry {
  readonly index: number;
  readonly term: number;
  readonly type: 'normal' | 'conf-change';
  /** Empty for a new leader's no-op. */
  readonly data: Uint8Array;
}

/** This node's view of the log. */
export interface LogView {
  readonly isLeader: boolean;
  /** Every entry at or below it is committed, applied here and readable from the log (unless compacted). */
  readonly appliedIndex: number;
  /** The first entry still in the log (compaction drops older ones). */
  firstIndex(): number;
  /** Entries in [low, high), at least one; fewer when `bytesMax` is reached. Throws for compacted ones. */
  entries(low: number, high: number, bytesMax: number): readonly LogEntry[];
}

export interface DatabaseCopies {
  /** The user's database only (no internal state), as /db/backup serves it. */
  writeUserBackup(toPath: string): Promise<void>;
  /** A full snapshot (with the internal state a replay needs); resolves to the applied index it holds. */
  writeSnapshot(toPath: string): Promise<{ readonly appliedIndex: number }>;
  /** Settings a replay must share with the cluster. */
  readonly foreignKeys: boolean;
  /** File names of the SQLite extensions every connection loads. */
  readonly extensionNames: readonly string[];
  /** -db-count-max, when the node holds several databases (a replay needs it). */
  readonly databaseCountMax?: number;
}

/** Writes statements through the log as one transaction (auto-restore's load); throws on any failed statement. */
export type ExecuteThroughLog = (statements: readonly Statement[], requestId: string) => Promise<void>;

export interface BackupLogger {
  debug(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  error(fields: Record<string, unknown>, message: string): void;
}

/** Wall-clock time and cancellable sleeps; tests pass their own. */
export interface BackupClock {
  nowMs(): number;
  /** Resolves after `delayMs`, or at once when `signal` aborts. */
  sleep(delayMs: number, signal: AbortSignal): Promise<void>;
}

export const systemClock: BackupClock = {
  nowMs: () => Date.now(),
  sleep: (delayMs, signal) =>
    new Promise((resolve) => {
      if (signal.aborted) {
        resolve();
        return;
      }
      const timer = setTimeout(done, delayMs);
      function done(): void {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        resolve();
      }
      signal.addEventListener('abort', done, { once: true });
    }),
};
