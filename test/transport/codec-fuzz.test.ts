/**
 * Property-based fuzzing of the peer wire format (src/transport/codec.ts) and the
 * control-frame decoders (src/transport/protocol.ts): whatever bytes a peer sends, a
 * decoder returns a value or throws TransportError (MALFORMED_FRAME, FRAME_TOO_LARGE),
 * within time proportional to the input; encoded values and frames round-trip exactly.
 * Runs and seed: test/fuzz-settings.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeValue, decodeValues, encodeFrame, encodeValue, FrameDecoder, FrameKind, type Frame } from '../../src/transport/codec.js';
import { TransportError } from '../../src/transport/errors.js';
import {
  decodeCallReply,
  decodeCallRequest,
  decodeHello,
  decodeRefusal,
  decodeSnapshotBegin,
  decodeSnapshotEnd,
  decodeSnapshotResult,
} from '../../src/transport/protocol.js';
import { fuzzParameters, withinTime } from '../fuzz-settings.js';

/** Far above any decode of the inputs below (a few KiB at most): a blow-up, not a slow machine, crosses it. */
const decodeTimeBoundMs = 1_000;

function expectTransportError(action: () => unknown, codes: readonly string[]): void {
  try {
    withinTime(decodeTimeBoundMs, action);
  } catch (error) {
    if (error instanceof TransportError && codes.includes(error.code)) return;
    throw error;
  }
}

const extensionTypes = [0x00, 0x42, 0x62, 0x65, 0x69, 0x70, 0x72, 0x73, 0x74, 0x78, 0xff, 0x01, 0x7f];

/** One MessagePack token: a header with a random (often hostile) length, an extension, or a whole small value. */
const msgpackToken: fc.Arbitrary<readonly number[]> = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((byte) => [byte]),
  // Containers and strings with lengths from tiny to absurd (array 32 / map 32 / str 32 / bin 32).
  fc
    .tuple(fc.constantFrom<number>(0xdc, 0xdd, 0xde, 0xdf, 0xd9, 0xda, 0xdb, 0xc4, 0xc5, 0xc6), fc.integer({ min: 0, max: 0xffffffff }))
    .map(([marker, length]) => {
      const width = [0xdc, 0xde, 0xda, 0xc5].includes(marker) ? 2 : [0xd9, 0xc4].includes(marker) ? 1 : 4;
      const bytes = [marker];
      for (let shift = (width - 1) * 8; shift >= 0; shift -= 8) bytes.push(Math.floor(length / 2 ** shift) & 0xff);
      return bytes;
    }),
  fc.integer({ min: 0x80, max: 0x9f }).map((header) => [header]),
  // Fixed-size and sized extensions of every type msgpackr knows, with random data.
  fc
    .tuple(fc.constantFrom(0xd4, 0xd5, 0xd6, 0xd7, 0xd8), fc.constantFrom(...extensionTypes), fc.uint8Array({ minLength: 16, maxLength: 16 }))
    .map(([marker, type, data]) => [marker, type, ...data.subarray(0, 2 ** (marker - 0xd4))]),
  fc.tuple(fc.constantFrom(...extensionTypes), fc.uint8Array({ maxLength: 24 })).map(([type, data]) => [0xc7, data.length, type, ...data]),
  // msgpackr's bundled strings (0x62) move the read position by the size its data names: near by, both ways.
  fc.tuple(fc.integer({ min: -24, max: 24 }), fc.uint8Array({ maxLength: 8 })).map(([moveBytes, rest]) => {
    const size = Buffer.alloc(4);
    size.writeInt32BE(moveBytes + 4 + rest.length, 0);
    return [0xc7, 4 + rest.length, 0x62, ...size, ...rest];
  }),
  fc.constantFrom([0xa0], [0xa1, 0x61], [0xc0], [0xc2], [0xc3], [0x01], [0xcb, 0, 0, 0, 0, 0, 0, 0, 0]),
);

const msgpackLike = fc.array(msgpackToken, { maxLength: 40 }).map((tokens) => new Uint8Array(tokens.flat()));
const hostileBytes = fc.oneof(fc.uint8Array({ maxLength: 512 }), msgpackLike);

/**
 * Plain data as the transport carries it. Two deliberate exclusions, both MessagePack's
 * own: it has no negative zero (-0 arrives as 0), and a map key "__proto__" arrives as
 * "__proto_" (msgpackr's guard against prototype pollution).
 */
const { plainValue } = fc.letrec((tie) => ({
  plainValue: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(null, true, false, undefined),
    fc.double().filter((value) => !Object.is(value, -0)),
    fc.integer(),
    fc.bigInt({ min: -(2n ** 256n), max: 2n ** 256n }),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.uint8Array({ maxLength: 64 }),
    fc.array(tie('plainValue'), { maxLength: 6 }),
    fc.dictionary(
      fc.string({ maxLength: 10 }).filter((key) => key !== '__proto__'),
      tie('plainValue'),
      { maxKeys: 6, noNullPrototype: true },
    ),
  ),
}));

describe('fuzz: MessagePack values', () => {
  it('any bytes decode to a value or MALFORMED_FRAME, in bounded time', () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        expectTransportError(() => decodeValue(bytes), ['MALFORMED_FRAME']);
      }),
      fuzzParameters(400),
    );
  });

  it('any bytes as a MESSAGES payload decode to values or MALFORMED_FRAME, in bounded time', () => {
    fc.assert(
      fc.property(hostileBytes, (bytes) => {
        expectTransportError(() => decodeValues(bytes), ['MALFORMED_FRAME']);
      }),
      fuzzParameters(400),
    );
  });

  it('plain values round-trip exactly, alone and concatenated', () => {
    fc.assert(
      fc.property(fc.array(plainValue, { minLength: 1, maxLength: 4 }), (values) => {
        assert.deepStrictEqual(decodeValue(encodeValue(values[0])), values[0]);
        assert.deepStrictEqual(decodeValues(Buffer.concat(values.map((value) => encodeValue(value)))), values);
      }),
      fuzzParameters(300),
    );
  });

  it('every truncation of an encoded value is MALFORMED_FRAME', () => {
    fc.assert(
      fc.property(plainValue, fc.nat(), (value, cut) => {
        const bytes = encodeValue(value);
        fc.pre(bytes.length > 1);
        const length = cut % bytes.length;
        assert.throws(
          () => decodeValue(bytes.subarray(0, length)),
          (error: unknown) => error instanceof TransportError && error.code === 'MALFORMED_FRAME',
        );
      }),
      fuzzParameters(300),
    );
  });
});

const frameBytesMax = 4096;
const frameKinds = Object.values(FrameKind);
const validFrame = fc.record({ kind: fc.constantFrom(...frameKinds), payload: fc.uint8Array({ maxLength: 300 }) });

/** Cuts `bytes` into chunks at the given (sorted, deduplicated) points. */
function chunked(bytes: Buffer, cutPoints: readonly number[]): Buffer[] {
  const points = [...new Set(cutPoints.map((point) => point % (bytes.length + 1)))].sort((left, right) => left - right);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const point of [...points, bytes.length]) {
    chunks.push(bytes.subarray(start, point));
    start = point;
  }
  return chunks;
}

function plainFrames(frames: readonly Frame[]): { kind: number; payload: number[] }[] {
  return frames.map((frame) => ({ kind: frame.kind, payload: [...frame.payload] }));
}

describe('fuzz: frames', () => {
  it('frames split at any points decode to exactly the frames sent', () => {
    fc.assert(
      fc.property(fc.array(validFrame, { maxLength: 6 }), fc.array(fc.nat(), { maxLength: 8 }), (frames, cuts) => {
        const stream = Buffer.concat(frames.map((frame) => encodeFrame(frame.kind, [frame.payload], frameBytesMax)));
        const decoder = new FrameDecoder(frameBytesMax);
        const received = chunked(stream, cuts).flatMap((chunk) => decoder.push(chunk));
        assert.deepStrictEqual(plainFrames(received), plainFrames(frames));
      }),
      fuzzParameters(300),
    );
  });

  it('a truncated stream yields the whole frames before the cut and waits for the rest', () => {
    fc.assert(
      fc.property(fc.array(validFrame, { minLength: 1, maxLength: 4 }), fc.nat(), (frames, cut) => {
        const encoded = frames.map((frame) => encodeFrame(frame.kind, [frame.payload], frameBytesMax));
        const stream = Buffer.concat(encoded);
        const length = cut % stream.length;
        let whole = 0;
        for (let total = 0, index = 0; index < encoded.length && total + (encoded[index] as Buffer).length <= length; index++) {
          total += (encoded[index] as Buffer).length;
          whole++;
        }
        const received = new FrameDecoder(frameBytesMax).push(stream.subarray(0, length));
        assert.deepStrictEqual(plainFrames(received), plainFrames(frames.slice(0, whole)));
      }),
      fuzzParameters(300),
    );
  });

  it('any byte stream in any chunks yields frames or FRAME_TOO_LARGE / MALFORMED_FRAME, never more than one frame held', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.array(fc.nat(), { maxLength: 8 }), (bytes, cuts) => {
        const decoder = new FrameDecoder(frameBytesMax);
        let deliveredBytes = 0;
        expectTransportError(() => {
          for (const chunk of chunked(Buffer.from(bytes), cuts)) {
            for (const frame of decoder.push(chunk)) {
              assert.ok(frame.payload.length + 1 <= frameBytesMax);
              assert.ok(frameKinds.includes(frame.kind));
              deliveredBytes += frame.payload.length + 5;
            }
          }
        }, ['FRAME_TOO_LARGE', 'MALFORMED_FRAME']);
        assert.ok(deliveredBytes <= bytes.length);
      }),
      fuzzParameters(400),
    );
  });

  it('an oversized length prefix is refused from the header alone, at any size above the bound', () => {
    fc.assert(
      fc.property(fc.integer({ min: frameBytesMax + 1, max: 0xffffffff }), fc.constantFrom(...frameKinds), (length, kind) => {
        const header = Buffer.alloc(5);
        header.writeUInt32BE(length, 0);
        header.writeUInt8(kind, 4);
        const decoder = new FrameDecoder(frameBytesMax);
        assert.throws(
          () => decoder.push(header),
          (error: unknown) => error instanceof TransportError && error.code === 'FRAME_TOO_LARGE',
        );
        assert.throws(() => decoder.push(Buffer.alloc(1)), /used after it reported an error/);
      }),
      fuzzParameters(200),
    );
  });
});

/** A record with the fields the control frames name, each of a random (often wrong) type. */
const controlRecord = fc.record(
  {
    protocolVersion: plainValue,
    clusterId: plainValue,
    nodeId: plainValue,
    address: plainValue,
    requestId: plainValue,
    method: plainValue,
    ok: plainValue,
    code: plainValue,
    message: plainValue,
    totalBytes: plainValue,
    sha256: plainValue,
  },
  { requiredKeys: [] },
);

const controlDecoders: readonly ((bytes: Uint8Array) => unknown)[] = [
  decodeHello,
  decodeCallRequest,
  decodeCallReply,
  decodeSnapshotBegin,
  decodeSnapshotEnd,
  decodeSnapshotResult,
  (bytes) => decodeRefusal(bytes, 'refusal'),
];

describe('fuzz: control frames', () => {
  it('every control-frame decoder returns or throws MALFORMED_FRAME, for any bytes or any record', () => {
    const payload = fc.oneof(
      hostileBytes,
      controlRecord.map((record) => encodeValue(record)),
    );
    fc.assert(
      fc.property(payload, (bytes) => {
        for (const decode of controlDecoders) expectTransportError(() => decode(bytes), ['MALFORMED_FRAME']);
      }),
      fuzzParameters(400),
    );
  });

  it('a well-formed handshake round-trips, whatever its strings and version', () => {
    const hello = fc.record(
      {
        protocolVersion: fc.nat(),
        clusterId: fc.string({ unit: 'binary', maxLength: 30 }),
        nodeId: fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
        address: fc.string({ maxLength: 30 }),
        features: fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }),
      },
      { noNullPrototype: true },
    );
    fc.assert(
      fc.property(hello, (sent) => {
        assert.deepStrictEqual(decodeHello(encodeValue(sent)), sent);
        // An older peer sends no features: it is taken as announcing none.
        const { features: _features, ...older } = sent;
        assert.deepStrictEqual(decodeHello(encodeValue(older)), { ...older, features: [] });
      }),
      fuzzParameters(200),
    );
  });
});
