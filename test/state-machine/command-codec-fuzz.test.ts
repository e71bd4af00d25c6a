/**
 * Property-based fuzzing of the replicated command's codec (src/state-machine/command-codec.ts).
 * A Raft entry's bytes are input: whatever they are, decoding returns a command or throws
 * StateMachineError('BAD_COMMAND'), in time proportional to their (bounded) size. Encoding
 * refuses what it cannot carry with StateMachineError, and every command it accepts comes
 * back exactly, as the codec's documented mapping says. Runs and seed: test/fuzz-settings.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeCommand, encodeCommand } from '../../src/state-machine/command-codec.js';
import { StateMachineError } from '../../src/state-machine/errors.js';
import type { Command, SqlValue, Statement } from '../../src/state-machine/types.js';
import { fuzzParameters, withinTime } from '../fuzz-settings.js';

/** Far above decoding the few KiB below: a blow-up, not a slow machine, crosses it. */
const decodeTimeBoundMs = 1_000;

const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** Text the codec carries: any code points, no lone surrogates (they have no UTF-8). */
const loneSurrogate = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
const wellFormedText = (maxLength: number): fc.Arbitrary<string> => fc.string({ unit: 'binary', maxLength }).filter((text) => !loneSurrogate.test(text));

const sqlValue: fc.Arbitrary<SqlValue> = fc.oneof(
  fc.constantFrom(null, true, false),
  fc.integer(),
  fc.bigInt(int64),
  fc.double({ noNaN: true }),
  wellFormedText(40),
  fc.uint8Array({ maxLength: 64 }),
);

const statement: fc.Arbitrary<Statement> = fc.record({
  sql: wellFormedText(80),
  positional: fc.array(sqlValue, { maxLength: 6 }),
  // Null-prototype dictionaries too: a name such as "__proto__" must stay a name.
  named: fc.dictionary(wellFormedText(12), sqlValue, { maxKeys: 4 }),
});

const command: fc.Arbitrary<Command> = fc
  .record({
    statements: fc.array(statement, { maxLength: 5 }),
    transaction: fc.boolean(),
    timestampMs: fc.maxSafeInteger(),
    seed: fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }),
    requestId: fc.option(wellFormedText(30), { nil: undefined }),
    qualifyColumns: fc.option(fc.constant(true), { nil: undefined }),
  })
  .map(({ requestId, qualifyColumns, ...rest }) => ({
    ...rest,
    ...(requestId !== undefined ? { requestId } : {}),
    ...(qualifyColumns !== undefined ? { qualifyColumns } : {}),
  }));

/**
 * A value as decoding returns it (the codec's mapping): an integer is a number when safe
 * and a bigint beyond 2^53, and a number that is a safe integer is an INTEGER, so -0 is 0.
 */
function decodedForm(value: SqlValue): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  if (Object.is(value, -0)) return 0;
  if (value instanceof Uint8Array) return [...value];
  return value;
}

function comparable(command: Command): unknown {
  return {
    ...command,
    statements: command.statements.map((item) => ({
      sql: item.sql,
      positional: item.positional.map(decodedForm),
      named: Object.keys(item.named).map((name) => [name, decodedForm(item.named[name] as SqlValue)]),
    })),
  };
}

function isStateMachineError(error: unknown, codes: readonly string[]): boolean {
  return error instanceof StateMachineError && codes.includes(error.code);
}

/** Decodes within the time bound; any failure must be BAD_COMMAND. */
function decodeOrRefuse(bytes: Uint8Array): Command | undefined {
  try {
    return withinTime(decodeTimeBoundMs, () => decodeCommand(bytes));
  } catch (error) {
    if (isStateMachineError(error, ['BAD_COMMAND'])) return undefined;
    throw error;
  }
}

/** One change to an encoded command: overwrite, insert or delete a byte, or cut the end. */
const mutation = fc.record({
  kind: fc.constantFrom('overwrite', 'insert', 'delete', 'truncate'),
  position: fc.nat(),
  byte: fc.integer({ min: 0, max: 255 }),
});

function mutate(bytes: Uint8Array, changes: readonly { kind: string; position: number; byte: number }[]): Uint8Array {
  let result = [...bytes];
  for (const change of changes) {
    const position = change.position % (result.length + 1);
    if (change.kind === 'overwrite' && position < result.length) result[position] = change.byte;
    else if (change.kind === 'insert') result.splice(position, 0, change.byte);
    else if (change.kind === 'delete') result.splice(position, 1);
    else if (change.kind === 'truncate') result = result.slice(0, position);
  }
  return new Uint8Array(result);
}

describe('fuzz: command codec', () => {
  it('every command within the bounds round-trips exactly', () => {
    fc.assert(
      fc.property(command, (sent) => {
        assert.deepStrictEqual(comparable(decodeCommand(encodeCommand(sent))), comparable(sent));
      }),
      fuzzParameters(300),
    );
  });

  it('any bytes decode to a command or BAD_COMMAND, in bounded time', () => {
    const bytes = fc.oneof(
      fc.uint8Array({ maxLength: 512 }),
      // A valid header, so the reads go past the magic and version bytes.
      fc.uint8Array({ maxLength: 512 }).map((rest) => Uint8Array.of(0x51, 1, (rest[0] ?? 0) & 7, ...rest.subarray(1))),
    );
    fc.assert(
      fc.property(bytes, (data) => {
        decodeOrRefuse(data);
      }),
      fuzzParameters(400),
    );
  });

  it('a damaged command decodes to a command or BAD_COMMAND; what decodes encodes back to itself', () => {
    fc.assert(
      fc.property(command, fc.array(mutation, { minLength: 1, maxLength: 4 }), (sent, changes) => {
        const decoded = decodeOrRefuse(mutate(encodeCommand(sent), changes));
        if (decoded === undefined) return;
        let encoded: Uint8Array;
        try {
          encoded = encodeCommand(decoded);
        } catch (error) {
          // Damage can decode a NaN, which encoding refuses: a refusal, never a crash.
          if (isStateMachineError(error, ['INVALID_VALUE', 'COMMAND_TOO_LARGE'])) return;
          throw error;
        }
        assert.deepStrictEqual(comparable(decodeCommand(encoded)), comparable(decoded));
      }),
      fuzzParameters(400),
    );
  });

  it('encoding refuses what it cannot carry with StateMachineError, never another error', () => {
    const hostileValue = fc.oneof(
      sqlValue,
      fc.constantFrom(Number.NaN, 2n ** 63n, -(2n ** 63n) - 1n, '\uD800', 'a\uDFFFb', {}, [], undefined, Symbol('s')),
      fc.string({ unit: fc.integer({ min: 0xd7f0, max: 0xe010 }).map((code) => String.fromCharCode(code)), maxLength: 4 }),
    ) as fc.Arbitrary<SqlValue>;
    const hostileStatement = fc.record({
      sql: fc.string({ unit: 'binary', maxLength: 20 }),
      positional: fc.array(hostileValue, { maxLength: 4 }),
      named: fc.dictionary(fc.string({ unit: 'binary', maxLength: 300 }), hostileValue, { maxKeys: 3 }),
    });
    const hostileCommand = fc.record({
      statements: fc.array(hostileStatement, { maxLength: 3 }),
      transaction: fc.boolean(),
      timestampMs: fc.oneof(fc.maxSafeInteger(), fc.double()),
      seed: fc.bigInt({ min: -1n, max: 2n ** 64n }),
      requestId: fc.option(fc.string({ unit: 'binary', maxLength: 300 }), { nil: undefined }),
    }) as fc.Arbitrary<Command>;
    fc.assert(
      fc.property(hostileCommand, (sent) => {
        try {
          decodeCommand(encodeCommand(sent));
        } catch (error) {
          if (isStateMachineError(error, ['INVALID_VALUE', 'COMMAND_TOO_LARGE'])) return;
          throw error;
        }
      }),
      fuzzParameters(400),
    );
  });
});
