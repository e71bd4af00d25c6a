/**
 * A committed load's staged file made into what restore() takes: a self-contained file in
 * the snapshot format (the layout before the internal store), its applied index the
 * commit entry's, carrying the dedup table and maintenance times live before the commit.
 * restore() then swaps it in crash-safely and the open migrates those tables into the
 * internal store, exactly as for a snapshot received from the leader. So a load keeps
 * exactly-once across it: a request retried after the load is still answered, not run.
 * Run again on the same file after a crash, it gives the same file (idempotent).
 */
import Database from 'better-sqlite3';
import { legacySchema, loadExtensions, maintenanceTable, requestsTable, stateTable } from './connections.js';
import type { ExportedRequest, MaintenanceTime } from './internal-store.js';

interface CarriedState {
  readonly requests: readonly ExportedRequest[];
  readonly maintenance: readonly MaintenanceTime[];
}

export function prepareLoadedDatabase(path: string, appliedIndex: number, carried: CarriedState, extensionPaths: readonly string[]): void {
  const database = new Database(path, { fileMustExist: true });
  try {
    loadExtensions(database, extensionPaths);
    // The leader wrote the file's header in rollback-journal mode: keep it so (a self-contained file).
    database.pragma('journal_mode = DELETE');
    database.transaction(() => {
      for (const table of [stateTable, requestsTable, maintenanceTable]) database.exec(`DROP TABLE IF EXISTS ${table}`);
      for (const sql of legacySchema) database.exec(sql);
      database.prepare(`INSERT INTO ${stateTable} (id, applied_index) VALUES (1, ?)`).run(appliedIndex);
      const insertRequest = database.prepare(`INSERT INTO ${requestsTable} (request_id, sequence, timestamp_ms, result) VALUES (?, ?, ?, ?)`);
      for (const request of carried.requests) insertRequest.run(request.requestId, request.sequence, request.timestampMs, request.result);
      const insertMaintenance = database.prepare(`INSERT INTO ${maintenanceTable} (kind, timestamp_ms) VALUES (?, ?)`);
      for (const time of carried.maintenance) insertMaintenance.run(time.kind, time.timestampMs);
    })();
  } finally {
    database.close();
  }
}
