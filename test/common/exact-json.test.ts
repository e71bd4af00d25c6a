/**
 * The shared exact-integer JSON reader, option by option. The server's preset is
 * covered by test/http/json*.test.ts and the client's by test/client/codec.test.ts;
 * here the options themselves, and the claim the client's fast path rests on: with the
 * client's options and no unsafe integer, the reader and JSON.parse agree exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonSyntaxError, parseExactJson, type ExactJsonOptions } from '../../src/common/exact-json.js';

const goLike: ExactJsonOptions = { integers: 'bigint-within-int64', floatOutOfRange: 'refuse', objects: 'null-prototype', nestingDepthMax: 64 };
const jsonParseLike: ExactJsonOptions = { integers: 'bigint-when-unsafe', floatOutOfRange: 'infinity', objects: 'plain', nestingDepthMax: 64 };

describe('integer policies', () => {
  const text =
    '[0, -0, 42, 9007199254740991, 9007199254740993, 9223372036854775807, -9223372036854775808, 9223372036854775808, 123456789012345678901234, 1.0, 1e2]';
  it('bigint-within-int64: int64 integers exact, larger ones floats, as Go', () => {
    assert.deepEqual(parseExactJson(text, goLike), [
      0n,
      0n,
      42n,
      9007199254740991n,
      9007199254740993n,
      9223372036854775807n,
      -9223372036854775808n,
      2 ** 63,
      Number('123456789012345678901234'),
      1,
      100,
    ]);
  });
  it('bigint-when-unsafe: safe integers as numbers, the rest exact at any size', () => {
    assert.deepEqual(parseExactJson(text, jsonParseLike), [
      0,
      -0,
      42,
      9007199254740991,
      9007199254740993n,
      9223372036854775807n,
      -9223372036854775808n,
      9223372036854775808n,
      123456789012345678901234n,
      1,
      100,
    ]);
  });
  it('bigint: every integer exact', () => {
    const values = parseExactJson(text, { ...jsonParseLike, integers: 'bigint' }) as unknown[];
    assert.deepEqual(values.slice(0, 3), [0n, 0n, 42n]);
    assert.equal(values[8], 123456789012345678901234n);
    assert.deepEqual(values.slice(9), [1, 100]);
  });
});

describe('floats out of range and objects', () => {
  it('refuses 1e999 like Go, or reads Infinity like JSON.parse', () => {
    assert.throws(() => parseExactJson('[1e999]', goLike), /number 1e999 is out of range at position 1/);
    assert.deepEqual(parseExactJson('[1e999, -1e999]', jsonParseLike), [Infinity, -Infinity]);
  });

  it('null-prototype or plain objects; "__proto__" is data in both', () => {
    const bare = parseExactJson('{"__proto__": {"x": 1}, "constructor": 2}', goLike) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(bare), null);
    assert.deepEqual(Object.keys(bare), ['__proto__', 'constructor']);
    const plain = parseExactJson('{"__proto__": {"x": 1}, "k": 1, "k": 2}', jsonParseLike) as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(plain), Object.prototype);
    assert.deepEqual(Object.keys(plain), ['__proto__', 'k']);
    assert.equal(plain.k, 2);
    assert.equal((plain as { x?: unknown }).x, undefined, 'the prototype was not replaced');
  });
});

describe('nestingDepthMax', () => {
  it('bounds the depth of values: the top level is 0, each container adds one', () => {
    const options = { ...goLike, nestingDepthMax: 2 };
    assert.deepEqual(parseExactJson('[[1]]', options), [[1n]]);
    assert.deepEqual(parseExactJson('{"a": [{}]}', options), Object.assign(Object.create(null), { a: [Object.create(null)] }));
    assert.throws(() => parseExactJson('[[[1]]]', options), /JSON nested deeper than 2 levels/);
    assert.throws(() => parseExactJson('{"a": {"b": [1]}}', options), /nesting deeper than nestingDepthMax/);
    assert.deepEqual(parseExactJson('7', { ...goLike, nestingDepthMax: 0 }), 7n);
    assert.throws(() => parseExactJson('[7]', { ...goLike, nestingDepthMax: 0 }), JsonSyntaxError);
  });
});

describe('errors', () => {
  it('are JsonSyntaxErrors (so SyntaxErrors) with the position', () => {
    const cases: [string, RegExp][] = [
      ['', /unexpected end of JSON at position 0/],
      ['[1,]', /unexpected character "]" at position 3/],
      ['-', /expected a digit but found end of JSON at position 1/],
      ['-a', /expected a digit but found "a" at position 1/],
      ['1.e5', /expected a digit but found "e" at position 2/],
      ['01', /unexpected data after the JSON value at position 1/],
      ['"a\u0001"', /control character in string at position 2/],
      ['"a\\x"', /invalid escape in string at position 2/],
      ['"abc', /unterminated string at position 4/],
      ['{"a" 1}', /expected ":" but found "1" at position 5/],
      ['[1] 2', /unexpected data after the JSON value at position 4/],
    ];
    for (const [text, message] of cases) {
      for (const options of [goLike, jsonParseLike]) {
        assert.throws(
          () => parseExactJson(text, options),
          (error: unknown) => {
            assert.ok(error instanceof JsonSyntaxError && error instanceof SyntaxError, text);
            assert.match(error.message, message, text);
            return true;
          },
        );
      }
    }
  });
});

/** xorshift32, so a failing case replays. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

const fragments = ['0', '-0', '12', '-3.5e2', '1E+2', '"a\\"b\\u00e9\\ud800"', '"é😀"', 'true', 'null', '[]', '{}', '{"__proto__":1}', '1e999', '0.1'];

function randomText(random: () => number, depth: number): string {
  const pick = random();
  if (depth > 3 || pick < 0.5) return fragments[Math.floor(random() * fragments.length)] as string;
  const count = Math.floor(random() * 4);
  const items = Array.from({ length: count }, () => randomText(random, depth + 1));
  if (pick < 0.75) return `[${items.join(', ')}]`;
  return `{${items.map((item, index) => `"k${index % 2}": ${item}`).join(',')}}`;
}

describe('with the client options the reader is JSON.parse, plus exact integers', () => {
  it('agrees with JSON.parse on random documents and their one-character mutations', () => {
    const random = randomSource(20260301);
    const mutations = ['', '"', '\\', ',', ']', '}', '[', '{', ':', '0', '-', '.', 'e', ' ', '\u0000'];
    for (let caseIndex = 0; caseIndex < 3000; caseIndex++) {
      const document = randomText(random, 0);
      const position = Math.floor(random() * (document.length + 1));
      const replacement = caseIndex % 2 === 0 ? '' : (mutations[Math.floor(random() * mutations.length)] as string);
      const text = caseIndex % 3 === 0 ? document : document.slice(0, position) + replacement + document.slice(position + 1);
      let expected: unknown;
      try {
        expected = JSON.parse(text);
      } catch {
        assert.throws(() => parseExactJson(text, jsonParseLike), JsonSyntaxError, JSON.stringify(text));
        continue;
      }
      assert.deepEqual(parseExactJson(text, jsonParseLike), expected, JSON.stringify(text));
    }
  });
});
