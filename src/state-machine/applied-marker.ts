/**
 * What the user's database file records of quorumlite's state: one 32-bit header field,
 * `PRAGMA application_id`, that changes in the same transaction as the data (so it is
 * exact after any crash) and that no query of the schema lists. It holds two things:
 * - the applied index N, modulo 2^18 (the low 18 bits);
 * - how far N is past the internal store's last commit L (N − L, the next 13 bits): the
 *   store is written when a batch records a request, and at least every
 *   `storeCommitEntryCountMax` entries, so N − L is always below that bound.
 * N is the value with those low bits nearest a reference known to lie within 2^17 of
 * it (the store's covered index at open; the machine's own applied index otherwise).
 *
 * Why the reference is that close even after a power loss: both files are fsynced at
 * every open and every `durableSyncEntryCountMax` entries, so each file is at most that
 * many entries, plus one batch, plus the store's commit spacing, behind what was applied:
 * 2^15 + 10,000 + 2^10, under 2^17.
 */
import { assert } from '../common/assert.js';

/** Both files are made durable at least this often (in entries); bounds what a power loss can take back. */
export const durableSyncEntryCountMax = 2 ** 15;

/** The internal store commits at least this often (in entries), even when no batch recorded a request. */
export const storeCommitEntryCountMax = 2 ** 10;

/** The marker's low bits hold the applied index modulo 2^markerIndexBits; the bits above, the distance to the store's last commit. */
export const markerIndexBits = 18;
const indexBits = BigInt(markerIndexBits);
const distanceBits = 13n;
const indexModulus = 1n << indexBits;

assert(storeCommitEntryCountMax < 2 ** Number(distanceBits), 'the distance to the store commit fits its bits');
assert(indexBits + distanceBits <= 31n, 'the marker fits a signed 32-bit field without its sign bit');

interface MarkedIndexes {
  /** The database's applied index. */
  readonly appliedIndex: number;
  /** The internal store's covered index when the database committed N. */
  readonly storeIndex: number;
}

/** The header value for applied index `appliedIndex` whose store last committed at `storeIndex`. */
export function markerFor(appliedIndex: number, storeIndex: number): number {
  assert(Number.isSafeInteger(appliedIndex) && appliedIndex >= 0, 'applied index is a non-negative integer');
  const distance = appliedIndex - storeIndex;
  assert(distance >= 0 && distance < storeCommitEntryCountMax, `the store committed within ${storeCommitEntryCountMax} entries (${distance})`);
  return Number((BigInt(appliedIndex) % indexModulus) | (BigInt(distance) << indexBits));
}

/** The indexes `marker` names, with the applied index taken nearest `referenceIndex`. */
export function indexesFromMarker(marker: number, referenceIndex: number): MarkedIndexes {
  const value = BigInt(marker);
  const low = value & (indexModulus - 1n);
  const distance = Number(value >> indexBits);
  const delta = BigInt.asIntN(Number(indexBits), low - BigInt(referenceIndex));
  const appliedIndex = referenceIndex + Number(delta);
  return { appliedIndex, storeIndex: appliedIndex - distance };
}
