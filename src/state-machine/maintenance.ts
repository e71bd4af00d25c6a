/**
 * Database maintenance that every node runs at the same log index, so replicas stay
 * identical: VACUUM (rqlited's -auto-vacuum-int) and a refresh of the query planner's
 * statistics (rqlited's -auto-optimize-int). rqlite runs both on each node on its own
 * clock; here the leader proposes them as entries, because what they leave behind can be
 * seen: VACUUM may renumber the rowids of tables without an INTEGER PRIMARY KEY, and
 * ANALYZE writes sqlite_stat1, which queries can read and which steers query plans.
 *
 * Not PRAGMA optimize itself: it decides from the connection's query history and from
 * b-tree size estimates that depend on page layout, which differs between a node that
 * applied every entry and one restored from a snapshot. The deterministic equivalent:
 * analyze each indexed table whose statistics are missing or whose row count has changed
 * 25-fold since (PRAGMA optimize's threshold), counting rows exactly and analyzing in
 * full (no analysis_limit sampling, which reads a layout-dependent sample).
 *
 * The entry: u8 magic 0x4D ('M') · u8 version 1 · u8 kind (1 vacuum, 2 optimize) · i64 timestampMs.
 * Its kind and the leader's timestamp are recorded in an internal table, so any node
 * that becomes leader knows when each last ran.
 */
import type Database from 'better-sqlite3';
import { StateMachineError } from './errors.js';
import { internalNamePrefix } from './sql-policy.js';
import type { ApplyOutcome } from './types.js';

export type MaintenanceKind = 'vacuum' | 'optimize';

interface MaintenanceCommand {
  readonly kind: MaintenanceKind;
  /** The leader's clock when it proposed the entry. */
  readonly timestampMs: number;
}

const maintenanceMagic = 0x4d;
const maintenanceVersion = 1;
const maintenanceBytes = 11;
const kindCodes: Readonly<Record<MaintenanceKind, number>> = { vacuum: 1, optimize: 2 };
const maintenanceTable = `${internalNamePrefix}maintenance`;
/** A table is analyzed again once its row count has grown or shrunk this many times over. */
const rowCountChangeFactor = 25;

export function encodeMaintenanceCommand(command: MaintenanceCommand): Uint8Array {
  const bytes = new Uint8Array(maintenanceBytes);
  const view = new DataView(bytes.buffer);
  view.setUint8(0, maintenanceMagic);
  view.setUint8(1, maintenanceVersion);
  view.setUint8(2, kindCodes[command.kind]);
  view.setBigInt64(3, BigInt(command.timestampMs));
  return bytes;
}

/** An entry that holds maintenance rather than a client's command (they start with another magic byte). */
export function isMaintenanceCommand(data: Uint8Array): boolean {
  return data.length > 0 && data[0] === maintenanceMagic;
}

export function decodeMaintenanceCommand(data: Uint8Array): MaintenanceCommand {
  if (data.length !== maintenanceBytes || data[0] !== maintenanceMagic) throw new StateMachineError('BAD_COMMAND', 'not a maintenance entry');
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  if (view.getUint8(1) !== maintenanceVersion) throw new StateMachineError('BAD_COMMAND', `unknown maintenance entry version ${view.getUint8(1)}`);
  const code = view.getUint8(2);
  const kind = (Object.keys(kindCodes) as MaintenanceKind[]).find((candidate) => kindCodes[candidate] === code);
  if (kind === undefined) throw new StateMachineError('BAD_COMMAND', `unknown maintenance kind ${code}`);
  return { kind, timestampMs: Number(view.getBigInt64(3)) };
}

function quoted(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** The row count each table's statistics recorded (the first number of its sqlite_stat1 rows). */
function recordedRowCounts(database: Database.Database): Map<string, bigint> {
  const counts = new Map<string, bigint>();
  const hasStatistics = database.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'sqlite_stat1'`).get() !== undefined;
  if (!hasStatistics) return counts;
  const rows = database.prepare('SELECT tbl, stat FROM sqlite_stat1').raw(true).safeIntegers(true).all() as [string, string | null][];
  for (const [table, stat] of rows) {
    const recorded = BigInt(/^\d+/.exec(stat ?? '')?.[0] ?? '0');
    const previous = counts.get(table);
    counts.set(table, previous === undefined || recorded > previous ? recorded : previous);
  }
  return counts;
}

/** Runs ANALYZE on each indexed table whose statistics are missing or stale; returns their names. */
function refreshStatistics(database: Database.Database): string[] {
  const tables = database
    .prepare(
      `SELECT t.name FROM sqlite_schema t WHERE t.type = 'table' AND t.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         AND t.sql NOT LIKE 'CREATE VIRTUAL%'
         AND EXISTS (SELECT 1 FROM sqlite_schema i WHERE i.type = 'index' AND i.tbl_name = t.name)
       ORDER BY t.name`,
    )
    .pluck()
    .all() as string[];
  const recorded = recordedRowCounts(database);
  const factor = BigInt(rowCountChangeFactor);
  const analyzed: string[] = [];
  for (const table of tables) {
    const before = recorded.get(table);
    const now = database
      .prepare(`SELECT count(*) FROM ${quoted(table)}`)
      .pluck()
      .safeIntegers(true)
      .get() as bigint;
    const stale = before === undefined || now >= before * factor || now * factor <= before;
    if (!stale) continue;
    database.exec(`ANALYZE ${quoted(table)}`);
    analyzed.push(table);
  }
  return analyzed;
}

/** VACUUM, outside any transaction (the caller runs the entry's transaction right after). */
export function vacuum(database: Database.Database): void {
  database.exec('VACUUM');
}

/** Inside entry `index`'s transaction: the statistics refresh for 'optimize', and the record of the run. */
export function runMaintenance(database: Database.Database, command: MaintenanceCommand, index: number): ApplyOutcome {
  if (command.kind === 'optimize') refreshStatistics(database);
  recordMaintenance(database, command);
  return { entryIndex: index, results: [], deduplicated: false, skipped: false };
}

/** Records that `command` ran (inside the entry's transaction). */
function recordMaintenance(database: Database.Database, command: MaintenanceCommand): void {
  database.exec(`CREATE TABLE IF NOT EXISTS ${maintenanceTable} (kind TEXT PRIMARY KEY, timestamp_ms INTEGER NOT NULL) WITHOUT ROWID`);
  database.prepare(`INSERT OR REPLACE INTO ${maintenanceTable}(kind, timestamp_ms) VALUES (?, ?)`).run(command.kind, command.timestampMs);
}

/** When each kind of maintenance last ran, by the proposing leader's clock. */
export function maintenanceTimes(database: Database.Database): Map<MaintenanceKind, number> {
  const times = new Map<MaintenanceKind, number>();
  const exists = database.prepare(`SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = ?`).get(maintenanceTable) !== undefined;
  if (!exists) return times;
  const rows = database.prepare(`SELECT kind, timestamp_ms FROM ${maintenanceTable}`).raw(true).safeIntegers(true).all() as [string, bigint][];
  for (const [kind, timestampMs] of rows) {
    if (kind === 'vacuum' || kind === 'optimize') times.set(kind, Number(timestampMs));
  }
  return times;
}
