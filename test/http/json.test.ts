import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { JsonSyntaxError, parseJson } from '../../src/http/json-reader.js';
import { blobAsText, goJsonStringOfBytes } from '../../src/http/go-json.js';
import { AssociativeRows, GoMap, writeJsonChunks, writeJsonString } from '../../src/http/json-writer.js';

describe('parseJson', () => {
  it('keeps integers that fit in 64 bits as exact bigints', () => {
    assert.deepEqual(parseJson('[0, -1, 42, 9007199254740993, 9223372036854775807, -9223372036854775808]'), [
      0n,
      -1n,
      42n,
      9007199254740993n,
      9223372036854775807n,
      -9223372036854775808n,
    ]);
  });

  it('reads fractions, exponents and integers beyond 64 bits as floats, like Go', () => {
    assert.deepEqual(parseJson('[1.5, 2.0, 1e3, -0.25, 9223372036854775808]'), [1.5, 2, 1000, -0.25, 2 ** 63]);
    const [two] = parseJson('[2.0]') as unknown[];
    assert.equal(typeof two, 'number');
  });

  it('reads strings with every escape, literals and nested objects', () => {
    const value = parseJson('{"a": "x\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00", "b": [true, false, null], "c": {}}');
    assert.deepEqual(
      value,
      Object.assign(Object.create(null), {
        a: 'x"\\/\b\f\n\r\t\u00e9\u{1F600}',
        b: [true, false, null],
        c: Object.create(null),
      }),
    );
  });

  it('treats __proto__ as a plain key and keeps the last of repeated keys', () => {
    const value = parseJson('{"__proto__": 1, "k": 1, "k": 2}') as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(value), null);
    // biome-ignore lint/suspicious/noProto: the parser must make __proto__ a plain own key; this reads it back as one
    assert.equal(value['__proto__'], 1n);
    assert.equal(value['k'], 2n);
  });

  const malformed = [
    '',
    '[',
    '[1,]',
    '[1 2]',
    '{"a" 1}',
    '{a: 1}',
    '"unterminated',
    '"bad \\x escape"',
    '"control \u0001 char"',
    '01',
    '-',
    '1.',
    'tru',
    '[] []',
    'NaN',
    '1e999',
    '{"a":1,}',
  ];
  for (const text of malformed) {
    it(`refuses malformed JSON ${JSON.stringify(text)}`, () => {
      assert.throws(() => parseJson(text), JsonSyntaxError);
    });
  }

  it('bounds nesting: depthMax levels parse, one more is refused', () => {
    assert.deepEqual(parseJson('[[[1]]]', 3), [[[1n]]]);
    assert.throws(() => parseJson('[[[[1]]]]', 3), /nested deeper than 3 levels/);
    assert.throws(() => parseJson('['.repeat(100_000), 64), /nested deeper than 64/);
  });

  it("bounds nesting by each call's own depthMax, whatever the call before asked (the options of the last depth are kept)", () => {
    for (const [depthMax, parses] of [
      [3, true],
      [2, false],
      [3, true],
      [64, true],
      [2, false],
    ] as const) {
      if (parses) assert.deepEqual(parseJson('[[[1]]]', depthMax), [[[1n]]], `depthMax ${depthMax}`);
      else assert.throws(() => parseJson('[[[1]]]', depthMax), new RegExp(`nested deeper than ${depthMax} levels`));
    }
    assert.throws(() => parseJson('['.repeat(65)), /nested deeper than 64 levels/, 'the default after other depths');
  });
});

describe('writeJsonString', () => {
  it('matches JSON.stringify for plain values, compact and pretty (Go MarshalIndent, 4 spaces)', () => {
    const value = {
      results: [
        {
          columns: ['a', 'b'],
          values: [
            [1, 'x'],
            [2.5, null],
          ],
        },
        {},
      ],
      list: [],
      flag: true,
      text: 'é"\n',
    };
    assert.equal(writeJsonString(value), JSON.stringify(value));
    assert.equal(writeJsonString(value, { pretty: true }), JSON.stringify(value, null, 4));
  });

  it('writes bigints as exact integers and leaves out undefined properties', () => {
    assert.equal(writeJsonString({ a: 9223372036854775807n, b: undefined, c: -5n }), '{"a":9223372036854775807,"c":-5}');
    assert.equal(writeJsonString({ a: undefined }), '{}');
    assert.equal(writeJsonString({ a: undefined }, { pretty: true }), '{}');
  });

  it('writes BLOBs as base64, or as byte arrays with blobAsArray', () => {
    const blob = new Uint8Array([0, 1, 254, 255]);
    assert.equal(writeJsonString([blob]), '["AAH+/w=="]');
    assert.equal(writeJsonString([blob], { blobAsArray: true }), '[[0,1,254,255]]');
    assert.equal(writeJsonString([new Uint8Array(0)], { blobAsArray: true }), '[[]]');
    assert.equal(writeJsonString([new Uint8Array(0)]), '[""]');
    const nested = { values: [[blob, 'x']], single: blob };
    const asArrays = { values: [[[0, 1, 254, 255], 'x']], single: [0, 1, 254, 255] };
    assert.equal(writeJsonString(nested, { blobAsArray: true, pretty: true }), JSON.stringify(asArrays, null, 4));
    const view = new Uint8Array(new Uint8Array([9, 8, 7, 6]).buffer, 1, 2);
    assert.equal(writeJsonString(view), '"CAc="');
  });

  it('writes non-finite floats as null', () => {
    assert.equal(writeJsonString([Infinity, -Infinity, NaN]), '[null,null,null]');
  });

  it('writes associative rows as objects, compact and pretty', () => {
    const rows = new AssociativeRows(
      ['id', 'name'],
      [
        [1n, 'fiona'],
        [2n, null],
      ],
    );
    assert.equal(writeJsonString({ rows }), '{"rows":[{"id":1,"name":"fiona"},{"id":2,"name":null}]}');
    assert.equal(
      writeJsonString({ rows }, { pretty: true }),
      JSON.stringify(
        {
          rows: [
            { id: 1, name: 'fiona' },
            { id: 2, name: null },
          ],
        },
        null,
        4,
      ),
    );
    assert.equal(writeJsonString(new AssociativeRows(['a'], [])), '[]');
    assert.equal(writeJsonString(new AssociativeRows([], [[]])), '[{}]');
  });

  it('keeps the last value of a repeated column name in associative rows, as object assignment does', () => {
    const rows = new AssociativeRows(['a', 'b', 'a'], [[1n, 2n, 3n]]);
    assert.equal(writeJsonString(rows), '[{"a":3,"b":2}]');
    assert.equal(writeJsonString(rows, { pretty: true }), JSON.stringify([{ a: 3, b: 2 }], null, 4));
  });

  it('yields chunks of about chunkCharacters and their concatenation is the document', () => {
    const rows = Array.from({ length: 1000 }, (_, index) => [BigInt(index), `row number ${index}`]);
    const chunks = [...writeJsonChunks({ values: rows }, { chunkCharacters: 1024 })];
    assert.ok(chunks.length > 10, `expected many chunks, got ${chunks.length}`);
    for (const chunk of chunks.slice(0, -1)) assert.ok(chunk.length >= 1024 && chunk.length < 1024 + 100);
    const associative = [...writeJsonChunks(new AssociativeRows(['n', 'label'], rows), { chunkCharacters: 1024 })];
    assert.ok(associative.length > 10);
    assert.deepEqual((JSON.parse(associative.join('')) as unknown[])[999], { n: 999, label: 'row number 999' });
    const whole = JSON.parse(chunks.join('')) as { values: unknown[] };
    assert.equal(whole.values.length, 1000);
    assert.deepEqual(whole.values[999], [999, 'row number 999']);
  });
});

describe("Go's encoding/json", () => {
  it('writes a string of arbitrary bytes as Go does: invalid UTF-8 byte by byte as \\ufffd, U+2028/U+2029 and controls escaped', () => {
    const cases: [number[], string][] = [
      [[0x22, 0x5c, 0x08, 0x0c, 0x0a, 0x0d, 0x09, 0x01, 0x1f, 0x7f, 0x2f, 0x3c], '"\\"\\\\\\b\\f\\n\\r\\t\\u0001\\u001f\x7f/<"'],
      [[0xc0, 0x80], '"\\ufffd\\ufffd"'],
      [[0xed, 0xa0, 0x80], '"\\ufffd\\ufffd\\ufffd"'],
      [[0x41, 0xe2, 0x82], '"A\\ufffd\\ufffd"'],
      [[0xf4, 0x90, 0x80, 0x80], '"\\ufffd\\ufffd\\ufffd\\ufffd"'],
      [[0xf0, 0x9f, 0x98, 0x80, 0xc3, 0xa9, 0xef, 0xbf, 0xbd], '"😀é\ufffd"'],
      [[0xe2, 0x80, 0xa8, 0xe2, 0x80, 0xa9, 0xe2, 0x80, 0xaa], '"\\u2028\\u2029\u202a"'],
      [[], '""'],
    ];
    for (const [bytes, expected] of cases) assert.equal(goJsonStringOfBytes(new Uint8Array(bytes)), expected, bytes.join(' '));
  });

  it('writes a BlobAsText as that string, also with blob_array; plain BLOBs stay base64 or arrays', () => {
    const row = [blobAsText(new Uint8Array([0x68, 0x69])), new Uint8Array([0x68, 0x69])];
    assert.equal(writeJsonString([row]), '[["hi","aGk="]]');
    assert.equal(writeJsonString([row], { blobAsArray: true }), '[["hi",[104,105]]]');
  });

  it('writes a GoMap and associative rows with keys sorted by UTF-8 bytes, integer-like keys included; a repeated key keeps its last value', () => {
    const keys = ['b', '10', 'a', '9', 'é', 'Z', '\u{1F600}', '\uFF5E', 'a'];
    const values = [1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n];
    const expected = '{"10":2,"9":4,"Z":6,"a":9,"b":1,"é":5,"～":8,"😀":7}';
    assert.equal(writeJsonString(new GoMap(keys, values)), expected);
    assert.equal(writeJsonString(new AssociativeRows(keys, [values])), `[${expected}]`);
    assert.equal(writeJsonString(new GoMap(['b', 'a'], [1n, null]), { pretty: true }), JSON.stringify({ a: null, b: 1 }, null, 4));
    assert.equal(writeJsonString(new GoMap([], [])), '{}');
  });
});
