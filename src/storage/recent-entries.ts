/**
 * The entries this process saved most recently, kept in memory so that reading them back
 * (the apply of a committed entry, an append to a follower that is a little behind) costs
 * no read from the segment and no checksum; the writer copies each entry's data once, as
 * it saves it (log-writer.ts). etcd keeps its whole log in memory for the same reason;
 * this keeps a bounded tail.
 *
 * An entry is served only while the log still places it where it was written: same term,
 * segment, offset and length. A suffix replaced by a new leader's entries, a compaction or
 * an installed snapshot moves or drops the location, so the stale copy no longer matches
 * and the read goes to the disk, where it is checked as always. Entries read from the disk
 * are not added: after a restart the cache fills only with new saves.
 */
import type { Entry } from '../raft/types.js';

interface Held {
  readonly entry: Entry;
  readonly segmentSequence: number;
  readonly offset: number;
  readonly recordBytes: number;
}

/** What a held entry costs besides its data: the objects around it, roughly. */
export const recentEntryOverheadBytes = 128;

export class RecentEntries {
  readonly #bytesMax: number;
  /** Held entries by index, in the order they were saved (so the first is the oldest). */
  readonly #held = new Map<number, Held>();
  #bytes = 0;

  constructor(bytesMax: number) {
    this.#bytesMax = bytesMax;
  }

  /** Bytes held, data and overhead: never above bytesMax. */
  get bytes(): number {
    return this.#bytes;
  }

  get count(): number {
    return this.#held.size;
  }

  /**
   * Holds `entry`, saved at `offset` of segment `segmentSequence`. A newer save of the same
   * index replaces the suffix from it on; the oldest entries go once the bound is passed.
   * An entry larger than the whole bound is not held.
   */
  put(entry: Entry, segmentSequence: number, offset: number, recordBytes: number): void {
    this.#dropFrom(entry.index);
    const cost = entry.data.byteLength + recentEntryOverheadBytes;
    if (cost > this.#bytesMax) return;
    this.#held.set(entry.index, { entry, segmentSequence, offset, recordBytes });
    this.#bytes += cost;
    while (this.#bytes > this.#bytesMax) {
      const oldest = this.#held.keys().next().value as number;
      this.#remove(oldest);
    }
  }

  /** The entry at `index` if it is held and was saved where the log now places it. */
  get(index: number, term: number, segmentSequence: number, offset: number, recordBytes: number): Entry | undefined {
    const held = this.#held.get(index);
    if (held === undefined) return undefined;
    if (held.entry.term !== term || held.segmentSequence !== segmentSequence || held.offset !== offset || held.recordBytes !== recordBytes) return undefined;
    return held.entry;
  }

  clear(): void {
    this.#held.clear();
    this.#bytes = 0;
  }

  /** Entries are put in rising index order except when a suffix is replaced: drop it first, so the map stays in saving order. */
  #dropFrom(index: number): void {
    if (this.#held.size === 0) return;
    let last = index;
    while (this.#held.has(last)) {
      this.#remove(last);
      last++;
    }
    // A put below the held range (after a snapshot or a reset) leaves the rest to age out.
  }

  #remove(index: number): void {
    const held = this.#held.get(index);
    if (held === undefined) return;
    this.#held.delete(index);
    this.#bytes -= held.entry.data.byteLength + recentEntryOverheadBytes;
  }
}
