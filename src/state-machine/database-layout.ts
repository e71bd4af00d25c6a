/**
 * Opening the user's database and the internal store beside it as one consistent pair,
 * whatever a crash left behind. The rule (see internal-store.ts): the store runs ahead of
 * the database by at most what it can undo. The database's header marker
 * (applied-marker.ts) names its applied index N and the store commit L it saw; the
 * store's state row names its last commit, `covered`, and its `floor`:
 * - covered = L: consistent;
 * - covered > N >= floor: the store committed a batch the database did not (a crash
 *   between the two commits); it is brought back to N;
 * - otherwise only a power loss (the store lost commits the database kept) or someone's
 *   hands can have done it: both files are removed and the machine starts empty at index
 *   0; the node restores its newest snapshot and replays its log, which hold everything;
 * - a database with the old in-file tables (`_quorumlite_state`, `_quorumlite_requests`,
 *   `_quorumlite_maintenance`: a data directory from before the store, or a restored
 *   snapshot file) is migrated:
 *   the store is rewritten from those tables first, then one database transaction drops
 *   them and sets the marker; a crash between the two simply migrates again;
 * - a database with a marker but no store lost its dedup state: refused, never reused;
 * - a database without either (a new file, or a plain SQLite file) starts at index 0.
 */
import type Database from 'better-sqlite3';
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { indexesFromMarker, markerFor } from './applied-marker.js';
import { maintenanceTable, openApplyConnection, readMarker, requestsTable, stateTable, type ApplyConnectionSettings } from './connections.js';
import { dropCarriedDatabases, stageCarriedDatabases } from './database-catalog-files.js';
import { StateMachineError } from './errors.js';
import { fsyncDirectory, fsyncPath, removeIfPresent } from './files.js';
import { InternalStore, type ExportedRequest, type MaintenanceTime } from './internal-store.js';

/** What opening found; the node logs anything but 'opened' and 'created'. */
export type OpenEvent =
  | { readonly kind: 'created' }
  | { readonly kind: 'opened'; readonly undoneEntryCount: number }
  | { readonly kind: 'migrated'; readonly appliedIndex: number; readonly requestCount: number }
  | { readonly kind: 'reset'; readonly reason: string };

interface OpenedPair {
  readonly apply: Database.Database;
  readonly store: InternalStore;
  readonly appliedIndex: number;
  /** The store's last commit the database saw. */
  readonly storeIndex: number;
  readonly event: OpenEvent;
}

/** The internal store's file for the database at `path`. */
export function internalStorePath(path: string): string {
  return `${path}.internal`;
}

/**
 * A database nothing was ever applied to (no page beyond the header, no schema, no
 * marker): its index is 0, not decoded. A database at a nonzero index that looks like
 * this can only be misread as 0, which at worst makes the pair start over.
 */
function isFreshDatabase(apply: Database.Database): boolean {
  const pageCount = apply.pragma('page_count', { simple: true }) as bigint;
  return pageCount <= 1n && apply.prepare('SELECT count(*) FROM sqlite_schema').pluck().get() === 0n && readMarker(apply) === 0;
}

function hasTable(apply: Database.Database, name: string): boolean {
  return apply.prepare('SELECT count(*) FROM sqlite_schema WHERE name = ?').pluck().get(name) !== 0n;
}

function legacyRequests(apply: Database.Database): ExportedRequest[] {
  if (!hasTable(apply, requestsTable)) return [];
  const rows = apply.prepare(`SELECT request_id, sequence, timestamp_ms, result FROM ${requestsTable}`).raw(true).all() as [
    string,
    bigint,
    bigint,
    Uint8Array,
  ][];
  return rows.map(([requestId, sequence, timestampMs, result]) => ({ requestId, sequence, timestampMs, result }));
}

/** The old layout's maintenance times (a database that ran maintenance entries before the store existed). */
function legacyMaintenance(apply: Database.Database): MaintenanceTime[] {
  if (!hasTable(apply, maintenanceTable)) return [];
  const rows = apply.prepare(`SELECT kind, timestamp_ms FROM ${maintenanceTable} ORDER BY kind`).raw(true).all() as [string, bigint][];
  return rows.map(([kind, timestampMs]) => ({ kind, timestampMs }));
}

/** The old layout's tables become the store's content; the database keeps only the user's objects. */
function migrate(apply: Database.Database, path: string, pageSize: number): OpenedPair {
  const storePath = internalStorePath(path);
  const indexValue: unknown = apply.prepare(`SELECT applied_index FROM ${stateTable} WHERE id = 1`).pluck().get();
  if (typeof indexValue !== 'bigint') throw new StateMachineError('BAD_SNAPSHOT', `database has no applied index in ${stateTable}`);
  const appliedIndex = Number(indexValue);
  const requests = legacyRequests(apply);
  const store = new InternalStore(storePath, pageSize);
  try {
    store.replaceWith(requests, legacyMaintenance(apply), appliedIndex);
    // The other databases a snapshot carries go beside, durably, before the tables go (database-catalog-files.ts).
    stageCarriedDatabases(apply, path);
    apply
      .transaction(() => {
        dropCarriedDatabases(apply);
        apply.exec(`DROP TABLE IF EXISTS ${requestsTable}`);
        apply.exec(`DROP TABLE IF EXISTS ${maintenanceTable}`);
        apply.exec(`DROP TABLE ${stateTable}`);
        apply.exec(`PRAGMA application_id = ${markerFor(appliedIndex, appliedIndex)}`);
      })
      .immediate();
  } catch (error) {
    store.close();
    throw error;
  }
  return { apply, store, appliedIndex, storeIndex: appliedIndex, event: { kind: 'migrated', appliedIndex, requestCount: requests.length } };
}

/** Both files of the pair (and their WAL and shared-memory files), database first. */
function removePair(path: string): void {
  for (const file of [path, internalStorePath(path)]) {
    for (const suffix of ['', '-wal', '-shm']) removeIfPresent(`${file}${suffix}`);
    fsyncDirectory(dirname(path));
  }
}

function fsyncIfPresent(path: string): void {
  if (existsSync(path)) fsyncPath(path, 'r+');
}

/** Makes everything either file has committed durable (the bound applied-marker.ts relies on); returns a failure. */
export function syncPair(path: string): Error | undefined {
  try {
    for (const file of [path, internalStorePath(path)]) {
      fsyncIfPresent(`${file}-wal`);
      fsyncIfPresent(file);
    }
    return undefined;
  } catch (error) {
    return error instanceof Error ? error : new Error(String(error));
  }
}

/** Opens the existing pair: consistent, brought back to the database's index, or why it cannot be. */
function reconcile(apply: Database.Database, storePath: string): OpenedPair | { readonly reason: string } {
  const store = new InternalStore(storePath);
  try {
    const range = store.range();
    const { appliedIndex, storeIndex } = isFreshDatabase(apply) ? { appliedIndex: 0, storeIndex: 0 } : indexesFromMarker(readMarker(apply), range.coveredIndex);
    if (range.coveredIndex === storeIndex) return { apply, store, appliedIndex, storeIndex, event: { kind: 'opened', undoneEntryCount: 0 } };
    if (range.coveredIndex > appliedIndex && appliedIndex >= range.floorIndex && appliedIndex >= storeIndex) {
      store.undoTo(appliedIndex, storeIndex);
      return { apply, store, appliedIndex, storeIndex, event: { kind: 'opened', undoneEntryCount: range.coveredIndex - appliedIndex } };
    }
    store.close();
    const seen = `the database is at index ${appliedIndex} and saw the internal state at ${storeIndex}`;
    return { reason: `${seen}; the internal state is at ${range.coveredIndex} (history from ${range.floorIndex})` };
  } catch (error) {
    store.close();
    throw error;
  }
}

function openOnce(path: string, settings: ApplyConnectionSettings): OpenedPair | { readonly reason: string } {
  const storePath = internalStorePath(path);
  const storeExisted = existsSync(storePath);
  const apply = openApplyConnection(path, settings);
  try {
    if (hasTable(apply, stateTable)) return migrate(apply, path, settings.pageSize);
    if (storeExisted) {
      const outcome = reconcile(apply, storePath);
      if (!('apply' in outcome)) apply.close();
      return outcome;
    }
    // A marker means entries were applied here, and their dedup state is gone: not silently reused.
    if (readMarker(apply) !== 0) {
      const advice = 'restore it beside the database, or move the database away (a node rebuilds it from its log)';
      throw new StateMachineError('INTERNAL_STATE_MISSING', `${path} was written by quorumlite but ${storePath} is missing: ${advice}`);
    }
    // A new file, or a plain SQLite file (as before the store): adopted at index 0.
    return { apply, store: new InternalStore(storePath, settings.pageSize), appliedIndex: 0, storeIndex: 0, event: { kind: 'created' } };
  } catch (error) {
    apply.close();
    throw error;
  }
}

/** Opens the database at `path` and its internal store as a consistent pair (see the file comment). */
export function openDatabasePair(path: string, settings: ApplyConnectionSettings): OpenedPair {
  const first = openOnce(path, settings);
  let opened: OpenedPair;
  if ('apply' in first) {
    opened = first;
  } else {
    removePair(path);
    const fresh = openOnce(path, settings);
    if (!('apply' in fresh)) throw new StateMachineError('BAD_ENVIRONMENT', `could not start an empty database at ${path}: ${fresh.reason}`);
    opened = { ...fresh, event: { kind: 'reset', reason: first.reason } };
  }
  const failure = syncPair(path);
  if (failure !== undefined) {
    opened.store.close();
    opened.apply.close();
    throw failure;
  }
  return opened;
}
