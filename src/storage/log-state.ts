/**
 * The in-memory picture of the durable log, rebuilt on open by replaying every record
 * and kept current after each successful flush by applying the same operations. Both
 * paths go through these methods, so replay and live updates cannot disagree.
 */
import type { ConfState, HardState } from '../raft/types.js';
import { EntryLocations } from './entry-locations.js';
import type { CheckpointRecord, SnapshotRecord } from './record-format.js';

export interface SegmentInfo {
  readonly sequence: number;
  readonly path: string;
  readonly fd: number;
  /** Durable length in bytes. */
  bytes: number;
  /** The file's length: past `bytes` it holds zeros (preallocated, segment-files.ts). */
  fileBytes: number;
  frameCount: number;
  /** Largest live entry index in this segment, 0 if none. */
  entryIndexMax: number;
}

const emptyHardState: HardState = { term: 0, vote: '', commit: 0 };

export class LogState {
  hardState: HardState = emptyHardState;
  hasHardState = false;
  confState: ConfState | null = null;
  compactIndex = 0;
  compactTerm = 0;
  /** The newest snapshot installed through the log (a received snapshot), if any. */
  installedSnapshot: SnapshotRecord | null = null;
  readonly locations = new EntryLocations();
  readonly segments: SegmentInfo[] = [];

  get lastIndex(): number {
    return this.locations.last ?? this.compactIndex;
  }

  get lastTerm(): number {
    const last = this.locations.last;
    return last === undefined ? this.compactTerm : this.locations.termOf(last);
  }

  termAt(entryIndex: number): number | undefined {
    if (entryIndex === this.compactIndex) return this.compactTerm;
    return this.locations.has(entryIndex) ? this.locations.termOf(entryIndex) : undefined;
  }

  get activeSegment(): SegmentInfo | undefined {
    return this.segments[this.segments.length - 1];
  }

  applyEntry(entryIndex: number, term: number, segment: SegmentInfo, offset: number, recordBytes: number): void {
    if (entryIndex <= this.compactIndex) return;
    const last = this.locations.last;
    if (last !== undefined && entryIndex <= last) {
      for (const other of this.segments) other.entryIndexMax = Math.min(other.entryIndexMax, entryIndex - 1);
    }
    this.locations.put(entryIndex, { term, segmentSequence: segment.sequence, offset, recordBytes });
    segment.entryIndexMax = Math.max(segment.entryIndexMax, entryIndex);
  }

  applyHardState(hardState: HardState): void {
    this.hardState = hardState;
    this.hasHardState = true;
  }

  applyConfState(confState: ConfState): void {
    this.confState = confState;
  }

  applyCompact(entryIndex: number, term: number): void {
    if (entryIndex <= this.compactIndex) return;
    this.compactIndex = entryIndex;
    this.compactTerm = term;
    this.locations.dropThrough(entryIndex);
  }

  /** A received snapshot replaces the whole log. */
  applySnapshot(snapshot: SnapshotRecord): void {
    this.locations.clear();
    for (const segment of this.segments) segment.entryIndexMax = 0;
    this.compactIndex = snapshot.index;
    this.compactTerm = snapshot.term;
    this.confState = snapshot.confState;
    this.installedSnapshot = snapshot;
  }

  applyCheckpoint(checkpoint: CheckpointRecord): void {
    if (checkpoint.hardState !== null) this.applyHardState(checkpoint.hardState);
    if (checkpoint.confState !== null) this.applyConfState(checkpoint.confState);
    this.applyCompact(checkpoint.compactIndex, checkpoint.compactTerm);
    if (checkpoint.installedSnapshot !== null) this.installedSnapshot = checkpoint.installedSnapshot;
  }

  checkpoint(): CheckpointRecord {
    return {
      hardState: this.hasHardState ? this.hardState : null,
      confState: this.confState,
      compactIndex: this.compactIndex,
      compactTerm: this.compactTerm,
      installedSnapshot: this.installedSnapshot,
    };
  }
}
