import { test } from 'node:test';
import assert from 'node:assert/strict';
import { crc32c, crc32cUpdate, crc32cUpdateUint32 } from '../../src/storage/crc32c.js';

test('crc32c matches the published check value and RFC 3720 vectors', () => {
  assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
  assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
  assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, value) => value))), 0x46dd794e);
  assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, value) => 31 - value))), 0x113fdb5c);
  assert.equal(crc32c(new Uint8Array(0)), 0);
});

test('crc32c chains over split input and every length up to the 8-byte stride', () => {
  const bytes = Buffer.from('The quick brown fox jumps over the lazy dog, twice over.');
  for (let split = 0; split <= bytes.length; split++) {
    assert.equal(crc32cUpdate(crc32c(bytes, 0, split), bytes, split), crc32c(bytes), `split at ${split}`);
  }
  const word = Buffer.alloc(4);
  word.writeUInt32LE(0xdeadbeef, 0);
  assert.equal(crc32cUpdateUint32(12345, 0xdeadbeef), crc32cUpdate(12345, word));
});

test('crc32c rejects a range outside the buffer', () => {
  assert.throws(() => crc32c(Buffer.alloc(4), 0, 5), RangeError);
  assert.throws(() => crc32c(Buffer.alloc(4), 3, 2), RangeError);
});
