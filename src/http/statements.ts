/**
 * Request bodies of `/db/execute`, `/db/query` and `/db/request`, parsed exactly as
 * rqlite does into statements:
 *
 *   ["CREATE TABLE t (x)", ["INSERT INTO t VALUES(?)", 1], ["… :name", {"name": "a"}]]
 *
 * Parameter mapping, as rqlite's (a json.Number is an int64 when it parses as one, else a
 * float64): a JSON integer that fits in 64 bits → bigint (binds as INTEGER); any other
 * number (a fraction, an exponent, or beyond 64 bits) → REAL: a float `number`, or
 * `{ real }` when its value is a whole number within 2^53 (`2.0`, `1e2`, `-0.0`), which a
 * plain number would bind as INTEGER (common/real-values.ts); bool and null as themselves; a
 * string `x'…'` / `X'…'` holding an even number of hex digits → BLOB; an array of
 * integers 0–255 → BLOB; any other string → TEXT; anything else is refused (400).
 * A lone UTF-16 surrogate escaped in a JSON string (`"\ud800"`) becomes U+FFFD, in SQL
 * text, parameter names and values alike, as Go's decoder makes it in rqlite.
 * A `text/plain` body is one SQL statement.
 */
import { realValue } from '../common/real-values.js';
import type { SqlValue, Statement } from '../state-machine/types.js';
import { badRequest, HttpError } from './http-error.js';
import type { JsonValue } from './json-reader.js';
import { parseJsonBody } from './request-body.js';

/** Deep enough for `[[sql, [bytes…]]]` and `[[sql, {name: [bytes…]}]]`. */
const statementJsonDepthMax = 4;

interface StatementLimits {
  /** More statements than this in one request is refused with 413. */
  readonly statementCountMax: number;
}

export function parseStatementsBody(body: string, contentType: string | undefined, limits: StatementLimits): Statement[] {
  if (isPlainText(contentType)) return parsePlainTextBody(body);
  if (body.trim().length === 0) throw badRequest('no statements');
  const parsed = parseJsonBody(body, statementJsonDepthMax);
  if (!Array.isArray(parsed)) throw badRequest('invalid JSON body: expected an array of statements');
  if (parsed.length === 0) throw badRequest('no statements');
  if (parsed.length > limits.statementCountMax) {
    throw new HttpError(413, 'TOO_MANY_STATEMENTS', `too many statements: ${parsed.length} exceeds the maximum of ${limits.statementCountMax}`);
  }
  return parsed.map((element, index) => parseStatement(element, index + 1));
}

function isPlainText(contentType: string | undefined): boolean {
  return contentType?.trim().toLowerCase().startsWith('text/plain') === true;
}

function parsePlainTextBody(body: string): Statement[] {
  if (body.trim().length === 0) throw badRequest('no statements');
  return [plainStatement(body)];
}

/** A statement without parameters (`?q=`, `text/plain`, or a bare JSON string). */
export function plainStatement(sql: string): Statement {
  return { sql, positional: [], named: {} };
}

function parseStatement(element: JsonValue, statementNumber: number): Statement {
  if (typeof element === 'string') return plainStatement(wellFormed(element));
  if (!Array.isArray(element)) {
    throw badRequest(`invalid request: statement ${statementNumber} must be a SQL string or an array [sql, parameters…]`);
  }
  const [sql, ...parameters] = element;
  if (typeof sql !== 'string') {
    throw badRequest(`invalid request: statement ${statementNumber} must start with a SQL string`);
  }
  const positional: SqlValue[] = [];
  const named: Record<string, SqlValue> = {};
  for (let index = 0; index < parameters.length; index++) {
    const parameter = parameters[index] as JsonValue;
    // Only described when refused: building the text for every parameter is costly.
    const where = (): string => `statement ${statementNumber}, parameter ${index + 1}`;
    if (isJsonObject(parameter)) addNamedParameters(parameter, named, where);
    else positional.push(toSqlValue(parameter, where));
  }
  return { sql: wellFormed(sql), positional, named };
}

function addNamedParameters(object: { [key: string]: JsonValue }, named: Record<string, SqlValue>, where: () => string): void {
  for (const key of Object.keys(object)) {
    const name = wellFormed(stripParameterPrefix(key));
    if (name.length === 0) throw badRequest(`invalid request: ${where()}: empty parameter name`);
    // Assigned to `named`, this name would set the object's prototype and the value would vanish.
    if (name === '__proto__') throw badRequest(`invalid request: ${where()}: the parameter name "__proto__" is not supported`);
    named[name] = toSqlValue(object[key] as JsonValue, () => `${where()} (${JSON.stringify(key)})`);
  }
}

/** rqlite takes `{"name": …}` for `:name`; a key written with its prefix means the same. */
function stripParameterPrefix(key: string): string {
  return /^[:@$]/.test(key) ? key.slice(1) : key;
}

function isJsonObject(value: JsonValue): value is { [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const hexBlobPattern = /^[xX]'((?:[0-9a-fA-F]{2})*)'$/;

/** Map one JSON parameter to the value bound to SQLite (see the header comment). */
function toSqlValue(value: JsonValue, where: () => string): SqlValue {
  if (value === null || typeof value === 'boolean' || typeof value === 'bigint') return value;
  // The reader gives a number only for a literal that is no 64-bit integer: a REAL in rqlite.
  if (typeof value === 'number') return realValue(value);
  if (typeof value === 'string') {
    if (value.length < 3 || (value[0] !== 'x' && value[0] !== 'X')) return wellFormed(value);
    const hex = hexBlobPattern.exec(value);
    return hex === null ? wellFormed(value) : new Uint8Array(Buffer.from(hex[1] ?? '', 'hex'));
  }
  if (Array.isArray(value)) return byteArrayToBlob(value, where);
  throw badRequest(`unsupported type: ${where()} is an object; only named parameters may be objects`);
}

const surrogate = /[\uD800-\uDFFF]/;
const loneSurrogates = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Lone surrogates replaced by U+FFFD (they have no UTF-8: SQLite would store three bytes of garbage). */
function wellFormed(text: string): string {
  return surrogate.test(text) ? text.replace(loneSurrogates, '\uFFFD') : text;
}

function byteArrayToBlob(items: readonly JsonValue[], where: () => string): Uint8Array {
  const bytes = new Uint8Array(items.length);
  items.forEach((item, index) => {
    if (typeof item !== 'bigint' || item < 0n || item > 255n) {
      throw badRequest(`unsupported type: ${where()}: a BLOB array holds integers 0-255, element ${index + 1} is ${describe(item)}`);
    }
    bytes[index] = Number(item);
  });
  return bytes;
}

function describe(value: JsonValue): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'an object';
  return String(value);
}
