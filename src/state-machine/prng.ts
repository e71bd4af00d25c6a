/**
 * splitmix64: a tiny, well-mixed 64-bit generator. Seeded from an entry's seed, advanced
 * once per 64 bits drawn, in statement order, so every node draws the same numbers.
 */
const golden = 0x9e3779b97f4a7c15n;
const mask64 = (1n << 64n) - 1n;

export class SplitMix64 {
  #state: bigint;

  constructor(seed: bigint) {
    this.#state = seed & mask64;
  }

  /** The next unsigned 64-bit value. */
  next(): bigint {
    this.#state = (this.#state + golden) & mask64;
    let mixed = this.#state;
    mixed = ((mixed ^ (mixed >> 30n)) * 0xbf58476d1ce4e5b9n) & mask64;
    mixed = ((mixed ^ (mixed >> 27n)) * 0x94d049bb133111ebn) & mask64;
    return mixed ^ (mixed >> 31n);
  }

  /** A signed 64-bit value, as SQLite's random() returns. */
  nextSigned(): bigint {
    return BigInt.asIntN(64, this.next());
  }

  /** `byteCount` bytes, eight per draw. */
  nextBytes(byteCount: number): Uint8Array {
    const bytes = new Uint8Array(byteCount);
    const view = new DataView(bytes.buffer);
    let offset = 0;
    for (; offset + 8 <= byteCount; offset += 8) view.setBigUint64(offset, this.next(), true);
    if (offset < byteCount) {
      let last = this.next();
      for (; offset < byteCount; offset++) {
        bytes[offset] = Number(last & 0xffn);
        last >>= 8n;
      }
    }
    return bytes;
  }
}
