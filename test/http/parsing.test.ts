import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DurationError, formatDurationSeconds, goDurationRangeMs, parseDurationMs } from '../../src/common/duration.js';
import { HttpError } from '../../src/http/http-error.js';
import { parseQueryParameters } from '../../src/http/query-parameters.js';
import { parseStatementsBody } from '../../src/http/statements.js';

const limits = { statementCountMax: 5 };
const defaults = { timeoutMs: 30_000, linearizableTimeoutMs: 10_000, timeoutMsMax: 600_000 };

function parse(body: string, contentType?: string) {
  return parseStatementsBody(body, contentType, limits);
}

function assertHttpError(run: () => unknown, status: number, message: RegExp): void {
  assert.throws(run, (error: unknown) => {
    assert.ok(error instanceof HttpError, `expected HttpError, got ${String(error)}`);
    assert.equal(error.status, status);
    assert.match(error.message, message);
    return true;
  });
}

describe('Go durations', () => {
  const valid: [string, number][] = [
    ['0', 0],
    ['500ms', 500],
    ['2s', 2000],
    ['1m30s', 90_000],
    ['1.5h', 5_400_000],
    ['2h45m', 9_900_000],
    ['.5s', 500],
    ['1.s', 1000],
    ['100us', 0.1],
    ['100µs', 0.1],
    ['1000000ns', 1],
    ['-1s', -1000],
    ['+3s', 3000],
  ];
  for (const [text, milliseconds] of valid) {
    it(`parses ${text}`, () => assert.equal(parseDurationMs(text, goDurationRangeMs), milliseconds));
  }
  for (const text of ['', '1', 's', '1x', '1 s', '1s ', 'ms', '1.2.3s', '--1s', 'one second', '1S']) {
    it(`refuses ${JSON.stringify(text)}`, () => assert.throws(() => parseDurationMs(text, goDurationRangeMs), DurationError));
  }
  it('formats like Go', () => {
    assert.equal(formatDurationSeconds(0), '0s');
    assert.equal(formatDurationSeconds(0.25), '250ms');
    assert.equal(formatDurationSeconds(0.000012), '12µs');
    assert.equal(formatDurationSeconds(1.5), '1.5s');
    assert.equal(formatDurationSeconds(123), '2m3s');
    assert.equal(formatDurationSeconds(3723), '1h2m3s');
  });
});

describe('query parameters', () => {
  it('applies defaults', () => {
    const parameters = parseQueryParameters('', defaults);
    assert.equal(parameters.timeoutMs, 30_000);
    assert.equal(parameters.linearizableTimeoutMs, 10_000);
    assert.equal(parameters.dbTimeoutMs, null);
    assert.equal(parameters.freshnessMs, null);
    assert.equal(parameters.freshnessStrict, false);
    assert.equal(parameters.appliedIndexMin, null);
    assert.equal(parameters.level, 'weak');
  });

  it('reads durations, levels, min_index and flags by presence', () => {
    const parameters = parseQueryParameters(
      'timeout=2s&linearizable_timeout=500ms&db_timeout=1m&freshness=1s&freshness_strict&level=NONE&min_index=42&pretty=false&Timings',
      defaults,
    );
    assert.equal(parameters.timeoutMs, 2000);
    assert.equal(parameters.linearizableTimeoutMs, 500);
    assert.equal(parameters.dbTimeoutMs, 60_000);
    assert.equal(parameters.freshnessMs, 1000);
    assert.equal(parameters.freshnessStrict, true);
    assert.equal(parameters.level, 'none');
    assert.equal(parameters.appliedIndexMin, 42);
    assert.equal(parameters.has('pretty'), true, '?pretty=false still counts: flags are by presence');
    assert.equal(parameters.has('timings'), true, 'keys are case-insensitive');
    assert.equal(parameters.has('associative'), false);
  });

  it('maps every level and treats unknown levels as weak', () => {
    for (const level of ['none', 'weak', 'linearizable', 'strong', 'auto'] as const) {
      assert.equal(parseQueryParameters(`level=${level}`, defaults).level, level);
    }
    assert.equal(parseQueryParameters('level=bogus', defaults).level, 'weak');
    assert.equal(parseQueryParameters('level=', defaults).level, 'weak');
  });

  it('refuses bad durations, negative durations and durations over the maximum', () => {
    for (const key of ['timeout', 'freshness', 'db_timeout', 'linearizable_timeout']) {
      assertHttpError(() => parseQueryParameters(`${key}=5`, defaults), 400, new RegExp(`^${key} is not a valid duration`));
      assertHttpError(() => parseQueryParameters(`${key}=-1s`, defaults), 400, /must not be negative/);
    }
    assert.equal(parseQueryParameters('timeout=10m', defaults).timeoutMs, 600_000);
    assertHttpError(() => parseQueryParameters('timeout=10m1ms', defaults), 400, /exceeds the maximum of 600000ms/);
  });

  it('refuses freshness_strict without freshness', () => {
    assertHttpError(() => parseQueryParameters('freshness_strict', defaults), 400, /^freshness_strict requires freshness$/);
  });

  it('refuses a min_index that is not a non-negative integer', () => {
    for (const text of ['-1', 'x', '1.5', '', '99999999999999999']) {
      assertHttpError(() => parseQueryParameters(`min_index=${text}`, defaults), 400, /^min_index is not a valid log index/);
    }
  });

  it('keeps the SQL in q as written (only keys are lowered) and takes the first value', () => {
    const parameters = parseQueryParameters('q=SELECT+*+FROM+Foo+WHERE+x%3D1&q=second', defaults);
    assert.equal(parameters.get('q'), 'SELECT * FROM Foo WHERE x=1');
  });
});

describe('statement bodies', () => {
  it('parses plain SQL strings', () => {
    assert.deepEqual(parse('["CREATE TABLE t (x)", "INSERT INTO t VALUES(1)"]'), [
      { sql: 'CREATE TABLE t (x)', positional: [], named: {} },
      { sql: 'INSERT INTO t VALUES(1)', positional: [], named: {} },
    ]);
  });

  it('parses positional parameters of every kind', () => {
    const [statement] = parse('[["INSERT INTO t VALUES(?,?,?,?,?,?,?,?)", 1, 9223372036854775807, 1.5, 2.0, "text", true, false, null]]');
    // 2.0 is a float, not an integer: a REAL, tagged because its value is whole (real-values.ts).
    assert.deepEqual(statement?.positional, [1n, 9223372036854775807n, 1.5, { real: 2 }, 'text', true, false, null]);
  });

  it('parses named parameters, with or without their prefix, and mixed with positional ones', () => {
    const [named, mixed] = parse('[["SELECT :name, @age", {"name": "fiona", "@age": 20}], ["SELECT ?, :a, ?", 1, {"a": "x"}, 2]]');
    assert.deepEqual(named, { sql: 'SELECT :name, @age', positional: [], named: { name: 'fiona', age: 20n } });
    assert.deepEqual(mixed, { sql: 'SELECT ?, :a, ?', positional: [1n, 2n], named: { a: 'x' } });
  });

  it('mixes plain and parameterised statements', () => {
    const statements = parse('["SELECT 1", ["SELECT ?", 2]]');
    assert.equal(statements.length, 2);
    assert.deepEqual(statements[1]?.positional, [2n]);
  });

  it("maps x'…' hex strings and byte arrays to BLOBs", () => {
    const [statement] = parse('[["SELECT ?, ?, ?, ?, ?", "x\'DEADbeef\'", "X\'\'", [0, 1, 255], [], {"b": [7]}]]');
    assert.deepEqual(statement?.positional, [new Uint8Array([0xde, 0xad, 0xbe, 0xef]), new Uint8Array(0), new Uint8Array([0, 1, 255]), new Uint8Array(0)]);
    assert.deepEqual(statement?.named, { b: new Uint8Array([7]) });
  });

  it('keeps strings that only look like hex blobs as text', () => {
    const [statement] = parse('[["SELECT ?, ?, ?", "x\'abc\'", "x\'zz\'", "xdead"]]');
    assert.deepEqual(statement?.positional, ["x'abc'", "x'zz'", 'xdead']);
  });

  it('reads a text/plain body as one statement', () => {
    assert.deepEqual(parse('INSERT INTO t VALUES("a;b")', 'text/plain; charset=utf-8'), [{ sql: 'INSERT INTO t VALUES("a;b")', positional: [], named: {} }]);
    assertHttpError(() => parse('   ', 'text/plain'), 400, /^no statements$/);
  });

  it('answers 400 "no statements" for an empty array or empty body', () => {
    assertHttpError(() => parse('[]'), 400, /^no statements$/);
    assertHttpError(() => parse(''), 400, /^no statements$/);
  });

  it('answers 400 "invalid JSON body" for malformed JSON and non-arrays', () => {
    assertHttpError(() => parse('["SELECT 1"'), 400, /^invalid JSON body/);
    assertHttpError(() => parse('SELECT 1'), 400, /^invalid JSON body/);
    assertHttpError(() => parse('{"sql": "SELECT 1"}'), 400, /^invalid JSON body/);
  });

  it('refuses statements that are neither strings nor [sql, …] arrays', () => {
    assertHttpError(() => parse('[1]'), 400, /^invalid request: statement 1 must be a SQL string/);
    assertHttpError(() => parse('["SELECT 1", null]'), 400, /statement 2/);
    assertHttpError(() => parse('[[]]'), 400, /must start with a SQL string/);
    assertHttpError(() => parse('[[1, 2]]'), 400, /must start with a SQL string/);
  });

  it('refuses unsupported parameter types', () => {
    assertHttpError(() => parse('[["SELECT ?", [256]]]'), 400, /^unsupported type: .*integers 0-255, element 1 is 256/);
    assertHttpError(() => parse('[["SELECT ?", [-1]]]'), 400, /^unsupported type/);
    assertHttpError(() => parse('[["SELECT ?", [1.5]]]'), 400, /^unsupported type/);
    assertHttpError(() => parse('[["SELECT ?", ["a"]]]'), 400, /^unsupported type/);
    assertHttpError(() => parse('[["SELECT :a", {"a": {"b": 1}}]]'), 400, /^unsupported type: statement 1, parameter 1 \("a"\)/);
    assertHttpError(() => parse('[["SELECT ?", [[1]]]]'), 400, /^unsupported type: .*element 1 is an array/);
    assertHttpError(() => parse('[["SELECT :a", {"": 1}]]'), 400, /empty parameter name/);
  });

  it('refuses nesting beyond what any statement needs', () => {
    assertHttpError(() => parse('[["SELECT :a", {"a": [[[1]]]}]]'), 400, /^invalid JSON body: JSON nested deeper than 4/);
  });

  it('refuses 100,000 nested arrays or objects with a 400, not a stack overflow', () => {
    assertHttpError(() => parse('['.repeat(100_000)), 400, /^invalid JSON body: JSON nested deeper than 4/);
    assertHttpError(() => parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), 400, /^invalid JSON body: JSON nested deeper than 4/);
    assertHttpError(() => parse(`[["SELECT ?", ${'{"a":'.repeat(100_000)}1${'}'.repeat(100_000)}]]`), 400, /nested deeper than 4/);
  });

  // Found by test/http/fuzz-parsing.test.ts: an escaped lone surrogate reached SQLite as
  // three bytes of invalid UTF-8 on reads (and a 400 from the command codec on writes).
  it('binds an escaped lone surrogate as U+FFFD, as Go decodes it, and keeps surrogate pairs', () => {
    const [statement] = parse('[["SELECT ?, :\\udc00x, \'\\ud800\'", "a\\ud800", "\\ud83d\\ude00", {"\\udc00x": "\\udfff\\ud800\\udc00"}]]');
    assert.deepEqual(statement, {
      sql: "SELECT ?, :\ufffdx, '\ufffd'",
      positional: ['a\ufffd', '😀'],
      named: { '\ufffdx': '\ufffd\u{10000}' },
    });
    assert.deepEqual(parse('["SELECT \'\\udbff\'"]'), [{ sql: "SELECT '\ufffd'", positional: [], named: {} }]);
  });

  // Found by test/http/fuzz-parsing.test.ts: `named.__proto__ = value` set the object's
  // prototype, so the parameter vanished ("Missing named parameters").
  it('refuses a parameter named __proto__ with a clear 400', () => {
    for (const key of ['__proto__', ':__proto__', '$__proto__']) {
      assertHttpError(
        () => parse(`[["SELECT :__proto__", {"${key}": 1}]]`),
        400,
        /^invalid request: statement 1, parameter 1: the parameter name "__proto__" is not supported$/,
      );
    }
    const [statement] = parse('[["SELECT :constructor, :toString", {"constructor": 1, "toString": "x"}]]');
    assert.deepEqual(statement?.named, { constructor: 1n, toString: 'x' });
  });

  it('accepts statementCountMax statements and answers 413 for one more', () => {
    assert.equal(parse(JSON.stringify(Array(5).fill('SELECT 1'))).length, 5);
    assertHttpError(() => parse(JSON.stringify(Array(6).fill('SELECT 1'))), 413, /too many statements: 6 exceeds the maximum of 5/);
  });
});
