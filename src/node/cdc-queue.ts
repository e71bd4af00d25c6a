/**
 * The node's CDC queue (as rqlite's disk-backed FIFO): every node, follower or leader,
 * records the changes of each entry it applies, in a SQLite file of its own, before the
 * entry commits to the database (ChangeSink). The high-water mark is the last index the
 * endpoint acknowledged, as the leader last told this node; entries up to it are pruned.
 * A new leader sends from its own mark on: duplicates are possible (at least once), loss
 * and reordering are not. Bounded: past `entryCountMax` queued entries the oldest are
 * dropped and counted (the endpoint has been failing for that long). A snapshot install
 * leaves a gap (the entries it covers were never applied here): read() stops before it
 * until the leader's sender fills it from the members (serveRange) or skips it, loudly.
 */
import Database from 'better-sqlite3';
import type { CapturedEntry, ChangeSink, RowChange } from '../state-machine/change-capture.js';

interface CdcQueueSettings {
  readonly path: string;
  /** Entries (log indexes with changes) queued at most; the oldest go beyond it. */
  readonly entryCountMax: number;
}

export const cdcQueueEntryCountMax = 1_000_000;

/** One queued entry: its index and its payload element, rendered as rqlite's JSON. */
export interface QueuedChanges {
  readonly index: number;
  readonly json: string;
}

/** Log indexes firstIndex..lastIndex (inclusive) whose changes this node never queued. */
export interface QueueGap {
  readonly firstIndex: number;
  readonly lastIndex: number;
}

/** What a peer gives for a gap: its entries in the range, complete through `completeThrough`. */
export interface ServedRange {
  readonly entries: readonly QueuedChanges[];
  readonly completeThrough: number;
}

export class CdcQueue implements ChangeSink {
  readonly #database: Database.Database;
  readonly #entryCountMax: number;
  #highWaterMark: number;
  #depth: number;
  #lastRecordedIndex: number;
  /** Entries dropped at the bound since the node started. */
  droppedEntryCount = 0;
  #waiters: (() => void)[] = [];

  constructor(settings: CdcQueueSettings) {
    this.#entryCountMax = settings.entryCountMax;
    this.#database = new Database(settings.path);
    this.#database.pragma('journal_mode = WAL');
    // Recorded before the database commits, so a power loss loses nothing the database kept.
    this.#database.pragma('synchronous = FULL');
    this.#database.exec('CREATE TABLE IF NOT EXISTS entries (entry_index INTEGER PRIMARY KEY, json TEXT NOT NULL)');
    this.#database.exec('CREATE TABLE IF NOT EXISTS marks (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID');
    // Indexes this node never applied (a snapshot install covered them): filled from peers by the leader's sender.
    this.#database.exec('CREATE TABLE IF NOT EXISTS gaps (first_index INTEGER PRIMARY KEY, last_index INTEGER NOT NULL)');
    const mark = this.#database.prepare(`SELECT value FROM marks WHERE name = 'high_water_mark'`).pluck().get() as number | undefined;
    this.#highWaterMark = mark ?? 0;
    this.#depth = this.#database.prepare('SELECT count(*) FROM entries WHERE entry_index > ?').pluck().get(this.#highWaterMark) as number;
    this.#lastRecordedIndex = (this.#database.prepare('SELECT max(entry_index) FROM entries').pluck().get() as number | null) ?? 0;
  }

  get highWaterMark(): number {
    return this.#highWaterMark;
  }

  /** Entries queued above the high-water mark. */
  get depth(): number {
    return this.#depth;
  }

  record(firstIndex: number, lastIndex: number, entries: readonly CapturedEntry[]): void {
    const stale = this.#lastRecordedIndex >= firstIndex;
    if (entries.length === 0 && !stale) return;
    const write = this.#database.transaction(() => {
      // An entry applied again (after a crash or a failed commit) replaces what it recorded.
      if (stale) this.#depth -= this.#database.prepare('DELETE FROM entries WHERE entry_index BETWEEN ? AND ?').run(firstIndex, lastIndex).changes;
      const insert = this.#database.prepare('INSERT INTO entries (entry_index, json) VALUES (?, ?)');
      for (const captured of entries) {
        if (captured.index <= this.#highWaterMark) continue;
        insert.run(captured.index, renderEntry(captured));
        this.#depth += 1;
      }
      if (this.#depth > this.#entryCountMax) this.#dropOldest(this.#depth - this.#entryCountMax);
    });
    write();
    this.#lastRecordedIndex = lastIndex;
    if (entries.length > 0) for (const wake of this.#waiters.splice(0)) wake();
  }

  #dropOldest(count: number): void {
    const dropped = this.#database
      .prepare('DELETE FROM entries WHERE entry_index IN (SELECT entry_index FROM entries WHERE entry_index > ? ORDER BY entry_index LIMIT ?)')
      .run(this.#highWaterMark, count).changes;
    this.#depth -= dropped;
    this.droppedEntryCount += dropped;
  }

  /**
   * Queued entries after `afterIndex`, in index order, up to the first gap (what follows
   * it waits until the gap is filled or skipped): at most `entryCountMax`, and past
   * `bytesMax` only the first.
   */
  read(afterIndex: number, entryCountMax: number, bytesMax: number): QueuedChanges[] {
    const gap = this.firstGap();
    const rows = this.#database
      .prepare('SELECT entry_index AS "index", json FROM entries WHERE entry_index > ? AND entry_index < ? ORDER BY entry_index LIMIT ?')
      .all(Math.max(afterIndex, this.#highWaterMark), gap?.firstIndex ?? Number.MAX_SAFE_INTEGER, entryCountMax) as QueuedChanges[];
    return withinBytes(rows, bytesMax);
  }

  /**
   * The state machine replaced its database with a snapshot: the entries after
   * `appliedBefore` up to `restoredIndex` were never applied here, so never queued. What
   * the endpoint has not acknowledged of them is a gap (persisted at once).
   */
  restored(appliedBefore: number, restoredIndex: number): void {
    this.#database.transaction(() => {
      this.#database.prepare(`DELETE FROM marks WHERE name = 'restoring_from'`).run();
      const firstIndex = Math.max(appliedBefore, this.#highWaterMark) + 1;
      if (firstIndex > restoredIndex) return;
      this.#database
        .prepare(
          'INSERT INTO gaps (first_index, last_index) VALUES (?, ?) ON CONFLICT (first_index) DO UPDATE SET last_index = max(last_index, excluded.last_index)',
        )
        .run(firstIndex, restoredIndex);
    })();
    this.#lastRecordedIndex = Math.max(this.#lastRecordedIndex, restoredIndex);
  }

  /** A snapshot restore begins: noted first, so a crash before restored() is still a gap (resolvePendingRestore). */
  restoring(appliedBefore: number): void {
    this.#database.prepare(`INSERT OR REPLACE INTO marks (name, value) VALUES ('restoring_from', ?)`).run(appliedBefore);
  }

  /** At start, before entries apply: a restore noted but never finished here left the entries up to `appliedIndex` unqueued. */
  resolvePendingRestore(appliedIndex: number): void {
    const from = this.#database.prepare(`SELECT value FROM marks WHERE name = 'restoring_from'`).pluck().get() as number | undefined;
    if (from !== undefined) this.restored(from, appliedIndex);
  }

  /** The lowest gap above the high-water mark. */
  firstGap(): QueueGap | undefined {
    const row = this.#database.prepare('SELECT first_index, last_index FROM gaps ORDER BY first_index LIMIT 1').get() as
      | { first_index: number; last_index: number }
      | undefined;
    return row === undefined ? undefined : { firstIndex: row.first_index, lastIndex: row.last_index };
  }

  /** A peer's entries for the gap at `gap.firstIndex`, complete through `throughIndex`: queued, and the gap shrinks to what is left. */
  fillGap(gap: QueueGap, entries: readonly QueuedChanges[], throughIndex: number): void {
    this.#database.transaction(() => {
      this.#database.prepare('DELETE FROM gaps WHERE first_index = ?').run(gap.firstIndex);
      if (throughIndex < gap.lastIndex) this.#database.prepare('INSERT INTO gaps (first_index, last_index) VALUES (?, ?)').run(throughIndex + 1, gap.lastIndex);
      const insert = this.#database.prepare('INSERT OR REPLACE INTO entries (entry_index, json) VALUES (?, ?)');
      for (const entry of entries) {
        if (entry.index < gap.firstIndex || entry.index > throughIndex || entry.index <= this.#highWaterMark) continue;
        this.#depth += insert.run(entry.index, entry.json).changes;
      }
    })();
  }

  /** No peer had the gap's entries: the sender goes on past it (it logged and counted them). */
  skipGap(gap: QueueGap): void {
    this.#database.prepare('DELETE FROM gaps WHERE first_index = ?').run(gap.firstIndex);
  }

  /**
   * For a peer filling its gap: this node's entries after `afterIndex` through at most
   * `throughIndex`, and how far they are complete. Complete means every entry in the range
   * was applied here (at or below `appliedIndex`, outside this node's own gaps) or was
   * acknowledged by the endpoint (at or below the mark: pruned, never needed again).
   */
  serveRange(afterIndex: number, throughIndex: number, appliedIndex: number, bytesMax: number): ServedRange {
    if (this.#highWaterMark >= throughIndex) return { entries: [], completeThrough: throughIndex };
    const start = Math.max(afterIndex, this.#highWaterMark);
    const ownGap = this.#database.prepare('SELECT min(first_index) FROM gaps WHERE last_index > ?').pluck().get(start) as number | null;
    const limit = Math.min(throughIndex, appliedIndex, (ownGap ?? Number.MAX_SAFE_INTEGER) - 1);
    if (limit <= start) return { entries: [], completeThrough: start };
    const rows = this.#database
      .prepare('SELECT entry_index AS "index", json FROM entries WHERE entry_index > ? AND entry_index <= ? ORDER BY entry_index')
      .all(start, limit) as QueuedChanges[];
    const entries = withinBytes(rows, bytesMax);
    const complete = entries.length < rows.length ? (entries.at(-1) as QueuedChanges).index : limit;
    return { entries, completeThrough: complete };
  }

  /** The endpoint acknowledged everything up to `index` (this node sent it, or the leader said so). */
  advanceHighWaterMark(index: number): void {
    if (index <= this.#highWaterMark) return;
    this.#database.transaction(() => {
      this.#database
        .prepare(`INSERT INTO marks (name, value) VALUES ('high_water_mark', ?) ON CONFLICT (name) DO UPDATE SET value = excluded.value`)
        .run(index);
      // Nothing at or below the old mark is kept: what goes is what was queued.
      this.#depth -= this.#database.prepare('DELETE FROM entries WHERE entry_index <= ?').run(index).changes;
      // What the endpoint acknowledged is no gap any more.
      this.#database.prepare('DELETE FROM gaps WHERE last_index <= ?').run(index);
      this.#database.prepare('UPDATE gaps SET first_index = ? WHERE first_index <= ?').run(index + 1, index);
    })();
    this.#highWaterMark = index;
  }

  /** Resolves when an entry is recorded, or after `timeoutMs`. */
  waitForRecord(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, timeoutMs);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  /** Ends every waitForRecord() now (the sender stops). */
  wakeWaiters(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  close(): void {
    this.wakeWaiters();
    this.#database.close();
  }
}

/** The first rows whose JSON fits in `bytesMax` (at least one). */
function withinBytes(rows: readonly QueuedChanges[], bytesMax: number): QueuedChanges[] {
  let bytes = 0;
  const batch: QueuedChanges[] = [];
  for (const row of rows) {
    bytes += Buffer.byteLength(row.json);
    if (batch.length > 0 && bytes > bytesMax) break;
    batch.push(row);
  }
  return batch;
}

/** One payload element as rqlite writes it: Go's field order, zero row ids and absent values left out. */
function renderEntry(captured: CapturedEntry): string {
  const events = captured.changes.map(renderChange);
  if (captured.truncated) {
    const count = captured.changes.length;
    const error = `this entry changed ${count} rows or more: the changes after the first ${count} were not captured (entryChangeCountMax)`;
    events.push(`{"op":"UNKNOWN","error":${JSON.stringify(error)}}`);
  }
  return `{"index":${captured.index},"commit_timestamp":${captured.timestampMs * 1000},"events":[${events.join(',')}]}`;
}

function renderChange(change: RowChange): string {
  let json = `{"op":"${change.operation}"`;
  if (change.table !== '') json += `,"table":${JSON.stringify(change.table)}`;
  if (change.newRowId !== undefined && change.newRowId !== 0n) json += `,"new_row_id":${change.newRowId}`;
  if (change.oldRowId !== undefined && change.oldRowId !== 0n) json += `,"old_row_id":${change.oldRowId}`;
  if (change.before !== undefined) json += `,"before":${change.before}`;
  if (change.after !== undefined) json += `,"after":${change.after}`;
  if (change.error !== undefined) json += `,"error":${JSON.stringify(change.error)}`;
  return `${json}}`;
}
