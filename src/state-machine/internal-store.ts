/**
 * quorumlite's own state, kept in a second SQLite file beside the user's database
 * (`<database>.internal`), so that the user's database holds only the user's objects:
 * the index the store covers, the request-id dedup table, and when each kind of
 * maintenance (maintenance.ts) last ran.
 *
 * The two files cannot commit atomically together (WAL commits are atomic per file
 * only), so this store is written first and is allowed to run ahead of the database:
 * - an entry transaction that writes here (it recorded a request, or the store has not
 *   committed for `storeCommitEntryCountMax` entries) commits here before it commits the
 *   database, and the database records which store commit it saw (applied-marker.ts);
 *   so after a process crash this store holds what the database saw, or one batch more;
 * - nothing is deleted while it may still have to be undone: a request that expires is
 *   marked with the index that expired it, and marked rows are removed only once the
 *   database has committed that index (and no snapshot still reads before it);
 *   maintenance times are versioned rows (kind, recorded index), and a version is
 *   removed only once a newer one was recorded at or before that same index;
 * - so the store can be brought back to any index from its floor to its covered index
 *   (`undoTo`): rows recorded after it go, rows expired after it live again.
 * The state machine checks at every open that the store holds exactly the commit the
 * database saw, or one it can undo (database-layout.ts).
 */
import Database from 'better-sqlite3';
import { assert } from '../common/assert.js';

interface CoveredRange {
  /** The store can be brought back to any index from here ... */
  readonly floorIndex: number;
  /** ... up to here: the last index whose transaction committed in this store. */
  readonly coveredIndex: number;
}

interface StoredRequest {
  readonly timestampMs: number;
  readonly result: Uint8Array;
}

/** When one kind of maintenance ran, by the proposing leader's clock. */
export interface MaintenanceTime {
  readonly kind: string;
  readonly timestampMs: bigint;
}

/** A request as a snapshot carries it: the rows live at one index. */
export interface ExportedRequest {
  readonly requestId: string;
  readonly sequence: bigint;
  readonly timestampMs: bigint;
  readonly result: Uint8Array;
}

interface DedupBounds {
  readonly dedupRequestCountMax: number;
  readonly dedupWindowMs: number;
}

const schema = [
  `CREATE TABLE IF NOT EXISTS state (id INTEGER PRIMARY KEY CHECK (id = 1), covered_index INTEGER NOT NULL, floor_index INTEGER NOT NULL)`,
  `INSERT OR IGNORE INTO state (id, covered_index, floor_index) VALUES (1, 0, 0)`,
  // One live row per request id (expired_index IS NULL); earlier versions wait for garbage collection.
  `CREATE TABLE IF NOT EXISTS requests (request_id TEXT NOT NULL, recorded_index INTEGER NOT NULL, sequence INTEGER NOT NULL,
     timestamp_ms INTEGER NOT NULL, result BLOB NOT NULL, expired_index INTEGER, PRIMARY KEY (request_id, recorded_index)) WITHOUT ROWID`,
  `CREATE INDEX IF NOT EXISTS requests_live_by_sequence ON requests (sequence) WHERE expired_index IS NULL`,
  `CREATE INDEX IF NOT EXISTS requests_live_by_time ON requests (timestamp_ms) WHERE expired_index IS NULL`,
  `CREATE INDEX IF NOT EXISTS requests_by_expiry ON requests (expired_index) WHERE expired_index IS NOT NULL`,
  // Versioned: the time live at index N is the kind's row with the highest recorded_index <= N.
  `CREATE TABLE IF NOT EXISTS maintenance (kind TEXT NOT NULL, recorded_index INTEGER NOT NULL, timestamp_ms INTEGER NOT NULL,
     PRIMARY KEY (kind, recorded_index)) WITHOUT ROWID`,
];

/** The rows live at index `:index` (used by snapshots). */
export const liveRequestsAtSql = `SELECT request_id, sequence, timestamp_ms, result FROM requests
  WHERE recorded_index <= :index AND (expired_index IS NULL OR expired_index > :index) ORDER BY sequence`;

/** The maintenance times live at index `:index` (used by snapshots, and to answer maintenanceTimes()). */
export const liveMaintenanceAtSql = `SELECT kind, timestamp_ms FROM maintenance AS version
  WHERE recorded_index = (SELECT max(recorded_index) FROM maintenance WHERE kind = version.kind AND recorded_index <= :index) ORDER BY kind`;

/** The state row of a store file (the snapshot worker reads it with its own connection). */
export const coveredRangeSql = 'SELECT floor_index, covered_index FROM state WHERE id = 1';

function prepareStatements(database: Database.Database) {
  const prepare = (sql: string): Database.Statement => database.prepare(sql).safeIntegers(true);
  return {
    begin: prepare('BEGIN IMMEDIATE'),
    commit: prepare('COMMIT'),
    rollback: prepare('ROLLBACK'),
    readRange: prepare(coveredRangeSql).raw(true),
    writeRange: prepare('UPDATE state SET floor_index = max(floor_index, ?), covered_index = ? WHERE id = 1'),
    collectGarbage: prepare('DELETE FROM requests WHERE expired_index <= ?'),
    // Versions older than the one live at the collected index: no undo or snapshot reaches them.
    collectMaintenance: prepare(`DELETE FROM maintenance WHERE recorded_index <
      (SELECT max(recorded_index) FROM maintenance AS newer WHERE newer.kind = maintenance.kind AND newer.recorded_index <= :index)`),
    lookup: prepare('SELECT timestamp_ms, result FROM requests WHERE request_id = ? AND expired_index IS NULL').raw(true),
    nextSequence: prepare('SELECT coalesce(max(sequence), 0) + 1 FROM requests WHERE expired_index IS NULL').pluck(),
    expireRequest: prepare('UPDATE requests SET expired_index = ? WHERE request_id = ? AND expired_index IS NULL'),
    insert: prepare('INSERT INTO requests (request_id, recorded_index, sequence, timestamp_ms, result) VALUES (?, ?, ?, ?, ?)'),
    expireBySequence: prepare('UPDATE requests SET expired_index = ? WHERE expired_index IS NULL AND sequence <= ?'),
    expireByTime: prepare('UPDATE requests SET expired_index = ? WHERE expired_index IS NULL AND timestamp_ms < ?'),
    undoRecorded: prepare('DELETE FROM requests WHERE recorded_index > ?'),
    undoExpired: prepare('UPDATE requests SET expired_index = NULL WHERE expired_index > ?'),
    undoMaintenance: prepare('DELETE FROM maintenance WHERE recorded_index > ?'),
    recordMaintenance: prepare('INSERT OR REPLACE INTO maintenance (kind, recorded_index, timestamp_ms) VALUES (?, ?, ?)'),
    maintenanceAt: prepare(liveMaintenanceAtSql).raw(true),
    liveAt: prepare(liveRequestsAtSql).raw(true),
    liveCount: prepare('SELECT count(*) FROM requests WHERE expired_index IS NULL').pluck(),
  };
}

export class InternalStore {
  readonly path: string;
  readonly #database: Database.Database;
  readonly #statements: ReturnType<typeof prepareStatements>;
  /** The transaction the current batch opens here on its first write: what to collect and the index it will cover. */
  #planned: { readonly collectThroughIndex: number; readonly coveredIndex: number } | undefined;

  /** `pageSize`: for a store this creates (an existing one keeps its own). */
  constructor(path: string, pageSize?: number) {
    this.path = path;
    this.#database = new Database(path);
    try {
      if (pageSize !== undefined) this.#database.pragma(`page_size = ${pageSize}`);
      this.#database.pragma('journal_mode = WAL');
      // As for the database: the Raft log is the durable record. Power loss is caught at open (database-layout.ts).
      this.#database.pragma('synchronous = NORMAL');
      this.#database
        .transaction(() => {
          for (const sql of schema) this.#database.exec(sql);
        })
        .immediate();
      this.#statements = prepareStatements(this.#database);
    } catch (error) {
      this.#database.close();
      throw error;
    }
  }

  range(): CoveredRange {
    const [floorIndex, coveredIndex] = this.#statements.readRange.get() as [bigint, bigint];
    return { floorIndex: Number(floorIndex), coveredIndex: Number(coveredIndex) };
  }

  get inTransaction(): boolean {
    return this.#database.inTransaction;
  }

  /**
   * Plans the transaction of a batch of entries up to `coveredIndex`, opened on its first
   * write (or by `write()`): it drops rows expired at or before `collectThroughIndex` (the
   * database has committed it; no snapshot reads before it) and records the range the
   * store covers once it commits.
   */
  plan(collectThroughIndex: number, coveredIndex: number): void {
    assert(collectThroughIndex <= coveredIndex, 'garbage is collected only behind the covered index');
    assert(!this.#database.inTransaction, 'one batch at a time');
    this.#planned = { collectThroughIndex, coveredIndex };
  }

  /** Opens the planned transaction now, if it is not open yet. */
  write(): void {
    if (this.#database.inTransaction) return;
    const planned = this.#planned;
    assert(planned !== undefined, 'a write belongs to a planned batch');
    this.#statements.begin.run();
    this.#statements.collectGarbage.run(BigInt(planned.collectThroughIndex));
    this.#statements.collectMaintenance.run({ index: BigInt(planned.collectThroughIndex) });
    this.#statements.writeRange.run(BigInt(planned.collectThroughIndex), BigInt(planned.coveredIndex));
  }

  /** Commits the batch's transaction if it wrote; returns whether it did. */
  commitIfWritten(): boolean {
    this.#planned = undefined;
    if (!this.#database.inTransaction) return false;
    this.#statements.commit.run();
    return true;
  }

  rollback(): void {
    this.#planned = undefined;
    this.undoEntryWrites();
  }

  /**
   * Undoes what the open transaction wrote and keeps its plan: an entry that runs alone
   * starts over (ROLLBACK conflict resolution ended its database transaction) and may
   * record again. Only while no earlier entry shares the transaction.
   */
  undoEntryWrites(): void {
    if (this.#database.inTransaction) this.#statements.rollback.run();
  }

  /** The live record of `requestId`, if any (its age is the caller's to judge). */
  lookup(requestId: string): StoredRequest | undefined {
    const row = this.#statements.lookup.get(requestId) as [bigint, Uint8Array] | undefined;
    if (row === undefined) return undefined;
    return { timestampMs: Number(row[0]), result: row[1] };
  }

  /**
   * Records entry `index`'s result for `requestId` (replacing an older record of the same
   * id), then expires records beyond the count bound and older than the window, as
   * measured by this entry's own timestamp. Expired rows stay until collected.
   */
  record(requestId: string, index: number, timestampMs: number, result: Uint8Array, bounds: DedupBounds): void {
    this.write();
    const statements = this.#statements;
    const expiredBy = BigInt(index);
    const sequence = statements.nextSequence.get() as bigint;
    statements.expireRequest.run(expiredBy, requestId);
    statements.insert.run(requestId, expiredBy, sequence, BigInt(timestampMs), result);
    statements.expireBySequence.run(expiredBy, sequence - BigInt(bounds.dedupRequestCountMax));
    statements.expireByTime.run(expiredBy, BigInt(timestampMs - bounds.dedupWindowMs));
  }

  /** Records that maintenance of `kind` ran as entry `index`, proposed at `timestampMs`. */
  recordMaintenance(kind: string, index: number, timestampMs: number): void {
    this.write();
    this.#statements.recordMaintenance.run(kind, BigInt(index), BigInt(timestampMs));
  }

  /** The maintenance times live at `index` (floorIndex <= index <= coveredIndex). */
  maintenanceAt(index: number): MaintenanceTime[] {
    const rows = this.#statements.maintenanceAt.all({ index: BigInt(index) }) as [string, bigint][];
    return rows.map(([kind, timestampMs]) => ({ kind, timestampMs }));
  }

  /**
   * Brings the store back to index `index`, where its last commit was at `coveredIndex`
   * (in its own transaction): what later entries recorded goes, what they expired lives
   * again. Needs floorIndex <= index.
   */
  undoTo(index: number, coveredIndex: number): void {
    const range = this.range();
    assert(range.floorIndex <= index && coveredIndex <= index, `undo to ${index} below the floor ${range.floorIndex}`);
    const target = BigInt(index);
    this.#database
      .transaction(() => {
        this.#statements.undoRecorded.run(target);
        this.#statements.undoExpired.run(target);
        this.#statements.undoMaintenance.run(target);
        this.#statements.writeRange.run(BigInt(range.floorIndex), BigInt(coveredIndex));
      })
      .immediate();
  }

  /** Replaces everything with `requests` and `maintenance` at `index` (a migration or a restored snapshot). */
  replaceWith(requests: readonly ExportedRequest[], maintenance: readonly MaintenanceTime[], index: number): void {
    const target = BigInt(index);
    this.#database
      .transaction(() => {
        this.#database.exec('DELETE FROM requests');
        this.#database.exec('DELETE FROM maintenance');
        for (const request of requests) {
          this.#statements.insert.run(request.requestId, target, request.sequence, request.timestampMs, request.result);
        }
        for (const time of maintenance) this.#statements.recordMaintenance.run(time.kind, target, time.timestampMs);
        this.#statements.writeRange.run(target, target);
        this.#database.prepare('UPDATE state SET floor_index = ? WHERE id = 1').run(target);
      })
      .immediate();
  }

  /** The requests remembered at the covered index. */
  rememberedRequestCount(): number {
    return Number(this.#statements.liveCount.get() as bigint);
  }

  /** The rows live at `index` (floorIndex <= index <= coveredIndex). */
  requestsAt(index: number): ExportedRequest[] {
    const rows = this.#statements.liveAt.all({ index: BigInt(index) }) as [string, bigint, bigint, Uint8Array][];
    return rows.map(([requestId, sequence, timestampMs, result]) => ({ requestId, sequence, timestampMs, result }));
  }

  close(): void {
    this.#database.close();
  }
}
