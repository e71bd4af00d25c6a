import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeValue, decodeValues, encodeFrame, encodeValue, encodeValueFrame, FrameDecoder, FrameKind } from '../../src/transport/codec.js';
import { TransportError } from '../../src/transport/errors.js';
import { resolveLimits } from '../../src/transport/limits.js';

function isCode(code: string): (error: unknown) => boolean {
  return (error: unknown) => error instanceof TransportError && error.code === code;
}

describe('codec: values', () => {
  it('round-trips plain data with binary as Uint8Array and bigint at any size', () => {
    const value = {
      numbers: [0, -1, 1.5, 2 ** 40, -(2 ** 53 - 1), Number.MAX_SAFE_INTEGER],
      bigints: [0n, 5n, -5n, 2n ** 63n, 2n ** 64n, -(2n ** 200n)],
      bytes: new Uint8Array([0, 255, 128]),
      nested: { list: [{ deep: new Uint8Array(3) }], nothing: null, missing: undefined },
      text: 'ünïcødé',
    };
    const decoded = decodeValue(encodeValue(value)) as typeof value;
    assert.deepStrictEqual(decoded, value);
    assert.equal(Buffer.isBuffer(decoded.bytes), false);
    assert.equal(typeof decoded.numbers[3], 'number', 'large safe integers stay numbers');
  });

  it('copies binary out of the frame, so values do not alias it', () => {
    const encoded = encodeValue({ bytes: new Uint8Array([1, 2, 3]) });
    const decoded = decodeValue(encoded) as { bytes: Uint8Array };
    encoded.fill(0);
    assert.deepStrictEqual(decoded.bytes, new Uint8Array([1, 2, 3]));
  });

  it('rejects truncated, trailing and invalid bytes with MALFORMED_FRAME', () => {
    const encoded = encodeValue({ a: 1 });
    assert.throws(() => decodeValue(encoded.subarray(0, encoded.byteLength - 1)), isCode('MALFORMED_FRAME'));
    assert.throws(() => decodeValue(Buffer.concat([encoded, Buffer.from([1])])), isCode('MALFORMED_FRAME'));
    assert.throws(() => decodeValue(Buffer.from([0xc1])), isCode('MALFORMED_FRAME'));
    assert.throws(() => decodeValues(Buffer.from([0x92, 1])), isCode('MALFORMED_FRAME'));
  });

  it('decodes a concatenation of values in order', () => {
    const bytes = Buffer.concat([encodeValue(1), encodeValue({ b: 2n }), encodeValue('three')]);
    assert.deepStrictEqual(decodeValues(bytes), [1, { b: 2n }, 'three']);
  });
});

describe('codec: frames', () => {
  it('encodes a frame of exactly frameBytesMax and refuses one byte more', () => {
    const frame = encodeFrame(FrameKind.snapshotChunk, [new Uint8Array(99)], 100);
    assert.equal(frame.byteLength, 104);
    assert.equal(frame.readUInt32BE(0), 100);
    assert.throws(() => encodeFrame(FrameKind.snapshotChunk, [new Uint8Array(100)], 100), isCode('FRAME_TOO_LARGE'));
  });

  it('cuts frames correctly whatever the chunk boundaries', () => {
    const frames = [
      encodeValueFrame(FrameKind.call, { requestId: 1, method: 'm', payload: new Uint8Array(300) }, 1 << 20),
      encodeFrame(FrameKind.snapshotChunk, [Buffer.from('abc')], 1 << 20),
      encodeValueFrame(FrameKind.reply, { requestId: 1, ok: true, result: 7n }, 1 << 20),
    ];
    const stream = Buffer.concat(frames);
    for (let split = 1; split < stream.byteLength; split += 7) {
      const decoder = new FrameDecoder(1 << 20);
      const decoded = [...decoder.push(stream.subarray(0, split)), ...decoder.push(stream.subarray(split))];
      assert.deepStrictEqual(
        decoded.map((frame) => frame.kind),
        [FrameKind.call, FrameKind.snapshotChunk, FrameKind.reply],
      );
      assert.equal(Buffer.from(decoded[1]?.payload ?? []).toString(), 'abc');
      assert.deepStrictEqual(decodeValue(decoded[2]?.payload ?? new Uint8Array()), { requestId: 1, ok: true, result: 7n });
    }
    const byteByByte = new FrameDecoder(1 << 20);
    let count = 0;
    for (const byte of stream) count += byteByByte.push(Buffer.from([byte])).length;
    assert.equal(count, 3);
  });

  it('refuses an oversized length from the header alone, before the body arrives', () => {
    const decoder = new FrameDecoder(100);
    const header = Buffer.from([0, 0, 0, 101, FrameKind.messages]);
    assert.throws(() => decoder.push(header), isCode('FRAME_TOO_LARGE'));
    assert.throws(() => decoder.push(Buffer.from([1])), /after it reported an error/);
    assert.deepStrictEqual(new FrameDecoder(100).push(Buffer.from([0, 0, 0, 100, FrameKind.messages])), [], 'exactly the bound waits for the body');
  });

  it('refuses a zero length and an unknown kind', () => {
    assert.throws(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 0, 1])), isCode('MALFORMED_FRAME'));
    assert.throws(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 1, 0])), isCode('MALFORMED_FRAME'));
    assert.throws(() => new FrameDecoder(100).push(Buffer.from([0, 0, 0, 1, 99])), isCode('MALFORMED_FRAME'));
  });

  it('rejects impossible decoder bounds', () => {
    assert.throws(() => new FrameDecoder(0), RangeError);
    assert.throws(() => new FrameDecoder(2 ** 32), RangeError);
  });
});

describe('limits', () => {
  it('fills defaults and rejects impossible limits with a clear error', () => {
    assert.equal(resolveLimits().frameBytesMax, 16 * 1024 * 1024);
    assert.equal(resolveLimits({ callsInFlightMax: 3 }).callsInFlightMax, 3);
    assert.throws(() => resolveLimits({ callsInFlightMax: 0 }), /callsInFlightMax must be a positive integer/);
    assert.throws(() => resolveLimits({ callTimeoutMs: 1.5 }), /callTimeoutMs/);
    assert.throws(() => resolveLimits({ frameBytesMax: 1000, snapshotChunkBytes: 1000 }), /snapshotChunkBytes 1000 must fit a frame/);
    assert.throws(() => resolveLimits({ backoffBaseMs: 100, backoffMsMax: 50 }), /below backoffBaseMs/);
    assert.throws(() => resolveLimits({ frameBytesMax: 2 ** 32 }), /32-bit/);
  });
});

describe('codec: hostile values', () => {
  it('refuses the reserved 0xC1 byte nested anywhere', () => {
    assert.throws(() => decodeValue(Buffer.from([0x91, 0xc1])), isCode('MALFORMED_FRAME'));
    assert.throws(() => decodeValues(Buffer.concat([encodeValue(1), Buffer.from([0x81, 0xa1, 0x61, 0xc1])])), isCode('MALFORMED_FRAME'));
  });

  it('refuses values nested deeper than the depth bound, accepts them at it', () => {
    const nest = (depth: number): unknown => (depth === 0 ? 1 : [nest(depth - 1)]);
    assert.deepStrictEqual(decodeValue(encodeValue(nest(64))), nest(64));
    assert.throws(() => decodeValue(encodeValue(nest(65))), isCode('MALFORMED_FRAME'));
  });

  it('refuses structured-clone references: a small DAG would be walked once per path, 2^depth times', () => {
    // Level k is `[level k-1, pointer to level k-1]`: 24 levels, 300 bytes, 2^24 paths.
    const identify = (id: number): number[] => [0xd6, 0x69, 0, 0, 0, id];
    const pointTo = (id: number): number[] => [0xd6, 0x70, 0, 0, 0, id];
    let bytes = [...identify(0), 0x90];
    for (let level = 1; level <= 24; level++) bytes = [...identify(level), 0x92, ...bytes, ...pointTo(level - 1)];
    assert.throws(() => decodeValue(Buffer.from(bytes)), isCode('MALFORMED_FRAME'));
    assert.throws(() => decodeValues(Buffer.from(bytes)), isCode('MALFORMED_FRAME'));
  });

  it('refuses a MESSAGES payload whose bundled strings point backwards (it was read again forever)', () => {
    // Two empty strings, then a bundled-strings extension (0x62) whose size (-5) moves the
    // read position back to them: each pass ended where it began, and values piled up.
    const bytes = Buffer.from([0xa0, 0xa0, 0xc7, 4, 0x62, 0xff, 0xff, 0xff, 0xfb, 0xc0]);
    assert.throws(() => decodeValues(bytes), isCode('MALFORMED_FRAME'));
    assert.throws(() => decodeValue(bytes), isCode('MALFORMED_FRAME'));
  });
});
