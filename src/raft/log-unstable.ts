/**
 * The part of the log not yet persisted: an incoming snapshot and/or entries the
 * runtime has been handed in Ready but not yet confirmed with advance().
 */
import { assert } from './errors.js';
import { entryOverheadBytes } from './types.js';
import type { Entry, Snapshot } from './types.js';

/** What `entry` counts for in byte limits (see entryOverheadBytes). */
export function entryBytes(entry: Entry): number {
  return entry.data.byteLength + entryOverheadBytes;
}

export function entriesBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entryBytes(entry);
  return total;
}

/** The longest prefix of `entries` within `bytesMax`, but at least one entry. */
export function limitBytes(entries: Entry[], bytesMax: number): Entry[] {
  let total = 0;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i];
    assert(entry !== undefined, 'entry in bounds');
    total += entryBytes(entry);
    if (i > 0 && total > bytesMax) return entries.slice(0, i);
  }
  return entries;
}

export class UnstableLog {
  snapshot: Snapshot | undefined;
  entries: Entry[] = [];
  /** The index of entries[0] (or where it would be). */
  offset: number;

  constructor(offset: number) {
    this.offset = offset;
  }

  maybeFirstIndex(): number | undefined {
    return this.snapshot === undefined ? undefined : this.snapshot.metadata.index + 1;
  }

  maybeLastIndex(): number | undefined {
    if (this.entries.length > 0) return this.offset + this.entries.length - 1;
    return this.snapshot?.metadata.index;
  }

  maybeTerm(index: number): number | undefined {
    if (index < this.offset) {
      if (this.snapshot !== undefined && this.snapshot.metadata.index === index) return this.snapshot.metadata.term;
      return undefined;
    }
    return this.entries[index - this.offset]?.term;
  }

  /** The runtime persisted entries up to `index` (whose term was `term`). False if they changed since. */
  stableTo(index: number, term: number): boolean {
    if (this.maybeTerm(index) !== term || index < this.offset) return false;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    return true;
  }

  stableSnapshotTo(index: number): void {
    if (this.snapshot !== undefined && this.snapshot.metadata.index === index) this.snapshot = undefined;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.entries = [];
    this.snapshot = snapshot;
  }

  /** Appends `entries`, dropping whatever unstable suffix they replace. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    if (after === this.offset + this.entries.length) {
      this.entries = this.entries.concat(entries);
    } else if (after <= this.offset) {
      // Replaces everything unstable; storage's conflicting suffix is overwritten on persist.
      this.offset = after;
      this.entries = [...entries];
    } else {
      this.entries = this.entries.slice(0, after - this.offset).concat(entries);
    }
  }

  /** Entries in [low, high), which must lie within the unstable range. */
  slice(low: number, high: number): Entry[] {
    assert(low >= this.offset && high <= this.offset + this.entries.length, `unstable slice [${low}, ${high}) out of range`);
    return this.entries.slice(low - this.offset, high - this.offset);
  }
}
