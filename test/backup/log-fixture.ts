/**
 * A node's log and database for backup unit tests, without Raft: a real SqliteStateMachine
 * and the committed entries it applied, held in memory as the node's log would hold
 * them (commands with leader times and seeds, no-ops, membership changes). The backup
 * code reads it through the same ports as on a node (src/backup/ports.ts).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { encodeCommand } from '../../src/state-machine/command-codec.js';
import { encodeLoadEntry, isLoadEntry } from '../../src/state-machine/load-entries.js';
import { MultiDatabaseMachine } from '../../src/state-machine/multi-database-machine.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { SqlValue } from '../../src/state-machine/types.js';
import type { BackupClock, BackupLogger, DatabaseCopies, LogEntry, LogView } from '../../src/backup/ports.js';

export class FixtureLog implements LogView {
  isLeader = true;
  readonly held: LogEntry[] = [];
  /** Entries before this index are "compacted". */
  firstIndexValue = 1;
  readonly #machine: SqliteStateMachine;

  constructor(machine: SqliteStateMachine) {
    this.#machine = machine;
  }

  get appliedIndex(): number {
    return this.#machine.appliedIndex;
  }

  firstIndex(): number {
    return this.firstIndexValue;
  }

  entries(low: number, high: number): readonly LogEntry[] {
    if (low < this.firstIndexValue) throw new Error(`entry ${low} compacted`);
    return this.held.slice(low - 1, high - 1);
  }
}

export interface Fixture {
  readonly directory: string;
  readonly machine: SqliteStateMachine;
  readonly log: FixtureLog;
  readonly database: DatabaseCopies;
  /** Applies one command (as the leader at `timeMs`, with an idempotency key when given); returns its index. */
  write(sql: string, positional?: readonly SqlValue[], timeMs?: number, requestId?: string): number;
  /** A new leader's no-op. */
  noop(): number;
  /** A membership change entry. */
  confChange(): number;
  /** A /db/load of `file` through the log, as the node writes it: chunks of `chunkBytes`, then the commit. Returns the commit's index. */
  load(file: Uint8Array, chunkBytes: number): Promise<number>;
  /** Any entry's data as it is (a load's through the loads, as the node applies it); returns its index. */
  appendEntry(data: Uint8Array): Promise<number>;
  term: number;
  close(): void;
}

/** `databaseCountMax`: the node's machine of several databases (MultiDatabaseMachine) with that bound; absent, one database. */
export function createFixture(prefix = 'quorumlite-backup-', databaseCountMax?: number): Fixture {
  const directory = mkdtempSync(join(tmpdir(), prefix));
  const path = join(directory, 'db.sqlite');
  const machine = databaseCountMax === undefined ? new SqliteStateMachine({ path }) : new MultiDatabaseMachine({ path, databaseCountMax });
  const log = new FixtureLog(machine);
  let seed = 7n;
  const append = (type: LogEntry['type'], data: Uint8Array): number => {
    const index = log.held.length + 1;
    log.held.push({ index, term: fixture.term, type, data });
    if (type === 'normal' && data.length > 0) machine.apply(index, data);
    else machine.applyNoop(index);
    return index;
  };
  const fixture: Fixture = {
    directory,
    machine,
    log,
    term: 1,
    database: {
      writeUserBackup: async (toPath) => {
        await machine.backup(toPath);
      },
      writeSnapshot: (toPath) => machine.snapshot(toPath),
      foreignKeys: false,
      extensionNames: [],
      ...(databaseCountMax === undefined ? {} : { databaseCountMax }),
    },
    write: (sql, positional = [], timeMs = Date.now(), requestId = undefined) => {
      seed = (seed * 6364136223846793005n + 1442695040888963407n) % 2n ** 64n;
      const statements = [{ sql, positional, named: {} }];
      const data = encodeCommand({ statements, transaction: false, timestampMs: timeMs, seed, ...(requestId === undefined ? {} : { requestId }) });
      return append('normal', data);
    },
    noop: () => append('normal', new Uint8Array(0)),
    confChange: () => append('conf-change', new Uint8Array([1, 2, 3])),
    load: async (file, chunkBytes) => {
      const loadId = randomBytes(16).toString('hex');
      const entries: Uint8Array[] = [];
      for (let offset = 0; offset < file.byteLength; offset += chunkBytes) {
        entries.push(encodeLoadEntry({ kind: 'chunk', loadId, offset, data: file.subarray(offset, offset + chunkBytes) }));
      }
      entries.push(encodeLoadEntry({ kind: 'commit', loadId, totalBytes: file.byteLength }));
      for (const data of entries) {
        const index = log.held.length + 1;
        log.held.push({ index, term: fixture.term, type: 'normal', data });
        await machine.loads.apply([{ index, data }]);
      }
      return log.held.length;
    },
    appendEntry: async (data) => {
      if (!isLoadEntry(data)) return append('normal', data);
      const index = log.held.length + 1;
      log.held.push({ index, term: fixture.term, type: 'normal', data });
      await machine.loads.apply([{ index, data }]);
      return index;
    },
    close: () => {
      machine.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
  return fixture;
}

export interface RecordedLine {
  readonly level: string;
  readonly fields: Record<string, unknown>;
  readonly message: string;
}

export function recordingLogger(): BackupLogger & { readonly lines: RecordedLine[] } {
  const lines: RecordedLine[] = [];
  const record = (level: string) => (fields: Record<string, unknown>, message: string) => void lines.push({ level, fields, message });
  return { lines, debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error') };
}

/** A clock whose time the test sets; sleeps resolve at once (the test drives the turns). */
export function manualClock(startMs: number): BackupClock & { nowMsValue: number } {
  const clock = {
    nowMsValue: startMs,
    nowMs: () => clock.nowMsValue,
    sleep: async () => undefined,
  };
  return clock;
}
