/**
 * A REAL parameter with a whole-number value (`{ real: 2 }`, from JSON `2.0`) through the
 * command codec and the state machine: it round-trips as a REAL and binds as one; a
 * command carrying one is version 2, every other command is still version 1, byte for
 * byte as before; and entries written by older builds (hand-written bytes here) decode and
 * apply exactly as they did.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { realValue } from '../../src/common/real-values.js';
import { decodeCommand, encodeCommand } from '../../src/state-machine/command-codec.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { SqlValue, StatementResult } from '../../src/state-machine/types.js';
import { command, entry, namedStatement, statement, temporaryDirectory } from './helpers.js';

/** A version 1 command as builds before REAL tagging wrote it: one statement, positional values only. */
function oldCommandBytes(sql: string, values: readonly (readonly [tag: number, payload: Buffer])[]): Uint8Array {
  const header = Buffer.alloc(19);
  header.writeUInt8(0x51, 0);
  header.writeUInt8(1, 1);
  header.writeUInt8(0, 2);
  header.writeBigInt64LE(1_700_000_000_000n, 3);
  header.writeBigUInt64LE(42n, 11);
  const count = (value: number): Buffer => {
    const bytes = Buffer.alloc(4);
    bytes.writeUInt32LE(value);
    return bytes;
  };
  const sqlBytes = Buffer.from(sql, 'utf8');
  const parts = [header, count(1), count(sqlBytes.length), sqlBytes, count(values.length)];
  for (const [tag, payload] of values) parts.push(Buffer.of(tag), payload);
  parts.push(count(0));
  return new Uint8Array(Buffer.concat(parts));
}

function integerPayload(value: bigint): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeBigInt64LE(value);
  return bytes;
}

function floatPayload(value: number): Buffer {
  const bytes = Buffer.alloc(8);
  bytes.writeDoubleLE(value);
  return bytes;
}

const oldValues = [
  [1, integerPayload(2n)],
  [2, floatPayload(2.5)],
  [2, floatPayload(1e300)],
  [2, floatPayload(2 ** 53)],
  // Never written by an older build (it wrote a whole number as an integer), read as it read it.
  [2, floatPayload(2)],
] as const;

test('a whole-number REAL round-trips as { real }, positional, named and in a queued batch; other reals stay plain numbers', () => {
  const values: SqlValue[] = [{ real: 2 }, { real: -0 }, { real: 100 }, { real: 2.5 }, 1e300, 2, 2n ** 60n, 0.1];
  const decoded = decodeCommand(
    encodeCommand(command([statement('SELECT ?, ?, ?, ?, ?, ?, ?, ?', ...values), namedStatement('SELECT :a, :b', { a: { real: 7 }, b: 7 })])),
  );
  assert.deepEqual(decoded.statements[0]?.positional, [{ real: 2 }, { real: -0 }, { real: 100 }, 2.5, 1e300, 2, 2n ** 60n, 0.1]);
  assert.ok(Object.is((decoded.statements[0]?.positional[1] as { real: number } | undefined)?.real, -0), '-0.0 keeps its sign in the log');
  assert.deepEqual({ ...decoded.statements[1]?.named }, { a: { real: 7 }, b: 7 });
  const queued = decodeCommand(
    encodeCommand({
      statements: [],
      queued: [{ statements: [statement('SELECT ?', { real: 3 })], transaction: false }],
      transaction: false,
      timestampMs: 1,
      seed: 1n,
    }),
  );
  assert.deepEqual(queued.queued?.[0]?.statements[0]?.positional, [{ real: 3 }]);
});

test('realValue tags only what a plain number would bind as INTEGER', () => {
  assert.deepEqual([realValue(2), realValue(-0), realValue(2.5), realValue(2 ** 53), realValue(1e300)], [{ real: 2 }, { real: -0 }, 2.5, 2 ** 53, 1e300]);
});

test('version 2 only when a whole-number REAL is carried; any other command is byte for byte the old version 1', () => {
  const withReal = encodeCommand(command([statement('SELECT ?', { real: 2 })]));
  assert.equal(withReal[1], 2);
  assert.equal(encodeCommand(command([statement('SELECT ?', { real: 2.5 })]))[1], 1, 'a REAL with a fraction is an ordinary f64');
  const old = oldCommandBytes('SELECT ?, ?, ?, ?', oldValues.slice(0, 4));
  const plain = command([statement('SELECT ?, ?, ?, ?', 2, 2.5, 1e300, 2 ** 53)], { timestampMs: 1_700_000_000_000, seed: 42n });
  assert.deepEqual(encodeCommand(plain), old);
});

test('an entry written by an older build decodes exactly as before: an f64 is a plain number, even a whole one', () => {
  const decoded = decodeCommand(oldCommandBytes('SELECT ?, ?, ?, ?, ?', oldValues));
  assert.deepEqual(decoded.statements[0]?.positional, [2, 2.5, 1e300, 2 ** 53, 2]);
  assert.equal(decoded.timestampMs, 1_700_000_000_000);
  assert.equal(decoded.seed, 42n);
});

test('a REAL holding NaN or no number is refused on encode', () => {
  for (const bad of [{ real: Number.NaN }, { real: '2' } as unknown as SqlValue]) {
    assert.throws(
      () => encodeCommand(command([statement('SELECT ?', bad)])),
      (error: unknown) => error instanceof StateMachineError && error.code === 'INVALID_VALUE',
    );
  }
});

function rows(result: StatementResult | undefined): readonly (readonly unknown[])[] {
  assert.equal(result?.kind, 'rows', JSON.stringify(result));
  return result.kind === 'rows' ? result.rows : [];
}

test('applied, a whole-number REAL is stored as REAL in an untyped column; an old entry applies as it always did', () => {
  const directory = temporaryDirectory('real-parameters');
  const machine = new SqliteStateMachine({ path: join(directory.path, 'db.sqlite') });
  try {
    machine.apply(1, entry(['CREATE TABLE t (id INTEGER PRIMARY KEY, value)']));
    machine.apply(
      2,
      entry([
        statement('INSERT INTO t VALUES (1, ?), (2, ?), (3, ?), (4, ?)', { real: 2 }, { real: -0 }, 2, 2.5),
        namedStatement('INSERT INTO t VALUES (5, :n)', { n: { real: 9 } }),
      ]),
    );
    machine.apply(3, oldCommandBytes('INSERT INTO t VALUES (6, ?), (7, ?), (8, ?), (9, ?), (10, ?)', oldValues));
    const [result] = machine.query([statement('SELECT id, typeof(value) FROM t ORDER BY id')]);
    assert.deepEqual(rows(result), [
      [1, 'real'],
      [2, 'real'],
      [3, 'integer'],
      [4, 'real'],
      [5, 'real'],
      [6, 'integer'],
      [7, 'real'],
      [8, 'real'],
      [9, 'real'],
      [10, 'integer'],
    ]);
  } finally {
    machine.close();
    directory.cleanup();
  }
});
