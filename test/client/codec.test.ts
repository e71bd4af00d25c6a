import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { jsonDepthMax, parseJson } from '../../src/client/json-parse.js';
import { decodeReply } from '../../src/client/results.js';
import { encodeStatements, statementsPerRequestMax } from '../../src/client/statements.js';

describe('parseJson', () => {
  it('keeps integers beyond 2^53 exact as bigint, small ones as numbers', () => {
    const text = '{"a":9007199254740993,"b":-9223372036854775808,"c":42,"d":1.5,"e":9007199254740991,"f":1e3}';
    assert.deepEqual(parseJson(text, 'auto'), { a: 9007199254740993n, b: -9223372036854775808n, c: 42, d: 1.5, e: 9007199254740991, f: 1000 });
    assert.deepEqual(parseJson('[1, 2.5, -3]', 'bigint'), [1n, 2.5, -3n]);
  });

  it('parses strings with escapes, nested values and literals like JSON.parse', () => {
    const text = '{"s":"a\\"b\\\\c\\u00e9\\n","n":null,"t":true,"f":false,"x":[[],{}],"big":12345678901234567890}';
    const parsed = parseJson(text, 'auto') as Record<string, unknown>;
    assert.equal(parsed.s, 'a"b\\cé\n');
    assert.deepEqual(parsed.x, [[], {}]);
    assert.equal(parsed.big, 12345678901234567890n);
    assert.deepEqual({ ...parsed, big: 0 }, { ...(JSON.parse(text) as object), big: 0 });
  });

  it('keeps a "__proto__" key as data', () => {
    const parsed = parseJson('{"__proto__":{"polluted":1},"k":12345678901234567890}', 'auto') as Record<string, unknown>;
    assert.deepEqual(Object.keys(parsed), ['__proto__', 'k']);
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });

  it('rejects malformed JSON with SyntaxError', () => {
    for (const bad of ['{"a":12345678901234567890', '[1,]', '{"a" 1}', '"unterminated 12345678901234567890', '[12345678901234567890] x', '-']) {
      assert.throws(() => parseJson(bad, 'bigint'), SyntaxError, bad);
    }
  });

  it('refuses nesting past jsonDepthMax and accepts it at the bound', () => {
    const atBound = `${'['.repeat(jsonDepthMax + 1)}${']'.repeat(jsonDepthMax + 1)}`;
    assert.ok(Array.isArray(parseJson(atBound, 'bigint')));
    const beyond = `${'['.repeat(jsonDepthMax + 2)}${']'.repeat(jsonDepthMax + 2)}`;
    assert.throws(() => parseJson(beyond, 'bigint'), /nesting deeper/);
  });
});

describe('encodeStatements', () => {
  it('writes plain, positional, named and mixed statements in rqlite shape', () => {
    const body = encodeStatements([
      'CREATE TABLE t (x)',
      { sql: 'INSERT INTO t VALUES (?, ?, ?, ?)', args: [1, 'a', null, true] },
      { sql: 'INSERT INTO t VALUES (:name)', args: { ':name': 'fiona' } },
      { sql: 'INSERT INTO t VALUES (?, :v)', args: [2.5], named: { v: -0 } },
    ]);
    assert.equal(
      body,
      '["CREATE TABLE t (x)",["INSERT INTO t VALUES (?, ?, ?, ?)",1,"a",null,true],' +
        '["INSERT INTO t VALUES (:name)",{"name":"fiona"}],["INSERT INTO t VALUES (?, :v)",2.5,{"v":0}]]',
    );
    assert.equal(encodeStatements('SELECT 1'), '["SELECT 1"]');
  });

  it('writes { real } with a fraction or an exponent, so the server binds a REAL whatever its value', () => {
    const body = encodeStatements({ sql: 'X', args: [{ real: 2 }, { real: -0 }, { real: 2.5 }, { real: 1e21 }], named: { v: { real: 100 } } });
    assert.equal(body, '[["X",2.0,-0.0,2.5,1e+21,{"v":100.0}]]');
    assert.throws(() => encodeStatements({ sql: 'X', args: [{ real: Number.NaN }] }), /finite/);
  });

  it('writes bigints as exact integer literals and blobs as hex', () => {
    const body = encodeStatements({ sql: 'X', args: [9223372036854775807n, new Uint8Array([0, 255, 16])] });
    assert.equal(body, `[["X",9223372036854775807,"x'00ff10'"]]`);
  });

  it('refuses values it cannot send, naming the statement', () => {
    const cases: [unknown, RegExp][] = [
      [Number.NaN, /finite/],
      [Number.POSITIVE_INFINITY, /finite/],
      [2n ** 63n, /64 bits/],
      [undefined, /undefined/],
      [{ nested: 1 }, /Object/],
      [new Date(0), /Date/],
    ];
    for (const [value, message] of cases) {
      assert.throws(
        () => encodeStatements(['SELECT 1', { sql: 'X', args: [value as never] }]),
        (error: unknown) => {
          const coded = error as { code?: string; statementIndex?: number; message: string };
          return coded.code === 'INVALID_ARGUMENT' && coded.statementIndex === 1 && message.test(coded.message);
        },
      );
    }
    assert.throws(() => encodeStatements([]), { code: 'INVALID_ARGUMENT', message: 'no statements' });
    assert.throws(() => encodeStatements([{ sql: 1 } as never]), { code: 'INVALID_ARGUMENT' });
  });

  it('accepts statementsPerRequestMax statements and refuses one more', () => {
    assert.ok(encodeStatements(new Array<string>(statementsPerRequestMax).fill('S')).length > 0);
    assert.throws(() => encodeStatements(new Array<string>(statementsPerRequestMax + 1).fill('S')), /statementsPerRequestMax/);
  });
});

describe('decodeReply', () => {
  const options = { bigint: 'auto', rowMode: 'object', sqlErrors: 'throw' } as const;

  it('turns rows into objects or arrays, byte arrays and BLOB base64 into Uint8Array', () => {
    const body = parseJson(
      '{"results":[{"columns":["id","b","b64","big"],"types":["integer","blob","BLOB",""],"values":[[1,[0,1,255],"AAH/",9223372036854775807]]},' +
        '{"last_insert_id":7,"rows_affected":1}],"raft_index":12}',
      'auto',
    );
    const reply = decodeReply(body, options);
    assert.equal(reply.raftIndex, 12);
    assert.deepEqual(reply.results[0]?.rows, [{ id: 1, b: new Uint8Array([0, 1, 255]), b64: new Uint8Array([0, 1, 255]), big: 9223372036854775807n }]);
    assert.equal(reply.results[1]?.lastInsertId, 7);
    assert.equal(reply.results[1]?.rowsAffected, 1);
    const arrays = decodeReply(body, { ...options, rowMode: 'array' });
    assert.deepEqual(arrays.results[0]?.rows[0], [1, new Uint8Array([0, 1, 255]), new Uint8Array([0, 1, 255]), 9223372036854775807n]);
  });

  it("bigint 'always' gives every integer as bigint; 'never' refuses unsafe integers", () => {
    const text = '{"results":[{"columns":["a","f"],"types":["",""],"values":[[5,2.5]]},{"last_insert_id":3,"rows_affected":1}]}';
    const always = decodeReply(parseJson(text, 'bigint'), { ...options, bigint: 'always' });
    assert.deepEqual(always.results[0]?.rows, [{ a: 5n, f: 2.5 }]);
    assert.equal(always.results[1]?.lastInsertId, 3n);
    assert.equal(always.results[1]?.rowsAffected, 1);
    const unsafe = parseJson('{"results":[{"columns":["a"],"types":[""],"values":[[9007199254740993]]}]}', 'auto');
    assert.throws(() => decodeReply(unsafe, { ...options, bigint: 'never' }), { code: 'INTEGER_OVERFLOW' });
  });

  it('refuses replies that are not rqlite-shaped with SERVER_ERROR', () => {
    for (const text of ['[]', '{"results":{}}', '{"results":[1]}', '{"results":[{"values":[[[300]]]}]}', '{"results":[{"columns":[1]}]}']) {
      assert.throws(() => decodeReply(parseJson(text, 'auto'), options), { code: 'SERVER_ERROR' }, text);
    }
  });
});
