/**
 * Shaping the service's plain results into rqlite's JSON (rqlite's Go structs with
 * `omitempty`): fields are left out when empty, in rqlite's field order.
 *
 *   write:  {"last_insert_id": 1, "rows_affected": 1, "time": …}
 *   rows:   {"columns": […], "types": […], "values": [[…]], "time": …}
 *   rows with ?associative: {"types": {column: type}, "rows": [{column: value}], "time": …},
 *     each object a Go map: keys sorted by their UTF-8 bytes (json-writer.ts).
 *   a write with ?associative also carries "rows": null (/db/execute and /db/request).
 *   error:  {"error": "…", "error_v2": {"message": "…", "sqlite": {"code": 19, "extended_code": 2067}}}
 *     as rqlite v10 writes it by default: the text twice, and SQLite's result codes when
 *     SQLite reported the error; never a time. On /db/query with ?associative an error
 *     is an empty rows result, so it also carries "rows": [] (first).
 *   a queued write (?queue, with or without ?wait): {"results": [], "sequence_number": N}
 *   (data-handlers.ts leaves the results out).
 *
 * DATE / DATETIME / TIMESTAMP and BOOLEAN columns are shaped as rqlite's driver reads
 * them (declared-types.ts).
 */
import type { StatementResult } from '../state-machine/types.js';
import { shapeDeclaredTypes, type ShapedRows } from './declared-types.js';
import { AssociativeRows, GoMap, type JsonOutput } from './json-writer.js';
import { sqliteResultCode } from './sqlite-result-codes.js';
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
      return shapeError(result.error, result.sqliteCode, options);
    case 'rows': {
      const shaped = shapeDeclaredTypes(result);
      if (shaped.kind === 'error') return shapeError(shaped.error, undefined, options);
      return options.associative ? shapeAssociativeRows(shaped, time) : shapeRows(shaped, time);
    }
  }
}

function errorV2(message: string, sqliteCode: string | undefined): JsonRecord {
  const extendedCode = sqliteCode === undefined ? undefined : sqliteResultCode(sqliteCode);
  const sqlite = extendedCode === undefined ? undefined : { code: extendedCode & 0xff, extended_code: extendedCode };
  return { message, sqlite };
}

function shapeError(message: string, sqliteCode: string | undefined, options: ShapeOptions): JsonRecord {
  // rqlite's associative rows always carry "rows" (no omitempty), errors on /db/query too.
  const rows = options.associative && !options.mixed ? [] : undefined;
  return { rows, error: message, error_v2: errorV2(message, sqliteCode) };
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
  const types = result.columns.length > 0 ? new GoMap(result.columns, result.types) : undefined;
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
