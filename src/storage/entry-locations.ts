/**
 * Where each live log entry is on disk: a contiguous run of entry indexes mapped to
 * (term, segment sequence, byte offset, record bytes), in parallel typed arrays so a
 * million entries cost about 24 MB and no garbage. Dropping a prefix is O(1) (a head
 * pointer that is reclaimed on growth); truncating a suffix is O(1).
 */
import { assert } from '../common/assert.js';

interface EntryLocation {
  readonly term: number;
  readonly segmentSequence: number;
  readonly offset: number;
  readonly recordBytes: number;
}

const initialCapacity = 1024;

export class EntryLocations {
  #terms = new Float64Array(initialCapacity);
  #offsets = new Float64Array(initialCapacity);
  #segmentSequences = new Uint32Array(initialCapacity);
  #recordBytes = new Uint32Array(initialCapacity);
  /** Slot of the first live entry. */
  #head = 0;
  #entryCount = 0;
  /** Entry index of slot `head`; meaningful only when entryCount > 0. */
  #firstEntryIndex = 0;

  get count(): number {
    return this.#entryCount;
  }

  /** The first entry index held, or undefined when empty. */
  get first(): number | undefined {
    return this.#entryCount === 0 ? undefined : this.#firstEntryIndex;
  }

  /** The last entry index held, or undefined when empty. */
  get last(): number | undefined {
    return this.#entryCount === 0 ? undefined : this.#firstEntryIndex + this.#entryCount - 1;
  }

  has(entryIndex: number): boolean {
    return this.#entryCount > 0 && entryIndex >= this.#firstEntryIndex && entryIndex < this.#firstEntryIndex + this.#entryCount;
  }

  /**
   * Records entry `entryIndex`. It must continue the run (last + 1), replace a suffix
   * (first..last, dropping everything from it on), or, when it precedes the run or the
   * run is empty, start a new run.
   */
  put(entryIndex: number, location: EntryLocation): void {
    if (this.#entryCount === 0 || entryIndex <= this.#firstEntryIndex) {
      this.clear();
      this.#firstEntryIndex = entryIndex;
    } else {
      const last = this.#firstEntryIndex + this.#entryCount - 1;
      assert(entryIndex <= last + 1, `entry ${entryIndex} continues the run ending at ${last}`);
      this.#entryCount = entryIndex - this.#firstEntryIndex;
    }
    this.#ensureCapacity(this.#entryCount + 1);
    const slot = this.#head + this.#entryCount;
    this.#terms[slot] = location.term;
    this.#offsets[slot] = location.offset;
    this.#segmentSequences[slot] = location.segmentSequence;
    this.#recordBytes[slot] = location.recordBytes;
    this.#entryCount++;
  }

  get(entryIndex: number): EntryLocation {
    assert(this.has(entryIndex), `entry ${entryIndex} is held`);
    const slot = this.#head + (entryIndex - this.#firstEntryIndex);
    return {
      term: this.#terms[slot]!,
      segmentSequence: this.#segmentSequences[slot]!,
      offset: this.#offsets[slot]!,
      recordBytes: this.#recordBytes[slot]!,
    };
  }

  termOf(entryIndex: number): number {
    assert(this.has(entryIndex), `entry ${entryIndex} is held`);
    return this.#terms[this.#head + (entryIndex - this.#firstEntryIndex)]!;
  }

  recordBytesOf(entryIndex: number): number {
    assert(this.has(entryIndex), `entry ${entryIndex} is held`);
    return this.#recordBytes[this.#head + (entryIndex - this.#firstEntryIndex)]!;
  }

  /** Drops entries at and after `entryIndex`. */
  truncateFrom(entryIndex: number): void {
    if (this.#entryCount === 0 || entryIndex >= this.#firstEntryIndex + this.#entryCount) return;
    this.#entryCount = Math.max(0, entryIndex - this.#firstEntryIndex);
  }

  /** Drops entries at and before `entryIndex`. */
  dropThrough(entryIndex: number): void {
    if (this.#entryCount === 0 || entryIndex < this.#firstEntryIndex) return;
    const dropCount = Math.min(this.#entryCount, entryIndex - this.#firstEntryIndex + 1);
    this.#head += dropCount;
    this.#entryCount -= dropCount;
    this.#firstEntryIndex += dropCount;
    if (this.#entryCount === 0) this.#head = 0;
  }

  clear(): void {
    this.#head = 0;
    this.#entryCount = 0;
  }

  #ensureCapacity(needed: number): void {
    const capacity = this.#terms.length;
    if (this.#head + needed <= capacity) return;
    const newCapacity = needed * 2 <= capacity ? capacity : Math.max(initialCapacity, needed * 2);
    this.#terms = moved(this.#terms, new Float64Array(newCapacity), this.#head, this.#entryCount);
    this.#offsets = moved(this.#offsets, new Float64Array(newCapacity), this.#head, this.#entryCount);
    this.#segmentSequences = moved(this.#segmentSequences, new Uint32Array(newCapacity), this.#head, this.#entryCount);
    this.#recordBytes = moved(this.#recordBytes, new Uint32Array(newCapacity), this.#head, this.#entryCount);
    this.#head = 0;
  }
}

function moved<T extends Float64Array | Uint32Array>(from: T, to: T, head: number, count: number): T {
  to.set(from.subarray(head, head + count));
  return to;
}
