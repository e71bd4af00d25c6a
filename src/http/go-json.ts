/**
 * Two things rqlite's JSON gets from Go's `encoding/json` that JavaScript does not do
 * by itself: map keys are written sorted by their UTF-8 bytes (an `?associative` row
 * or `types` object is a Go map), and a `[]byte` that rqlite hands over as a Go string
 * (a BLOB in a column it takes for text, declared-types.ts) is written as Go writes a
 * string of arbitrary bytes: each byte that is not part of valid UTF-8 becomes
 * `\ufffd`, U+2028 and U+2029 are escaped, and control characters get Go's escapes.
 */

/** Go sorts strings by their UTF-8 bytes (JavaScript's `<` compares UTF-16 units). */
export function compareGoStrings(left: string, right: string): number {
  return Buffer.compare(Buffer.from(left), Buffer.from(right));
}

/** Bytes that the JSON writer writes as a Go string (`string(bytes)`), not as base64. */
export class BlobAsText extends Uint8Array {}

/** `bytes` marked to be written as text; the bytes are shared, not copied (results hold no shared memory). */
export function blobAsText(bytes: Uint8Array): BlobAsText {
  return new BlobAsText(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength);
}

const shortEscapes = new Map<number, string>([
  [0x08, '\\b'],
  [0x09, '\\t'],
  [0x0a, '\\n'],
  [0x0c, '\\f'],
  [0x0d, '\\r'],
  [0x22, '\\"'],
  [0x5c, '\\\\'],
]);

function isContinuation(byte: number | undefined): boolean {
  return byte !== undefined && byte >= 0x80 && byte <= 0xbf;
}

/** The bounds the second byte of a sequence must lie in, by its first byte (Go's utf8 acceptance ranges). */
function secondByteBounds(first: number): readonly [number, number] {
  if (first === 0xe0) return [0xa0, 0xbf];
  if (first === 0xed) return [0x80, 0x9f];
  if (first === 0xf0) return [0x90, 0xbf];
  if (first === 0xf4) return [0x80, 0x8f];
  return [0x80, 0xbf];
}

/** How long a sequence starting with `first` is; 0 for a byte no valid sequence starts with. */
function lengthStartedBy(first: number): number {
  if (first >= 0xc2 && first <= 0xdf) return 2;
  if (first >= 0xe0 && first <= 0xef) return 3;
  if (first >= 0xf0 && first <= 0xf4) return 4;
  return 0;
}

/** Length of the valid UTF-8 sequence at `position`, or 0 when Go would decode RuneError of width 1 there. */
function sequenceLength(bytes: Uint8Array, position: number): number {
  const first = bytes[position] as number;
  const length = lengthStartedBy(first);
  if (length === 0 || position + length > bytes.length) return 0;
  const [low, high] = secondByteBounds(first);
  const second = bytes[position + 1] as number;
  if (second < low || second > high) return 0;
  for (let offset = 2; offset < length; offset++) if (!isContinuation(bytes[position + offset])) return 0;
  return length;
}

function asciiJson(byte: number): string {
  const short = shortEscapes.get(byte);
  if (short !== undefined) return short;
  if (byte < 0x20) return `\\u00${byte.toString(16).padStart(2, '0')}`;
  return String.fromCharCode(byte);
}

/** The JSON string Go's encoder writes for `string(bytes)` with HTML escaping off, quotes included. */
export function goJsonStringOfBytes(bytes: Uint8Array): string {
  let text = '"';
  let position = 0;
  while (position < bytes.length) {
    const byte = bytes[position] as number;
    if (byte < 0x80) {
      text += asciiJson(byte);
      position++;
      continue;
    }
    const length = sequenceLength(bytes, position);
    if (length === 0) {
      text += '\\ufffd';
      position++;
      continue;
    }
    const character = Buffer.from(bytes.buffer, bytes.byteOffset + position, length).toString('utf8');
    text += character === '\u2028' ? '\\u2028' : character === '\u2029' ? '\\u2029' : character;
    position += length;
  }
  return `${text}"`;
}
