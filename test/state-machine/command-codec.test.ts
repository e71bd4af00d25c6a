import { test } from 'node:test';
import assert from 'node:assert/strict';
import { commandLimits, commandVersion, decodeCommand, encodeCommand } from '../../src/state-machine/command-codec.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import type { Command } from '../../src/state-machine/types.js';
import { command, namedStatement, statement } from './helpers.js';

function rejects(action: () => unknown, code: string, pattern: RegExp): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof StateMachineError, `expected StateMachineError, got ${String(error)}`);
    assert.equal(error.code, code);
    assert.match(error.message, pattern);
    return true;
  });
}

const everyValue: Command = command(
  [
    statement('INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)', 1, -7, 2n ** 60n + 1n, -(2n ** 63n), 1.5, 'text ✓', null, true, new Uint8Array([0, 255, 7])),
    namedStatement('SELECT :a, @b, $c', { a: false, b: 2n ** 63n - 1n, c: '' }, [0.1]),
    statement(''),
  ],
  { transaction: true, timestampMs: 1_700_000_000_999, seed: 2n ** 64n - 1n, requestId: 'request-ü-1' },
);

test('a command round-trips every value type, bigints beyond 2^53 keep precision', () => {
  const decoded = decodeCommand(encodeCommand(everyValue));
  assert.deepEqual(decoded.statements[0]?.positional, [1, -7, 2n ** 60n + 1n, -(2n ** 63n), 1.5, 'text ✓', null, true, new Uint8Array([0, 255, 7])]);
  assert.deepEqual({ ...decoded.statements[1]?.named }, { a: false, b: 2n ** 63n - 1n, c: '' });
  assert.deepEqual(decoded.statements[1]?.positional, [0.1]);
  assert.equal(decoded.statements[2]?.sql, '');
  assert.equal(decoded.transaction, true);
  assert.equal(decoded.timestampMs, 1_700_000_000_999);
  assert.equal(decoded.seed, 2n ** 64n - 1n);
  assert.equal(decoded.requestId, 'request-ü-1');
  assert.equal(decodeCommand(encodeCommand(command(['SELECT 1']))).requestId, undefined);
});

test('a bad magic, an unknown version or unknown flags is a clear error', () => {
  const bytes = encodeCommand(everyValue);
  rejects(() => decodeCommand(Uint8Array.of(0x00, ...bytes.subarray(1))), 'BAD_COMMAND', /not a quorumlite command/);
  const future = bytes.slice();
  future[1] = commandVersion + 1;
  rejects(() => decodeCommand(future), 'BAD_COMMAND', new RegExp(`unsupported command version ${commandVersion + 1}`));
  const flags = bytes.slice();
  flags[2] = 0x80;
  rejects(() => decodeCommand(flags), 'BAD_COMMAND', /unknown command flags/);
});

test('every truncation of a command is a clear error, never a partial command', () => {
  const bytes = encodeCommand(everyValue);
  for (let length = 0; length < bytes.length; length++) {
    rejects(() => decodeCommand(bytes.subarray(0, length)), 'BAD_COMMAND', /truncated command|more than the bound/);
  }
  rejects(() => decodeCommand(Uint8Array.of(...bytes, 0)), 'BAD_COMMAND', /trailing bytes/);
});

test('invalid UTF-8 in SQL or a text parameter is refused on decode', () => {
  const sqlBytes = encodeCommand(command([statement('SELECT 1')]));
  const sqlOffset = sqlBytes.indexOf(0x53); // 'S' of SELECT
  const badSql = sqlBytes.slice();
  badSql[sqlOffset] = 0xff;
  rejects(() => decodeCommand(badSql), 'BAD_COMMAND', /statement 0 SQL is not valid UTF-8/);
  const parameterBytes = encodeCommand(command([statement('SELECT ?', 'zz')]));
  const badParameter = parameterBytes.slice();
  badParameter[parameterBytes.lastIndexOf(0x7a)] = 0xc3; // a lead byte with no continuation
  rejects(() => decodeCommand(badParameter), 'BAD_COMMAND', /parameter 1 is not valid UTF-8/);
  const badTag = parameterBytes.slice();
  badTag[parameterBytes.length - 11] = 99; // tag, u32 length, 'zz', then the u32 named count
  rejects(() => decodeCommand(badTag), 'BAD_COMMAND', /unknown value tag 99/);
});

test('lone surrogates, NaN, out-of-range integers and bad seeds are refused on encode', () => {
  rejects(() => encodeCommand(command([statement('SELECT \uD800')])), 'INVALID_VALUE', /statement 0 SQL is not valid Unicode/);
  rejects(() => encodeCommand(command([statement('SELECT ?', 'a\uDC00')])), 'INVALID_VALUE', /parameter 1: text is not valid Unicode/);
  rejects(() => encodeCommand(command([statement('SELECT ?', Number.NaN)])), 'INVALID_VALUE', /NaN/);
  rejects(() => encodeCommand(command([statement('SELECT ?', 2n ** 63n)])), 'INVALID_VALUE', /does not fit in 64 bits/);
  rejects(() => encodeCommand(command(['SELECT 1'], { seed: -1n })), 'INVALID_VALUE', /seed/);
  rejects(() => encodeCommand(command(['SELECT 1'], { timestampMs: 1.5 })), 'INVALID_VALUE', /timestampMs/);
  rejects(() => encodeCommand(command([statement('SELECT ?', {} as never)])), 'INVALID_VALUE', /unsupported value type/);
});

test('statementCountMax: at the bound encodes, one over is refused', () => {
  const atBound = Array.from({ length: commandLimits.statementCountMax }, () => 'SELECT 1');
  assert.equal(decodeCommand(encodeCommand(command(atBound))).statements.length, commandLimits.statementCountMax);
  rejects(() => encodeCommand(command([...atBound, 'SELECT 1'])), 'COMMAND_TOO_LARGE', /statement count is 10001, more than the bound 10000/);
});

test('sqlBytesMax: at the bound encodes, one over is refused', () => {
  const atBound = `SELECT '${'x'.repeat(commandLimits.sqlBytesMax - 9)}'`;
  assert.equal(Buffer.byteLength(atBound), commandLimits.sqlBytesMax);
  assert.equal(decodeCommand(encodeCommand(command([atBound]))).statements[0]?.sql, atBound);
  rejects(() => encodeCommand(command([`${atBound} `])), 'COMMAND_TOO_LARGE', /statement 0 SQL \(bytes\) is 1048577/);
});

test('parameterBytesMax: a text or blob at the bound encodes, one byte over is refused', () => {
  const text = 'é'.repeat(commandLimits.parameterBytesMax / 2);
  const decoded = decodeCommand(encodeCommand(command([statement('SELECT ?', text)])));
  assert.equal(decoded.statements[0]?.positional[0], text);
  rejects(() => encodeCommand(command([statement('SELECT ?', `${text}x`)])), 'COMMAND_TOO_LARGE', /parameter 1: 4194305 bytes/);
  const blob = new Uint8Array(commandLimits.parameterBytesMax + 1);
  rejects(() => encodeCommand(command([namedStatement('SELECT :b', { b: blob })])), 'COMMAND_TOO_LARGE', /parameter :b: 4194305 bytes/);
});

test('parameterCountMax: at the bound encodes, one over is refused', () => {
  const values = Array.from({ length: commandLimits.parameterCountMax }, (_, position) => position);
  assert.equal(decodeCommand(encodeCommand(command([statement('SELECT ?', ...values)]))).statements[0]?.positional.length, values.length);
  rejects(
    () => encodeCommand(command([namedStatement('SELECT ?', { extra: 1 }, values)])),
    'COMMAND_TOO_LARGE',
    /parameter count is 32767, more than the bound 32766/,
  );
});

test('requestIdBytesMax: at the bound encodes, one over is refused', () => {
  const atBound = 'r'.repeat(commandLimits.requestIdBytesMax);
  assert.equal(decodeCommand(encodeCommand(command(['SELECT 1'], { requestId: atBound }))).requestId, atBound);
  rejects(() => encodeCommand(command(['SELECT 1'], { requestId: `${atBound}r` })), 'COMMAND_TOO_LARGE', /request id \(bytes\) is 257/);
});

test('commandBytesMax: a command of exactly the bound encodes, one byte more is refused', () => {
  const big = new Uint8Array(commandLimits.parameterBytesMax);
  const withTail = (tailBytes: number): Command => command([statement('SELECT ?, ?, ?, ?', big, big, big, new Uint8Array(tailBytes))]);
  const overhead = encodeCommand(withTail(0)).length;
  const tailAtBound = commandLimits.commandBytesMax - overhead;
  assert.ok(tailAtBound > 0 && tailAtBound <= commandLimits.parameterBytesMax);
  assert.equal(encodeCommand(withTail(tailAtBound)).length, commandLimits.commandBytesMax);
  rejects(() => encodeCommand(withTail(tailAtBound + 1)), 'COMMAND_TOO_LARGE', /encoded command \(bytes\) is 16777217/);
  rejects(() => decodeCommand(new Uint8Array(commandLimits.commandBytesMax + 1)), 'BAD_COMMAND', /more than the bound/);
});

test('decode refuses counts over their bounds before allocating', () => {
  const bytes = encodeCommand(command([]));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  view.setUint32(bytes.length - 4, commandLimits.statementCountMax + 1, true);
  rejects(() => decodeCommand(bytes), 'BAD_COMMAND', /statement count 10001 is more than the bound/);
});

test('SQL shared between statements is recognized byte for byte: same length but different text, at and past the short-compare length', () => {
  // 256 bytes is the longest span compared in JavaScript; 257 goes to Buffer.compare. Each pair differs only in its last byte.
  const sqlOfBytes = (byteCount: number, last: string): string => `SELECT '${'x'.repeat(byteCount - 10)}${last}'`;
  const atBound = [sqlOfBytes(256, 'a'), sqlOfBytes(256, 'b')];
  const overBound = [sqlOfBytes(257, 'a'), sqlOfBytes(257, 'b')];
  assert.deepEqual(
    [...atBound, ...overBound].map((sql) => Buffer.byteLength(sql)),
    [256, 256, 257, 257],
  );
  const original = command([
    statement('SELECT 1'),
    statement('SELECT 2'),
    statement('SELECT 2'),
    statement('SELECT ü'),
    statement('SELECT ü'),
    ...[...atBound, atBound[1] as string, ...overBound, overBound[1] as string, overBound[0] as string].map((sql) => statement(sql)),
    statement('SELECT 1'),
  ]);
  const decoded = decodeCommand(encodeCommand(original));
  assert.deepEqual(
    decoded.statements.map((item) => item.sql),
    original.statements.map((item) => item.sql),
  );
});

test('decode errors name the statement and parameter where they happened', () => {
  const bytes = encodeCommand(command([statement('SELECT 1'), statement('SELECT 2'), statement('SELECT ?, ?, ?', 1, 2, 'zz')]));
  const badParameter = bytes.slice();
  badParameter[bytes.lastIndexOf(0x7a)] = 0xc3;
  rejects(() => decodeCommand(badParameter), 'BAD_COMMAND', /^statement 2 parameter 3 is not valid UTF-8$/);
  const named = encodeCommand(command([statement('SELECT 1'), namedStatement('SELECT :first, :second', { first: 1, second: 'zz' })]));
  const badNamed = named.slice();
  badNamed[named.lastIndexOf(0x7a)] = 0xc3;
  rejects(() => decodeCommand(badNamed), 'BAD_COMMAND', /^statement 1 parameter :second is not valid UTF-8$/);
  rejects(() => decodeCommand(bytes.subarray(0, bytes.length - 5)), 'BAD_COMMAND', /^truncated command: statement 2 parameter 3 needs 2 bytes, 1 left$/);
});
