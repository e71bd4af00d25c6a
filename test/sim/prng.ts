/**
 * The simulator's only source of randomness: xoshiro128** seeded through splitmix32.
 * Everything random in a simulated run (network faults, crashes, client choices, each
 * node's election jitter) draws from a Prng derived from the run's seed, so a seed
 * replays a whole cluster history exactly. No Math.random() anywhere in test/sim.
 */
import assert from 'node:assert/strict';

const twoToThe32 = 4294967296;

function splitmix32(state: number): { value: number; state: number } {
  const next = (state + 0x9e3779b9) | 0;
  let mixed = next ^ (next >>> 16);
  mixed = Math.imul(mixed, 0x21f0aaad);
  mixed ^= mixed >>> 15;
  mixed = Math.imul(mixed, 0x735a2d97);
  mixed ^= mixed >>> 15;
  return { value: mixed >>> 0, state: next };
}

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

export class Prng {
  private word0: number;
  private word1: number;
  private word2: number;
  private word3: number;

  /** `seed` is any safe non-negative integer; both its low and high 32 bits matter. */
  constructor(seed: number) {
    assert.ok(Number.isSafeInteger(seed) && seed >= 0, `seed must be a safe non-negative integer, got ${seed}`);
    const low = seed >>> 0;
    const high = Math.floor(seed / twoToThe32) >>> 0;
    let state = low ^ Math.imul(high, 0x85ebca6b);
    const words: number[] = [];
    for (let wordIndex = 0; wordIndex < 4; wordIndex++) {
      const step = splitmix32(state ^ (wordIndex === 2 ? high : 0));
      words.push(step.value);
      state = step.state;
    }
    this.word0 = words[0] ?? 1;
    this.word1 = words[1] ?? 2;
    this.word2 = words[2] ?? 3;
    this.word3 = words[3] ?? 4;
    // xoshiro's all-zero state is a fixed point; splitmix32 cannot produce four zeros,
    // but assert it rather than trust it.
    assert.ok((this.word0 | this.word1 | this.word2 | this.word3) !== 0, 'prng state must not be all zero');
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.word1, 5) >>> 0, 7), 9) >>> 0;
    const shifted = this.word1 << 9;
    this.word2 ^= this.word0;
    this.word3 ^= this.word1;
    this.word1 ^= this.word2;
    this.word0 ^= this.word3;
    this.word2 ^= shifted;
    this.word3 = rotateLeft(this.word3 >>> 0, 11);
    this.word0 >>>= 0;
    this.word1 >>>= 0;
    this.word2 >>>= 0;
    return result;
  }

  /** A float in [0, 1), like Math.random(). */
  nextFloat(): number {
    return this.nextUint32() / twoToThe32;
  }

  /** An integer in [0, bound). */
  nextInt(bound: number): number {
    assert.ok(Number.isSafeInteger(bound) && bound > 0 && bound <= twoToThe32, `bound must be in [1, 2^32], got ${bound}`);
    return Math.floor(this.nextFloat() * bound);
  }

  /** An integer in [low, high] inclusive. */
  nextIntBetween(low: number, high: number): number {
    assert.ok(low <= high, `empty range [${low}, ${high}]`);
    return low + this.nextInt(high - low + 1);
  }

  /** True with probability `probability`. */
  chance(probability: number): boolean {
    assert.ok(probability >= 0 && probability <= 1, `probability must be in [0, 1], got ${probability}`);
    return this.nextFloat() < probability;
  }

  pick<T>(items: readonly T[]): T {
    assert.ok(items.length > 0, 'cannot pick from an empty list');
    const item = items[this.nextInt(items.length)];
    assert.ok(item !== undefined || items.includes(item as T));
    return item as T;
  }

  /** Fisher–Yates, in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let index = items.length - 1; index > 0; index--) {
      const other = this.nextInt(index + 1);
      const held = items[index] as T;
      items[index] = items[other] as T;
      items[other] = held;
    }
    return items;
  }

  /** An independent stream, derived from this one (consumes two draws). */
  fork(): Prng {
    const high = this.nextUint32() & 0x1fffff;
    return new Prng(high * twoToThe32 + this.nextUint32());
  }
}
