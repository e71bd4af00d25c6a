/**
 * The applied index as the user's database file records it: `PRAGMA application_id`, a
 * 32-bit field of the file header that changes in the same transaction as the data (so
 * it is exact after any crash) and that no query of the schema lists. It holds the index
 * modulo 2^32; the full index is the unique value within 2^31 of a reference known to be
 * that close (the internal store's covered index, or the machine's own applied index).
 *
 * Why the reference is always that close: every `durableSyncEntryCountMax` entries (and
 * at every open) both files are fsynced, so after any crash — power loss included — each
 * file is at most that many entries (plus one batch) behind what was applied, which is
 * far less than 2^31.
 */
import { assert } from '../common/assert.js';

/** Both files are made durable at least this often (in entries); bounds what a power loss can take back. */
export const durableSyncEntryCountMax = 2 ** 24;

const markerModulus = 2n ** 32n;

/** The header value for `index`: index mod 2^32, as SQLite's signed 32-bit field. */
export function markerFor(index: number): number {
  assert(Number.isSafeInteger(index) && index >= 0, 'applied index is a non-negative integer');
  return Number(BigInt.asIntN(32, BigInt(index)));
}

/** The index whose marker is `marker` and which lies within 2^31 of `referenceIndex`. */
export function indexFromMarker(marker: number, referenceIndex: number): number {
  const delta = BigInt.asIntN(32, (BigInt(marker) - BigInt(referenceIndex)) % markerModulus);
  return referenceIndex + Number(delta);
}
