/**
 * Reading committed entries back from the log: whole ranges (the store answers a range
 * in pieces bounded by bytes), and the index of the last entry that changed the
 * database, which tells the uploader whether there is anything new to back up.
 */
import type { LogEntry, LogView } from './ports.js';

/** One read from the store at most this many bytes (a range is read in several). */
const readBytesMax = 16 * 1024 * 1024;
/** How far back lastDataIndex looks past no-ops and membership changes before giving up. */
const dataScanEntryCountMax = 4096;
/** The scan reads the last entry alone first (almost always a command), then windows 16 times larger, up to this. */
const dataScanStepEntryCountMax = 256;

/** The entries [low, high) in order, read piece by piece. */
export function readRange(log: LogView, low: number, high: number, bytesMax = readBytesMax): LogEntry[] {
  const entries: LogEntry[] = [];
  let next = low;
  while (next < high) {
    const piece = log.entries(next, high, bytesMax);
    if (piece.length === 0) throw new Error(`the log returned no entries for [${next}, ${high})`);
    for (const entry of piece) {
      if (entry.index !== next) throw new Error(`the log returned entry ${entry.index} where ${next} was expected`);
      entries.push(entry);
      next += 1;
    }
  }
  return entries;
}

function changesData(entry: LogEntry): boolean {
  return entry.type === 'normal' && entry.data.length > 0;
}

/**
 * The index of the last applied entry that carried a command (a leader's no-op and a
 * membership change leave the database as it was), so a new leader whose only entry is
 * its no-op finds nothing new to upload, as rqlite's uploader does with its index check.
 * When the log no longer holds such an entry, the compaction point (the snapshot's
 * index); when it cannot tell (a long run of non-commands, a read racing compaction),
 * the applied index: one upload too many rather than one too few.
 */
export function lastDataIndex(log: LogView): number {
  const appliedIndex = log.appliedIndex;
  try {
    const firstIndex = log.firstIndex();
    let high = appliedIndex + 1;
    let scanned = 0;
    let step = 1;
    while (high > firstIndex && scanned < dataScanEntryCountMax) {
      const low = Math.max(firstIndex, high - step);
      step = Math.min(step * 16, dataScanStepEntryCountMax);
      const entries = readRange(log, low, high);
      for (let position = entries.length - 1; position >= 0; position -= 1) {
        const entry = entries[position] as LogEntry;
        if (changesData(entry)) return entry.index;
      }
      scanned += high - low;
      high = low;
    }
    return high <= firstIndex ? Math.min(firstIndex - 1, appliedIndex) : appliedIndex;
  } catch {
    return appliedIndex;
  }
}
