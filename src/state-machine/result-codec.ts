/**
 * Binary form of an entry's results, stored in the dedup table so that a repeated
 * request id answers exactly what the first execution answered. Timings are not kept.
 */
import { ByteReader, ByteWriter, normalizeInteger, readValue, writeValue } from './binary.js';
import { StateMachineError } from './errors.js';
import type { SqlResultValue, StatementResult } from './types.js';

const resultsVersion = 1;
const kindTag = { write: 0, rows: 1, empty: 2, error: 3 } as const;
/** An error SQLite reported: its text, then its result code's name (results stored before codes were kept use `error`). */
const errorWithCodeTag = 4;

/** Bytes one stored result list may take; larger lists are stored as a marker error. */
export const storedResultsBytesMax = 1024 * 1024;
const cellBytesMax = storedResultsBytesMax;

export const resultTooLargeToKeepMessage = 'the first execution of this request succeeded, but its result was too large to keep for deduplication';

function writeResult(writer: ByteWriter, result: StatementResult): void {
  const withCode = result.kind === 'error' && result.sqliteCode !== undefined;
  writer.u8(withCode ? errorWithCodeTag : kindTag[result.kind]);
  switch (result.kind) {
    case 'write':
      writeValue(writer, BigInt(result.lastInsertId));
      writeValue(writer, BigInt(result.rowsAffected));
      return;
    case 'rows':
      writer.u32(result.columns.length);
      for (const column of result.columns) writer.text(column);
      for (const type of result.types) writer.text(type);
      writer.u32(result.rows.length);
      for (const row of result.rows) for (const cell of row) writeValue(writer, cell);
      return;
    case 'error':
      writer.text(result.error);
      if (result.sqliteCode !== undefined) writer.text(result.sqliteCode);
      return;
    case 'empty':
      return;
  }
}

export function encodeResults(results: readonly StatementResult[]): Uint8Array {
  const writer = new ByteWriter(storedResultsBytesMax, () => new RangeError('results over storedResultsBytesMax'));
  try {
    writer.u8(resultsVersion);
    writer.u32(results.length);
    for (const result of results) writeResult(writer, result);
    return writer.finish();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    return encodeResults([{ kind: 'error', error: resultTooLargeToKeepMessage }]);
  }
}

function readInteger(reader: ByteReader, what: string): number | bigint {
  const value = readValue(reader, what, 0);
  if (typeof value !== 'number' && typeof value !== 'bigint') throw new StateMachineError('BAD_COMMAND', `${what} is not an integer`);
  return normalizeInteger(BigInt(value));
}

function readResult(reader: ByteReader): StatementResult {
  const tag = reader.u8('result kind');
  if (tag === kindTag.write) {
    const lastInsertId = readInteger(reader, 'lastInsertId');
    return { kind: 'write', lastInsertId, rowsAffected: Number(readInteger(reader, 'rowsAffected')) };
  }
  if (tag === kindTag.rows) {
    const columnCount = reader.u32('column count');
    const columns: string[] = [];
    const types: string[] = [];
    for (let column = 0; column < columnCount; column++) columns.push(reader.text('column', cellBytesMax));
    for (let column = 0; column < columnCount; column++) types.push(reader.text('type', cellBytesMax));
    const rowCount = reader.u32('row count');
    const rows: SqlResultValue[][] = [];
    for (let row = 0; row < rowCount; row++) {
      const cells: SqlResultValue[] = [];
      for (let column = 0; column < columnCount; column++) cells.push(readValue(reader, 'cell', cellBytesMax) as SqlResultValue);
      rows.push(cells);
    }
    return { kind: 'rows', columns, types, rows };
  }
  if (tag === kindTag.error) return { kind: 'error', error: reader.text('error', cellBytesMax) };
  if (tag === errorWithCodeTag) {
    const error = reader.text('error', cellBytesMax);
    return { kind: 'error', error, sqliteCode: reader.text('sqlite code', cellBytesMax) };
  }
  if (tag === kindTag.empty) return { kind: 'empty' };
  throw new StateMachineError('BAD_COMMAND', `unknown stored result kind ${tag}`);
}

export function decodeResults(data: Uint8Array): StatementResult[] {
  const reader = new ByteReader(data);
  const version = reader.u8('results version');
  if (version !== resultsVersion) throw new StateMachineError('BAD_COMMAND', `unknown stored results version ${version}`);
  const count = reader.u32('result count');
  const results: StatementResult[] = [];
  for (let position = 0; position < count; position++) results.push(readResult(reader));
  return results;
}
