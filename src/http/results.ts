/**
 * Shaping the service's plain results into rqlite's JSON (rqlite's Go structs with
 * `omitempty`): fields are left out when empty, in rqlite's field order.
 *
 *   write:  {"last_insert_id": 1, "rows_affected": 1, "error": …, "time": …}
 *   rows:   {"columns": […], "types": […], "values": [[…]], "error": …, "time": …}
 *   rows with ?associative: {"types": {column: type}, "rows": [{column: value}], …}
 *   a write with ?associative also carries "rows": null (/db/execute and /db/request).
 *   a queued write (?queue, with or without ?wait): {"results": [], "sequence_number": N}
 *   (data-handlers.ts leaves the results out).
 *
 * DATE / DATETIME / TIMESTAMP and BOOLEAN columns are shaped as rqlite's driver reads
 * them (declared-types.ts).
 */
import type { StatementResult } from '../state-machine/types.js';
import { shapeDeclaredTypes, type ShapedRows } from './declared-types.js';
import { AssociativeRows, type JsonOutput } from './json-writer.js';
import type { DataResponse } from '../service/service.js';

export interface ShapeOptions {
  readonly associative: boolean;
  readonly timings: boolean;
  /** The endpoint takes writes (`/db/execute` or `/db/request`): writes get `"rows": null` when associative. */
  readonly mixed: boolean;
  readonly raftIndex: boolean;
}

type JsonRecord = { [key: string]: JsonOutput | undefined };

function shapeResult(result: StatementResult, options: ShapeOptions): JsonRecord {
  const time = options.timings ? nonZero(result.timeSeconds ?? 0) : undefined;
  switch (result.kind) {
    case 'write':
      return {
        last_insert_id: nonZero(result.lastInsertId),
        rows_affected: nonZero(result.rowsAffected),
        time,
        rows: options.mixed && options.associative ? null : undefined,
      };
    case 'empty':
      return { time, rows: options.mixed && options.associative ? null : undefined };
    case 'error':
      return { error: result.error, time };
    case 'rows': {
      const shaped = shapeDeclaredTypes(result);
      if (shaped.kind === 'error') return { error: shaped.error, time };
      return options.associative ? shapeAssociativeRows(shaped, time) : shapeRows(shaped, time);
    }
  }
}

type RowsResult = ShapedRows;

function shapeRows(result: RowsResult, time: number | undefined): JsonRecord {
  return {
    columns: result.columns.length > 0 ? result.columns : undefined,
    types: result.types.length > 0 ? result.types : undefined,
    values: result.rows.length > 0 ? result.rows : undefined,
    time,
  };
}

function shapeAssociativeRows(result: RowsResult, time: number | undefined): JsonRecord {
  const types: Record<string, JsonOutput> = Object.create(null) as Record<string, JsonOutput>;
  result.columns.forEach((column, index) => {
    types[column] = result.types[index] ?? '';
  });
  return { types, rows: new AssociativeRows(result.columns, result.rows), time };
}

function nonZero<T extends number | bigint>(value: T): T | undefined {
  return value === 0 || value === 0n ? undefined : value;
}

/** The top-level body: `results`, `error`, `time`, `raft_index`, `sequence_number`. */
export function shapeDataResponse(response: DataResponse, options: ShapeOptions, elapsedSeconds: number): JsonRecord {
  return {
    results: response.results.map((result) => shapeResult(result, options)),
    time: options.timings ? elapsedSeconds : undefined,
    raft_index: options.raftIndex && response.raftIndex !== null ? nonZero(response.raftIndex) : undefined,
    sequence_number: response.sequenceNumber === null ? undefined : response.sequenceNumber,
  };
}

/**
 * A request-level failure that rqlite answers with HTTP 200 and no results: a stale read,
 * a statement it refuses (a disallowed pragma). `{"results": [], "error": …}`.
 */
export function shapeRequestError(message: string, timings: boolean, elapsedSeconds: number): JsonRecord {
  return { results: [], error: message, time: timings ? elapsedSeconds : undefined };
}
