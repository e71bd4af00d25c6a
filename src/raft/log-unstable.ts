/**
 * The part of the log not yet persisted: an incoming snapshot and/or entries not yet
 * reported durable (by advance(), or persistedTo() with asynchronous storage writes).
 * Entries and the snapshot are handed out to be saved once each: `savingTo` marks how
 * far, so a save still on the disk is not handed out again while later ones go out.
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
  /** The last index handed out to be saved (>= offset - 1); a conflicting append lowers it. */
  savingTo: number;
  /** The snapshot was handed out to be saved and is not reported persisted yet. */
  #snapshotHandedOut = false;

  constructor(offset: number) {
    this.offset = offset;
    this.savingTo = offset - 1;
  }

  hasEntriesToSave(): boolean {
    return this.offset + this.entries.length - 1 > this.savingTo;
  }

  /** The entries not handed out to be saved yet; from now on they count as being saved. */
  takeEntriesToSave(): Entry[] {
    const lastIndex = this.offset + this.entries.length - 1;
    if (lastIndex <= this.savingTo) return [];
    const taken = this.entries.slice(this.savingTo + 1 - this.offset);
    this.savingTo = lastIndex;
    return taken;
  }

  hasSnapshotToSave(): boolean {
    return this.snapshot !== undefined && !this.#snapshotHandedOut;
  }

  /** The incoming snapshot if it was not handed out to be saved yet. */
  takeSnapshotToSave(): Snapshot | undefined {
    if (!this.hasSnapshotToSave()) return undefined;
    this.#snapshotHandedOut = true;
    return this.snapshot;
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

  /**
   * The runtime persisted entries up to `index` (whose term was `term`). False if they
   * changed since: a save that was on the disk while a new leader overwrote its entries
   * reports a term the log no longer has at that index, and must not mark the new ones.
   */
  stableTo(index: number, term: number): boolean {
    if (this.maybeTerm(index) !== term || index < this.offset) return false;
    this.entries = this.entries.slice(index + 1 - this.offset);
    this.offset = index + 1;
    this.savingTo = Math.max(this.savingTo, index);
    return true;
  }

  stableSnapshotTo(index: number): void {
    if (this.snapshot === undefined || this.snapshot.metadata.index !== index) return;
    this.snapshot = undefined;
    this.#snapshotHandedOut = false;
  }

  restore(snapshot: Snapshot): void {
    this.offset = snapshot.metadata.index + 1;
    this.savingTo = snapshot.metadata.index;
    this.entries = [];
    this.snapshot = snapshot;
    this.#snapshotHandedOut = false;
  }

  /** Appends `entries`, dropping whatever unstable suffix they replace. */
  truncateAndAppend(entries: readonly Entry[]): void {
    const first = entries[0];
    if (first === undefined) return;
    const after = first.index;
    // Whatever a save in flight carries from `after` on is replaced: hand the new entries out.
    this.savingTo = Math.min(this.savingTo, after - 1);
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
