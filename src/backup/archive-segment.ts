/**
 * One archived segment: committed log entries first..last, gzip-compressed JSON lines.
 * The first line is a header; each following line is one entry:
 *
 *   {"format":"quorumlite-pitr-segment","version":1,"firstIndex":101,"lastIndex":180}
 *   {"index":101,"term":3,"type":"normal","timeMs":1767225600123,"data":"<base64>"}
 *
 * `timeMs` is the leader's clock when it proposed the entry (carried in the command, the
 * same time the state machine uses for 'now'), null for entries without one (a new
 * leader's no-op, a membership change). A time maps to a log index through it.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { decodeCommand } from '../state-machine/command-codec.js';
import { decodeMaintenanceCommand, isMaintenanceCommand } from '../state-machine/maintenance.js';
import { archiveFormatVersion } from './archive-catalog.js';
import type { LogEntry } from './ports.js';

const segmentFormat = 'quorumlite-pitr-segment';

export interface ArchivedEntry extends LogEntry {
  /** Leader time at propose, or null when the entry carries none. */
  readonly timeMs: number | null;
}

/** The leader time inside a command or maintenance entry; null for a no-op, a membership change or data it cannot read. */
export function entryTimeMs(entry: LogEntry): number | null {
  if (entry.type !== 'normal' || entry.data.length === 0) return null;
  try {
    return isMaintenanceCommand(entry.data) ? decodeMaintenanceCommand(entry.data).timestampMs : decodeCommand(entry.data).timestampMs;
  } catch {
    return null;
  }
}

export function encodeSegment(entries: readonly ArchivedEntry[]): Uint8Array {
  const first = entries[0];
  const last = entries[entries.length - 1];
  if (first === undefined || last === undefined) throw new Error('a segment holds at least one entry');
  const lines = [JSON.stringify({ format: segmentFormat, version: archiveFormatVersion, firstIndex: first.index, lastIndex: last.index })];
  for (const entry of entries) {
    const data = Buffer.from(entry.data.buffer, entry.data.byteOffset, entry.data.byteLength).toString('base64');
    lines.push(JSON.stringify({ index: entry.index, term: entry.term, type: entry.type, timeMs: entry.timeMs, data }));
  }
  return gzipSync(`${lines.join('\n')}\n`);
}

function parseLine(line: string, key: string, lineNumber: number): Record<string, unknown> {
  try {
    const value = JSON.parse(line) as unknown;
    if (typeof value === 'object' && value !== null && !Array.isArray(value)) return value as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new Error(`${key}: line ${lineNumber} is not a JSON object`);
}

function decodeEntry(fields: Record<string, unknown>, expectedIndex: number, key: string): ArchivedEntry {
  const { index, term, type, timeMs, data } = fields;
  const wellFormed =
    index === expectedIndex &&
    Number.isSafeInteger(term) &&
    (type === 'normal' || type === 'conf-change') &&
    (timeMs === null || Number.isSafeInteger(timeMs)) &&
    typeof data === 'string';
  if (!wellFormed) throw new Error(`${key}: entry ${expectedIndex} is missing or malformed`);
  return { index: expectedIndex, term: term as number, type, timeMs: timeMs as number | null, data: new Uint8Array(Buffer.from(data as string, 'base64')) };
}

/** The entries of a segment, checked: the header's range, consecutive indexes, well-formed fields. */
export function decodeSegment(compressed: Uint8Array, key: string): ArchivedEntry[] {
  let text: string;
  try {
    text = gunzipSync(compressed).toString('utf8');
  } catch (error) {
    throw new Error(`${key}: not a gzip file (${(error as Error).message})`);
  }
  const lines = text.split('\n').filter((line) => line !== '');
  const header = parseLine(lines[0] ?? '', key, 1);
  if (header.format !== segmentFormat || typeof header.version !== 'number') throw new Error(`${key}: not an archive segment`);
  if (header.version > archiveFormatVersion)
    throw new Error(`${key}: archive format ${header.version} is newer than this build reads (${archiveFormatVersion})`);
  const firstIndex = header.firstIndex;
  const lastIndex = header.lastIndex;
  if (!Number.isSafeInteger(firstIndex) || !Number.isSafeInteger(lastIndex) || (lastIndex as number) < (firstIndex as number)) {
    throw new Error(`${key}: a segment header without a valid range`);
  }
  const entries = lines.slice(1).map((line, position) => decodeEntry(parseLine(line, key, position + 2), (firstIndex as number) + position, key));
  if (entries.length !== (lastIndex as number) - (firstIndex as number) + 1)
    throw new Error(`${key}: holds ${entries.length} entries, its header says ${firstIndex}..${lastIndex}`);
  return entries;
}
