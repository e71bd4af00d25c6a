/**
 * The frames of /db/stream (src/common/log-stream-frames.ts): what is encoded is read
 * back the same however the byte stream is cut into chunks, and a stream that cannot be
 * one (an unknown kind, a length past the bound) is refused rather than buffered.
 */
import assert from 'node:assert/strict';
import { it } from 'node:test';
import { encodeLogStreamFrame, LogStreamFrameReader, type LogStreamFrame } from '../../src/common/log-stream-frames.js';

const frames: LogStreamFrame[] = [
  { kind: 'heartbeat', index: 7 },
  { kind: 'entry', index: 8, data: new Uint8Array([0x51, 1, 2, 3]) },
  { kind: 'entry', index: 9, data: new Uint8Array(0) },
  { kind: 'entry', index: 2 ** 53 - 1, data: new Uint8Array(3000).fill(9) },
  { kind: 'error', code: 'LOG_COMPACTED', message: 'the log starts at 12 — "quoted"' },
];

function concatenated(parts: readonly Uint8Array[]): Uint8Array {
  const bytes = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    bytes.set(part, offset);
    offset += part.byteLength;
  }
  return bytes;
}

it('reads back every frame, whatever the chunk boundaries', () => {
  const stream = concatenated(frames.map(encodeLogStreamFrame));
  for (const chunkBytes of [1, 2, 5, 13, 14, 100, 4096, stream.byteLength]) {
    const reader = new LogStreamFrameReader();
    const read: LogStreamFrame[] = [];
    for (let offset = 0; offset < stream.byteLength; offset += chunkBytes) read.push(...reader.push(stream.subarray(offset, offset + chunkBytes)));
    assert.deepEqual(read, frames, `chunks of ${chunkBytes} bytes`);
    assert.equal(reader.pendingBytes, 0);
  }
});

it('holds a partial frame until the rest arrives', () => {
  const reader = new LogStreamFrameReader();
  const bytes = encodeLogStreamFrame({ kind: 'entry', index: 3, data: new Uint8Array([1, 2, 3]) });
  assert.deepEqual(reader.push(bytes.subarray(0, 14)), []);
  assert.equal(reader.pendingBytes, 14);
  assert.deepEqual(reader.push(bytes.subarray(14)), [{ kind: 'entry', index: 3, data: new Uint8Array([1, 2, 3]) }]);
});

it('refuses an unknown kind and a length past the bound', () => {
  const unknown = encodeLogStreamFrame({ kind: 'heartbeat', index: 1 });
  unknown[0] = 0x5a;
  assert.throws(() => new LogStreamFrameReader().push(unknown), /unknown log stream frame kind 0x5a/);
  const huge = new Uint8Array(13);
  new DataView(huge.buffer).setUint8(0, 0x45);
  new DataView(huge.buffer).setUint32(9, 2 ** 32 - 1);
  assert.throws(() => new LogStreamFrameReader().push(huge), /over 268435456/);
});
