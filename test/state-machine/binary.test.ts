import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ByteReader, ByteWriter } from '../../src/state-machine/binary.js';

const limitError = (bytes: number): Error => new RangeError(`needs ${bytes}`);

function expectedText(value: string): Buffer {
  const utf8 = Buffer.from(value, 'utf8');
  const prefix = Buffer.alloc(4);
  prefix.writeUInt32LE(utf8.length);
  return Buffer.concat([prefix, utf8]);
}

test('text is written as its UTF-8 bytes after a u32 length, whatever its characters, and reads back', () => {
  const values = ['', 'INSERT INTO kv VALUES (?, ?)', 'é', '€uro', '😀 and 𝄞', 'x'.repeat(5000), 'ü'.repeat(1000) + '😀'.repeat(300)];
  const writer = new ByteWriter(1024 * 1024, limitError);
  for (const value of values) writer.text(value);
  const written = Buffer.from(writer.finish());
  assert.deepEqual(written, Buffer.concat(values.map(expectedText)));
  const reader = new ByteReader(written);
  for (const value of values) assert.equal(reader.text('value', 1024 * 1024), value);
  assert.equal(reader.remaining, 0);
});

test('text that fits the bound exactly is written, one byte over is refused', () => {
  const value = 'a'.repeat(100);
  const exact = new ByteWriter(104, limitError);
  exact.text(value);
  assert.deepEqual(Buffer.from(exact.finish()), expectedText(value));
  const over = new ByteWriter(103, limitError);
  assert.throws(() => over.text(value), /needs 104/);
  const multibyte = '€'.repeat(10);
  const atBound = new ByteWriter(4 + 30, limitError);
  atBound.text(multibyte);
  assert.deepEqual(Buffer.from(atBound.finish()), expectedText(multibyte));
});
