/**
 * JSON.parse that keeps 64-bit integers exact. rqlite writes SQLite INTEGERs as JSON
 * integer literals; JSON.parse would round any beyond 2^53. Here an integer literal
 * becomes a `bigint` when it is not a safe integer (mode 'auto') or always (mode
 * 'bigint'); non-integer literals (with '.', 'e') stay numbers.
 *
 * Fast path: in 'auto' mode a text without a run of 16+ digits cannot hold an unsafe
 * integer, so the native JSON.parse does the work.
 */

export type IntegerMode = 'auto' | 'bigint';

/** Nesting deeper than this is refused rather than risking stack exhaustion. */
export const jsonDepthMax = 256;

export type JsonValue = null | boolean | number | bigint | string | JsonValue[] | { [key: string]: JsonValue };

const longDigitRun = /\d{16}/;

export function parseJson(text: string, integerMode: IntegerMode): JsonValue {
  if (integerMode === 'auto' && !longDigitRun.test(text)) return JSON.parse(text) as JsonValue;
  const parser = new Parser(text, integerMode);
  const value = parser.parseValue(0);
  parser.skipWhitespace();
  if (parser.position !== text.length) parser.fail('unexpected text after the JSON value');
  return value;
}

class Parser {
  position = 0;

  constructor(
    private readonly text: string,
    private readonly integerMode: IntegerMode,
  ) {}

  fail(message: string): never {
    throw new SyntaxError(`invalid JSON at offset ${this.position}: ${message}`);
  }

  skipWhitespace(): void {
    const text = this.text;
    let position = this.position;
    while (position < text.length) {
      const code = text.charCodeAt(position);
      if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) break;
      position += 1;
    }
    this.position = position;
  }

  parseValue(depth: number): JsonValue {
    if (depth > jsonDepthMax) this.fail(`nesting deeper than ${jsonDepthMax}`);
    this.skipWhitespace();
    const character = this.text[this.position];
    switch (character) {
      case '{':
        return this.parseObject(depth);
      case '[':
        return this.parseArray(depth);
      case '"':
        return this.parseString();
      case 't':
        return this.parseLiteral('true', true);
      case 'f':
        return this.parseLiteral('false', false);
      case 'n':
        return this.parseLiteral('null', null);
      default:
        return this.parseNumber();
    }
  }

  private parseLiteral<T>(word: string, value: T): T {
    if (!this.text.startsWith(word, this.position)) this.fail(`expected ${word}`);
    this.position += word.length;
    return value;
  }

  private parseObject(depth: number): { [key: string]: JsonValue } {
    const result: { [key: string]: JsonValue } = {};
    this.position += 1;
    this.skipWhitespace();
    if (this.text[this.position] === '}') {
      this.position += 1;
      return result;
    }
    for (;;) {
      this.skipWhitespace();
      if (this.text[this.position] !== '"') this.fail('expected a string key');
      const key = this.parseString();
      this.skipWhitespace();
      if (this.text[this.position] !== ':') this.fail("expected ':'");
      this.position += 1;
      // defineProperty: a key "__proto__" must become data, not change the prototype.
      Object.defineProperty(result, key, { value: this.parseValue(depth + 1), enumerable: true, writable: true, configurable: true });
      this.skipWhitespace();
      const separator = this.text[this.position];
      this.position += 1;
      if (separator === '}') return result;
      if (separator !== ',') this.fail("expected ',' or '}'");
    }
  }

  private parseArray(depth: number): JsonValue[] {
    const result: JsonValue[] = [];
    this.position += 1;
    this.skipWhitespace();
    if (this.text[this.position] === ']') {
      this.position += 1;
      return result;
    }
    for (;;) {
      result.push(this.parseValue(depth + 1));
      this.skipWhitespace();
      const separator = this.text[this.position];
      this.position += 1;
      if (separator === ']') return result;
      if (separator !== ',') this.fail("expected ',' or ']'");
    }
  }

  private parseString(): string {
    const text = this.text;
    const start = this.position;
    let position = start + 1;
    let escaped = false;
    while (position < text.length) {
      const code = text.charCodeAt(position);
      if (code === 0x22) break;
      if (code === 0x5c) {
        escaped = true;
        position += 2;
      } else {
        position += 1;
      }
    }
    if (position >= text.length) this.fail('unterminated string');
    this.position = position + 1;
    const slice = text.slice(start, position + 1);
    return escaped ? (JSON.parse(slice) as string) : slice.slice(1, -1);
  }

  private parseNumber(): number | bigint {
    const text = this.text;
    const start = this.position;
    let position = start;
    if (text[position] === '-') position += 1;
    const digitsStart = position;
    while (isDigit(text.charCodeAt(position))) position += 1;
    if (position === digitsStart) this.fail('expected a value');
    let integer = true;
    if (text[position] === '.') {
      integer = false;
      position += 1;
      while (isDigit(text.charCodeAt(position))) position += 1;
    }
    if (text[position] === 'e' || text[position] === 'E') {
      integer = false;
      position += 1;
      if (text[position] === '+' || text[position] === '-') position += 1;
      while (isDigit(text.charCodeAt(position))) position += 1;
    }
    this.position = position;
    const literal = text.slice(start, position);
    if (!integer) {
      const value = Number(literal);
      if (Number.isNaN(value)) this.fail(`bad number ${literal}`);
      return value;
    }
    if (this.integerMode === 'bigint') return BigInt(literal);
    const value = Number(literal);
    return Number.isSafeInteger(value) ? value : BigInt(literal);
  }
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}
