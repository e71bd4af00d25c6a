/**
 * CRC32C (Castagnoli, reflected polynomial 0x82F63B78), table-driven, slicing by 8.
 * Used for every record and frame the storage layer writes; verified on every read.
 */

const polynomialReflected = 0x82f63b78;
const tableCount = 8;

/** tables[k][b] is the CRC contribution of byte b followed by k zero bytes. */
const tables: Uint32Array[] = buildTables();

function buildTables(): Uint32Array[] {
  const built: Uint32Array[] = [];
  const first = new Uint32Array(256);
  for (let byteValue = 0; byteValue < 256; byteValue++) {
    let crc = byteValue;
    for (let bit = 0; bit < 8; bit++) crc = crc & 1 ? (crc >>> 1) ^ polynomialReflected : crc >>> 1;
    first[byteValue] = crc >>> 0;
  }
  built.push(first);
  for (let tableNumber = 1; tableNumber < tableCount; tableNumber++) {
    const previous = built[tableNumber - 1]!;
    const next = new Uint32Array(256);
    for (let byteValue = 0; byteValue < 256; byteValue++) {
      const value = previous[byteValue]!;
      next[byteValue] = ((value >>> 8) ^ first[value & 0xff]!) >>> 0;
    }
    built.push(next);
  }
  return built;
}

const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array, Uint32Array];

/**
 * Extends `previousCrc` (the finished CRC of the bytes before) with `bytes[start, end)`.
 * `crc32cUpdate(0, a)` then `crc32cUpdate(that, b)` equals the CRC of a followed by b.
 */
export function crc32cUpdate(previousCrc: number, bytes: Uint8Array, start = 0, end = bytes.length): number {
  if (start < 0 || end > bytes.length || start > end) {
    throw new RangeError(`crc32c range [${start}, ${end}) outside 0..${bytes.length}`);
  }
  let crc = ~previousCrc >>> 0;
  let position = start;
  const fastEnd = end - ((end - start) % 8);
  while (position < fastEnd) {
    const low = (crc ^ (bytes[position]! | (bytes[position + 1]! << 8) | (bytes[position + 2]! << 16) | (bytes[position + 3]! << 24))) >>> 0;
    crc =
      t7[low & 0xff]! ^
      t6[(low >>> 8) & 0xff]! ^
      t5[(low >>> 16) & 0xff]! ^
      t4[low >>> 24]! ^
      t3[bytes[position + 4]!]! ^
      t2[bytes[position + 5]!]! ^
      t1[bytes[position + 6]!]! ^
      t0[bytes[position + 7]!]!;
    position += 8;
  }
  while (position < end) {
    crc = t0[(crc ^ bytes[position]!) & 0xff]! ^ (crc >>> 8);
    position++;
  }
  return ~crc >>> 0;
}

/** The CRC32C of `bytes[start, end)`. */
export function crc32c(bytes: Uint8Array, start = 0, end = bytes.length): number {
  return crc32cUpdate(0, bytes, start, end);
}

/** Extends a CRC with one 32-bit little-endian value (used to chain record checksums into a frame checksum). */
export function crc32cUpdateUint32(previousCrc: number, value: number): number {
  let crc = ~previousCrc >>> 0;
  for (let shift = 0; shift < 32; shift += 8) crc = t0[(crc ^ (value >>> shift)) & 0xff]! ^ (crc >>> 8);
  return ~crc >>> 0;
}
