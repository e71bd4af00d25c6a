/**
 * Property-based fuzzing of what the HTTP layer reads from a request before any service
 * call: statement bodies (src/http/statements.ts, through the exact JSON reader) and
 * query strings (src/http/query-parameters.ts). Whatever the client sends, the answer is
 * a parsed request or an HttpError with the documented status (400, or 413 for too many
 * statements) and a clear message, in time proportional to the input; well-formed input
 * maps exactly as docs/API.md says. The same over real sockets: fuzz-requests.test.ts.
 * Runs and seed: test/fuzz-settings.ts.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { HttpError } from '../../src/http/http-error.js';
import { forwardRetryCountMax, parseQueryParameters } from '../../src/http/query-parameters.js';
import { parseStatementsBody } from '../../src/http/statements.js';
import type { SqlValue, Statement } from '../../src/state-machine/types.js';
import { fuzzParameters, withinTime } from '../fuzz-settings.js';

const limits = { statementCountMax: 20 };
const defaults = { timeoutMs: 30_000, linearizableTimeoutMs: 10_000, timeoutMsMax: 600_000 };
/** Far above parsing the few KiB below: a blow-up, not a slow machine, crosses it. */
const parseTimeBoundMs = 1_000;

/** Runs `parse`; a refusal must be an HttpError with one of `statuses` and a message. */
function parsedOrRefused<T>(parse: () => T, statuses: readonly number[]): T | HttpError {
  try {
    return withinTime(parseTimeBoundMs, parse);
  } catch (error) {
    if (!(error instanceof HttpError)) throw error;
    assert.ok(statuses.includes(error.status), `status ${error.status}: ${error.message}`);
    assert.ok(error.message.length > 0 && error.message.length < 1000, error.message);
    return error;
  }
}

const jsonTokens = [
  '[',
  ']',
  '{',
  '}',
  ',',
  ':',
  ' ',
  '"SELECT 1"',
  '"a"',
  '"x\'00ff\'"',
  '"\\ud800"',
  '"\\u0000"',
  '"\\',
  '0',
  '-1',
  '1.5',
  '2.0',
  '1e999',
  '9223372036854775808',
  '-9223372036854775809',
  '01',
  '-',
  'true',
  'null',
  'nul',
  '"__proto__"',
];
const jsonSoup = fc.array(fc.constantFrom(...jsonTokens), { maxLength: 40 }).map((tokens) => tokens.join(''));

const contentType = fc.constantFrom(undefined, 'application/json', 'text/plain', 'TEXT/PLAIN; charset=utf-8', 'application/x-www-form-urlencoded', '');

describe('fuzz: statement bodies', () => {
  it('any body is statements or a 400/413 with a clear message', () => {
    const body = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 200 }),
      jsonSoup,
      fc.json({ maxDepth: 5 }),
      fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify([value])),
    );
    fc.assert(
      fc.property(body, contentType, (text, type) => {
        const parsed = parsedOrRefused(() => parseStatementsBody(text, type, limits), [400, 413]);
        if (parsed instanceof HttpError) return;
        assert.ok(parsed.length >= 1 && parsed.length <= limits.statementCountMax);
        for (const statement of parsed) assert.equal(typeof statement.sql, 'string');
      }),
      fuzzParameters(500),
    );
  });

  it('nesting at any depth is parsed up to the bound and a 400 beyond it, never a stack overflow', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2000 }), fc.constantFrom('[', '{"a":'), (depth, opener) => {
        const closer = opener === '[' ? ']' : '}';
        const text = `[["SELECT ?", ${opener.repeat(depth)}1${closer.repeat(depth)}]]`;
        parsedOrRefused(() => parseStatementsBody(text, 'application/json', limits), [400]);
      }),
      fuzzParameters(200),
    );
  });
});

/** One JSON parameter as text, and what it must become. */
interface Parameter {
  readonly json: string;
  readonly expected: SqlValue;
}

const int64 = { min: -(2n ** 63n), max: 2n ** 63n - 1n };

/** Any code point, and now and then a lone UTF-16 surrogate (which JSON escapes as `\\uD800`). */
const anyCharacter = fc.oneof(
  { arbitrary: fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }), weight: 4 },
  { arbitrary: fc.integer({ min: 0xd800, max: 0xdfff }).map((code) => String.fromCharCode(code)), weight: 1 },
);
const anyText = (maxLength: number, minLength = 0): fc.Arbitrary<string> => fc.string({ unit: anyCharacter, minLength, maxLength });
const loneSurrogates = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** A float as a JSON literal with a fraction or exponent (so it reads as a float, as in Go). */
function floatLiteral(value: number): string {
  if (Object.is(value, -0)) return '-0.0';
  const text = JSON.stringify(value);
  return /[.eE]/.test(text) ? text : `${text}.0`;
}

const parameter: fc.Arbitrary<Parameter> = fc.oneof(
  fc.bigInt(int64).map((value) => ({ json: String(value), expected: value })),
  // Integers beyond 64 bits are floats, as Go's json.Number.Int64 fails and Float64 takes them.
  fc.bigInt({ min: 2n ** 63n, max: 2n ** 70n }).map((value) => ({ json: String(value), expected: Number(value) })),
  fc
    .double({ noNaN: true, noDefaultInfinity: true })
    .filter((value) => Number.isFinite(value) && !Number.isInteger(value))
    .map((value) => ({ json: floatLiteral(value), expected: value })),
  fc.constantFrom<Parameter>({ json: 'true', expected: true }, { json: 'false', expected: false }, { json: 'null', expected: null }),
  // Text: Go's decoder turns an escaped lone surrogate into U+FFFD, as rqlite binds it.
  anyText(30)
    .filter((text) => !/^[xX]'/.test(text))
    .map((text) => ({ json: JSON.stringify(text), expected: text.replace(loneSurrogates, '\uFFFD') })),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => ({ json: JSON.stringify(`x'${Buffer.from(bytes).toString('hex')}'`), expected: bytes })),
  fc.uint8Array({ maxLength: 20 }).map((bytes) => ({ json: JSON.stringify([...bytes]), expected: bytes })),
);

/** Parameter names, with the ones that name Object.prototype's members among them. */
const parameterName = fc.oneof(
  anyText(12, 1).filter((name) => !/^[:@$]/.test(name)),
  fc.constantFrom('constructor', 'toString', 'hasOwnProperty', 'valueOf', '__defineGetter__', '__proto__'),
);

interface StatementModel {
  readonly sql: string;
  readonly positional: readonly Parameter[];
  readonly named: readonly { readonly key: string; readonly name: string; readonly value: Parameter }[];
}

const statementModel: fc.Arbitrary<StatementModel> = fc.record({
  sql: anyText(40),
  positional: fc.array(parameter, { maxLength: 5 }),
  named: fc.uniqueArray(
    fc.record({ prefix: fc.constantFrom('', ':', '@', '$'), name: parameterName, value: parameter }).map(({ prefix, name, value }) => ({
      key: `${prefix}${name}`,
      name,
      value,
    })),
    // Unique as bound: two lone surrogates both become U+FFFD.
    { maxLength: 4, selector: (entry) => entry.name.replace(loneSurrogates, '\uFFFD') },
  ),
});

function statementJson(model: StatementModel): string {
  const parts = [JSON.stringify(model.sql), ...model.positional.map((item) => item.json)];
  if (model.named.length > 0) parts.push(`{${model.named.map((entry) => `${JSON.stringify(entry.key)}:${entry.value.json}`).join(',')}}`);
  return `[${parts.join(',')}]`;
}

function comparable(value: SqlValue | undefined): unknown {
  return value instanceof Uint8Array ? [...value] : value;
}

function assertStatement(actual: Statement | undefined, model: StatementModel): void {
  assert.ok(actual !== undefined);
  assert.equal(actual.sql, model.sql.replace(loneSurrogates, '\uFFFD'));
  assert.deepStrictEqual(
    actual.positional.map(comparable),
    model.positional.map((item) => comparable(item.expected)),
  );
  const named = Object.keys(actual.named).map((name) => [name, comparable(actual.named[name])]);
  assert.deepStrictEqual(named.sort(), model.named.map((entry) => [entry.name.replace(loneSurrogates, '\uFFFD'), comparable(entry.value.expected)]).sort());
}

describe('fuzz: statement mapping', () => {
  it('every well-formed statement maps exactly: integers exact, floats, text, blobs, named parameters', () => {
    fc.assert(
      fc.property(fc.array(statementModel, { minLength: 1, maxLength: 4 }), (models) => {
        const text = `[${models.map(statementJson).join(',')}]`;
        const parsed = parsedOrRefused(() => parseStatementsBody(text, 'application/json', limits), [400]);
        if (parsed instanceof HttpError) {
          // The one refusal: a parameter named __proto__ (it would set the object's prototype).
          assert.ok(
            models.some((model) => model.named.some((entry) => entry.name === '__proto__')),
            parsed.message,
          );
          assert.match(parsed.message, /parameter name "__proto__" is not supported/);
          return;
        }
        assert.equal(parsed.length, models.length);
        for (const [index, model] of models.entries()) assertStatement(parsed[index], model);
      }),
      fuzzParameters(500),
    );
  });
});

const queryKeys = [
  'timeout',
  'freshness',
  'db_timeout',
  'linearizable_timeout',
  'freshness_strict',
  'min_index',
  'retries',
  'level',
  'pretty',
  'q',
  'TIMEOUT',
  'x',
];
const queryValue = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.constantFrom('0', '1s', '500ms', '-1s', '10m', '10m1ns', '1h', '1.5s', '9223372036854775807ns', '1e3', 'strong', 'none', 'auto', '11', '-5', '+3'),
  fc.nat().map(String),
);
/** Raw query text: `key=value` pairs, percent-encoded or not, or arbitrary characters. */
const rawQuery = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 80 }),
  fc
    .array(fc.tuple(fc.constantFrom(...queryKeys), queryValue, fc.boolean()), { maxLength: 6 })
    .map((pairs) => pairs.map(([key, value, encoded]) => `${key}=${encoded ? encodeURIComponent(value) : value}`).join('&')),
);

describe('fuzz: query strings', () => {
  it('any query string is parameters or a 400 with a clear message', () => {
    fc.assert(
      fc.property(rawQuery, (query) => {
        const parsed = parsedOrRefused(() => parseQueryParameters(query, defaults), [400]);
        if (parsed instanceof HttpError) return;
        for (const duration of [parsed.timeoutMs, parsed.linearizableTimeoutMs, parsed.dbTimeoutMs ?? 0, parsed.freshnessMs ?? 0]) {
          assert.ok(duration >= 0 && duration <= defaults.timeoutMsMax, `duration ${duration}`);
        }
        assert.ok(parsed.forwardRetryCount >= 0 && parsed.forwardRetryCount <= forwardRetryCountMax);
        assert.ok(parsed.appliedIndexMin === null || Number.isSafeInteger(parsed.appliedIndexMin));
      }),
      fuzzParameters(500),
    );
  });

  it('valid values read exactly: durations in ms up to the bound, min_index, retries', () => {
    const valid = fc.record({
      timeoutMs: fc.integer({ min: 0, max: defaults.timeoutMsMax }),
      appliedIndexMin: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      retries: fc.integer({ min: -100, max: forwardRetryCountMax }),
    });
    fc.assert(
      fc.property(valid, ({ timeoutMs, appliedIndexMin, retries }) => {
        const parsed = parseQueryParameters(`timeout=${timeoutMs}ms&min_index=${appliedIndexMin}&retries=${retries}`, defaults);
        assert.equal(parsed.timeoutMs, timeoutMs);
        assert.equal(parsed.appliedIndexMin, appliedIndexMin);
        assert.equal(parsed.forwardRetryCount, Math.max(0, retries));
      }),
      fuzzParameters(300),
    );
  });
});
