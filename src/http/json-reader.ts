/**
 * A JSON reader that keeps integers exact, the way rqlite's Go decoder does with
 * `UseNumber()`: an integer literal (no fraction, no exponent) that fits in a signed
 * 64-bit integer becomes a `bigint`; every other number (fractions, exponents,
 * integers beyond 64 bits) becomes a float `number`. `JSON.parse` cannot do this on
 * Node 20: it rounds integers beyond 2^53 before anyone sees them.
 *
 * Objects come back with a null prototype (so a key named `__proto__` is plain data);
 * a repeated key keeps its last value, as Go does. Nesting is bounded by `depthMax`.
 */

export type JsonValue = null | boolean | string | number | bigint | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export class JsonSyntaxError extends Error {
  override readonly name = 'JsonSyntaxError';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
  }
}

export const jsonDepthMaxDefault = 64;

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;
const numberPattern = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?/y;
const whitespace = new Set([0x20, 0x0a, 0x0d, 0x09]);

export function parseJson(text: string, depthMax: number = jsonDepthMaxDefault): JsonValue {
  const reader = new JsonReader(text, depthMax);
  const value = reader.readValue(0);
  reader.skipWhitespace();
  if (reader.position !== text.length) reader.fail('unexpected data after the JSON value');
  return value;
}

class JsonReader {
  position = 0;

  constructor(
    private readonly text: string,
    private readonly depthMax: number,
  ) {}

  fail(message: string): never {
    throw new JsonSyntaxError(message, this.position);
  }

  skipWhitespace(): void {
    const text = this.text;
    while (this.position < text.length && whitespace.has(text.charCodeAt(this.position))) this.position++;
  }

  readValue(depth: number): JsonValue {
    this.skipWhitespace();
    const character = this.text[this.position];
    switch (character) {
      case '{':
        return this.readObject(depth + 1);
      case '[':
        return this.readArray(depth + 1);
      case '"':
        return this.readString();
      case 't':
        return this.readLiteral('true', true);
      case 'f':
        return this.readLiteral('false', false);
      case 'n':
        return this.readLiteral('null', null);
      case undefined:
        return this.fail('unexpected end of JSON');
      default:
        return this.readNumber();
    }
  }

  private readLiteral<T extends JsonValue>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.position)) this.fail(`unexpected character ${this.describeCurrent()}`);
    this.position += word.length;
    return value;
  }

  private describeCurrent(): string {
    const character = this.text[this.position];
    return character === undefined ? 'end of JSON' : JSON.stringify(character);
  }

  private readNumber(): number | bigint {
    numberPattern.lastIndex = this.position;
    const match = numberPattern.exec(this.text);
    if (match === null) return this.fail(`unexpected character ${this.describeCurrent()}`);
    const literal = match[0];
    this.position += literal.length;
    if (match[1] === undefined && match[2] === undefined) {
      const integer = BigInt(literal);
      if (integer >= int64Min && integer <= int64Max) return integer;
    }
    const float = Number(literal);
    if (!Number.isFinite(float)) {
      this.position -= literal.length;
      this.fail(`number ${literal} is out of range`);
    }
    return float;
  }

  private enter(depth: number): void {
    if (depth > this.depthMax) this.fail(`JSON nested deeper than ${this.depthMax} levels`);
    this.position++;
  }

  private readArray(depth: number): JsonValue[] {
    this.enter(depth);
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position++;
      return items;
    }
    for (;;) {
      items.push(this.readValue(depth));
      this.skipWhitespace();
      const separator = this.text[this.position];
      this.position++;
      if (separator === ']') return items;
      if (separator !== ',') {
        this.position--;
        this.fail(`expected "," or "]" but found ${this.describeCurrent()}`);
      }
    }
  }

  private readObject(depth: number): JsonObject {
    this.enter(depth);
    const object: JsonObject = Object.create(null) as JsonObject;
    this.skipWhitespace();
    if (this.text[this.position] === '}') {
      this.position++;
      return object;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.position] !== '"') this.fail(`expected a string key but found ${this.describeCurrent()}`);
      const key = this.readString();
      this.skipWhitespace();
      if (this.text[this.position] !== ':') this.fail(`expected ":" but found ${this.describeCurrent()}`);
      this.position++;
      object[key] = this.readValue(depth);
      this.skipWhitespace();
      const separator = this.text[this.position];
      this.position++;
      if (separator === '}') return object;
      if (separator !== ',') {
        this.position--;
        this.fail(`expected "," or "}" but found ${this.describeCurrent()}`);
      }
    }
  }

  readString(): string {
    const text = this.text;
    const start = this.position + 1;
    let end = start;
    // Fast path: no escapes. Control characters are invalid inside JSON strings.
    for (; end < text.length; end++) {
      const code = text.charCodeAt(end);
      if (code === 0x22) {
        this.position = end + 1;
        return text.slice(start, end);
      }
      if (code === 0x5c) break;
      if (code < 0x20) {
        this.position = end;
        this.fail('control character in string');
      }
    }
    return this.readEscapedString(start, end);
  }

  private readEscapedString(start: number, firstEscape: number): string {
    const text = this.text;
    let result = text.slice(start, firstEscape);
    let index = firstEscape;
    while (index < text.length) {
      const code = text.charCodeAt(index);
      if (code === 0x22) {
        this.position = index + 1;
        return result;
      }
      if (code < 0x20) {
        this.position = index;
        this.fail('control character in string');
      }
      if (code !== 0x5c) {
        result += text[index];
        index++;
        continue;
      }
      const [decoded, length] = this.decodeEscape(index);
      result += decoded;
      index += length;
    }
    this.position = text.length;
    return this.fail('unterminated string');
  }

  private decodeEscape(index: number): [string, number] {
    const escape = this.text[index + 1];
    const simple = simpleEscapes[escape ?? ''];
    if (simple !== undefined) return [simple, 2];
    if (escape === 'u') {
      const hex = this.text.slice(index + 2, index + 6);
      if (/^[0-9a-fA-F]{4}$/.test(hex)) return [String.fromCharCode(Number.parseInt(hex, 16)), 6];
    }
    this.position = index;
    return this.fail('invalid escape in string');
  }
}

const simpleEscapes: Readonly<Record<string, string>> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};
