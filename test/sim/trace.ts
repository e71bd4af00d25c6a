/**
 * The trace of a simulated run: every event is folded into a running hash (two runs of
 * one seed must give the same hash), the last `tailLinesMax` are kept for the failure
 * report, and in verbose mode every line is printed as it happens. Lines are formatted
 * lazily, so a quiet run pays only for the hash.
 */
import assert from 'node:assert/strict';

export type TraceField = string | number | boolean;

interface TraceRecord {
  readonly step: number;
  readonly kind: string;
  readonly fields: readonly TraceField[];
}

export class Trace {
  private readonly tail: (TraceRecord | undefined)[];
  private tailNext = 0;
  private hashValue = 0x811c9dc5;
  eventCount = 0;

  constructor(
    private readonly tailLinesMax: number,
    private readonly sink?: (line: string) => void,
  ) {
    assert.ok(Number.isInteger(tailLinesMax) && tailLinesMax >= 1, 'tailLinesMax must be a positive integer');
    this.tail = new Array<TraceRecord | undefined>(tailLinesMax);
  }

  record(step: number, kind: string, ...fields: TraceField[]): void {
    const record = { step, kind, fields };
    this.eventCount++;
    this.hashValue = foldNumber(this.hashValue, step);
    this.hashValue = foldString(this.hashValue, kind);
    for (const field of fields) {
      this.hashValue = typeof field === 'number' ? foldNumber(this.hashValue, field) : foldString(this.hashValue, String(field));
    }
    this.tail[this.tailNext] = record;
    this.tailNext = (this.tailNext + 1) % this.tailLinesMax;
    if (this.sink !== undefined) this.sink(formatRecord(record));
  }

  /** A hex digest of every event recorded so far. */
  hash(): string {
    return `${(this.hashValue >>> 0).toString(16).padStart(8, '0')}:${this.eventCount}`;
  }

  /** The last lines, oldest first. */
  tailLines(): string[] {
    const ordered = [...this.tail.slice(this.tailNext), ...this.tail.slice(0, this.tailNext)];
    return ordered.filter((record): record is TraceRecord => record !== undefined).map(formatRecord);
  }
}

function formatRecord(record: TraceRecord): string {
  return `${String(record.step).padStart(6)} ${record.kind} ${record.fields.join(' ')}`;
}

function foldString(hash: number, text: string): number {
  let value = hash;
  for (let index = 0; index < text.length; index++) {
    value ^= text.charCodeAt(index);
    value = Math.imul(value, 0x01000193);
  }
  return Math.imul(value ^ 0xff, 0x01000193);
}

function foldNumber(hash: number, number: number): number {
  const value = Math.imul(hash ^ (number | 0), 0x01000193);
  return Math.imul(value ^ Math.floor(number / 4294967296), 0x01000193);
}

/** A 32-bit FNV-1a digest of bytes, for comparing entry payloads cheaply. */
export function digestBytes(bytes: Uint8Array): number {
  let value = 0x811c9dc5;
  for (const byte of bytes) {
    value ^= byte;
    value = Math.imul(value, 0x01000193);
  }
  return value >>> 0;
}
