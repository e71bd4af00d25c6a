/**
 * The read side of RaftStorage: the synchronous reads the core makes of the durable
 * log. Entries this process saved lately come from memory (recent-entries.ts); the
 * rest from the segment files with readSync (usually the page cache), adjacent records
 * in one read of at most readChunkBytesMax, each verified before it is returned.
 */
import * as fs from 'node:fs';
import type { ConfState, Entry, HardState, Snapshot } from '../raft/types.js';
import { RaftStorageError, entryOverheadBytes } from '../raft/types.js';
import { StorageError, storageErrorFromSystem } from './errors.js';
import { assert } from '../common/assert.js';
import type { LogState, SegmentInfo } from './log-state.js';
import { entryRecordHeaderBytes, decodeEntryRecord, verifyRecord } from './record-format.js';
import type { RecentEntries } from './recent-entries.js';
import type { SnapshotStore } from './snapshot-store.js';

const emptyData = new Uint8Array(0);
const emptyConfState: ConfState = { voters: [], learners: [] };

export class LogReader {
  readonly #state: LogState;
  readonly #snapshots: SnapshotStore;
  readonly #recent: RecentEntries;
  readonly #readChunkBytesMax: number;
  /** A read failed or found damage: the store is unhealthy. */
  readonly #onReadFailure: (failure: StorageError) => void;

  constructor(state: LogState, snapshots: SnapshotStore, recent: RecentEntries, readChunkBytesMax: number, onReadFailure: (failure: StorageError) => void) {
    this.#state = state;
    this.#snapshots = snapshots;
    this.#recent = recent;
    this.#readChunkBytesMax = readChunkBytesMax;
    this.#onReadFailure = onReadFailure;
  }

  initialState(): { readonly hardState: HardState; readonly confState: ConfState } {
    return { hardState: this.#state.hardState, confState: this.#state.confState ?? emptyConfState };
  }

  firstIndex(): number {
    return this.#state.compactIndex + 1;
  }

  lastIndex(): number {
    return this.#state.lastIndex;
  }

  term(entryIndex: number): number {
    const state = this.#state;
    if (entryIndex < state.compactIndex) throw new RaftStorageError('COMPACTED', `entry ${entryIndex} is compacted (snapshot at ${state.compactIndex})`);
    if (entryIndex > state.lastIndex) throw new RaftStorageError('UNAVAILABLE', `entry ${entryIndex} is beyond the last index ${state.lastIndex}`);
    const term = state.termAt(entryIndex);
    assert(term !== undefined, `term of ${entryIndex} is known`);
    return term;
  }

  /**
   * Entries in [low, high), stopping before bytesMax is exceeded (at least one entry).
   * An entry counts as its data plus entryOverheadBytes, as the core's own limits do.
   */
  entries(low: number, high: number, bytesMax: number): Entry[] {
    const state = this.#state;
    if (!Number.isSafeInteger(low) || !Number.isSafeInteger(high) || low > high) {
      throw new StorageError('INVALID_ARGUMENT', `entries range [${low}, ${high}) is invalid`);
    }
    if (low <= state.compactIndex) throw new RaftStorageError('COMPACTED', `entry ${low} is compacted (snapshot at ${state.compactIndex})`);
    if (high > state.lastIndex + 1) throw new RaftStorageError('UNAVAILABLE', `entry ${high - 1} is beyond the last index ${state.lastIndex}`);
    let end = low;
    let totalBytes = 0;
    while (end < high) {
      const entryBytes = state.locations.recordBytesOf(end) - entryRecordHeaderBytes + entryOverheadBytes;
      if (end > low && totalBytes + entryBytes > bytesMax) break;
      totalBytes += entryBytes;
      end++;
    }
    return this.#readEntries(low, end);
  }

  /** The newest snapshot's metadata. Its data is left empty: stream the file from the snapshot store. */
  snapshot(): Snapshot {
    const stored = this.#snapshots.latest()?.metadata;
    const installed = this.#state.installedSnapshot;
    if (stored !== undefined && (installed === null || stored.index >= installed.index)) return { metadata: stored, data: emptyData };
    if (installed !== null) return { metadata: installed, data: emptyData };
    return { metadata: { index: 0, term: 0, confState: this.#state.confState ?? emptyConfState }, data: emptyData };
  }

  #readEntries(low: number, end: number): Entry[] {
    const result: Entry[] = [];
    let next = low;
    while (next < end) {
      const first = this.#state.locations.get(next);
      const held = this.#recent.get(next, first.term, first.segmentSequence, first.offset, first.recordBytes);
      if (held !== undefined) {
        result.push(held);
        next++;
        continue;
      }
      let last = next;
      let spanEnd = first.offset + first.recordBytes;
      while (last + 1 < end) {
        const candidate = this.#state.locations.get(last + 1);
        const candidateEnd = candidate.offset + candidate.recordBytes;
        if (candidate.segmentSequence !== first.segmentSequence || candidate.offset < spanEnd) break;
        if (this.#recent.get(last + 1, candidate.term, candidate.segmentSequence, candidate.offset, candidate.recordBytes) !== undefined) break;
        if (candidateEnd - first.offset > this.#readChunkBytesMax) break;
        spanEnd = candidateEnd;
        last++;
      }
      this.#readSpan(first.segmentSequence, first.offset, spanEnd, next, last, result);
      next = last + 1;
    }
    return result;
  }

  #segmentBySequence(sequence: number): SegmentInfo {
    const segments = this.#state.segments;
    const position = sequence - segments[0]!.sequence;
    const segment = segments[position];
    assert(segment !== undefined && segment.sequence === sequence, `segment ${sequence} is open`);
    return segment;
  }

  #readSpan(sequence: number, start: number, end: number, firstIndex: number, lastIndex: number, result: Entry[]): void {
    const segment = this.#segmentBySequence(sequence);
    const buffer = Buffer.allocUnsafe(end - start);
    try {
      let filled = 0;
      while (filled < buffer.length) {
        const count = fs.readSync(segment.fd, buffer, filled, buffer.length - filled, start + filled);
        if (count === 0) throw new StorageError('CORRUPT', `log segment ${segment.path} ends before byte offset ${end}`);
        filled += count;
      }
    } catch (error) {
      const failure = storageErrorFromSystem(error, `reading ${segment.path}`);
      this.#onReadFailure(failure);
      throw failure;
    }
    for (let entryIndex = firstIndex; entryIndex <= lastIndex; entryIndex++) {
      const location = this.#state.locations.get(entryIndex);
      const relative = location.offset - start;
      const verdict = verifyRecord(buffer, relative, relative + location.recordBytes);
      const entry = 'problem' in verdict ? undefined : decodeEntryRecord(buffer, relative);
      if (entry === undefined || entry.index !== entryIndex || entry.term !== location.term) {
        const problem = 'problem' in verdict ? verdict.problem : 'has the wrong index or term';
        const failure = new StorageError('CORRUPT', `log segment ${segment.path} is corrupt at byte offset ${location.offset}: entry ${entryIndex} ${problem}`);
        this.#onReadFailure(failure);
        throw failure;
      }
      result.push(entry);
    }
  }
}
