/**
 * A JSON reader that keeps integers exact. `JSON.parse` cannot on Node 20: it rounds
 * integer literals beyond 2^53 before anyone sees them, and SQLite INTEGERs are 64-bit.
 *
 * The grammar is exactly JSON's (RFC 8259, what `JSON.parse` accepts); the options say
 * what the server and the client genuinely need differently:
 * - `integers`: which integer literals (no fraction, no exponent) become bigints;
 * - `floatOutOfRange`: Go's decoder refuses `1e999`, `JSON.parse` reads Infinity;
 * - `objects`: null-prototype objects (a server reading untrusted keys) or plain ones
 *   (values handed to users); either way `__proto__` is an ordinary key;
 * - `nestingDepthMax`: the reader recurses, so nesting is bounded.
 * A repeated key keeps its last value, as in Go and `JSON.parse`.
 */

export type JsonValue = null | boolean | string | number | bigint | JsonValue[] | JsonObject;
export interface JsonObject {
  [key: string]: JsonValue;
}

export class JsonSyntaxError extends SyntaxError {
  override readonly name = 'JsonSyntaxError';
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(`${message} at position ${position}`);
  }
}

/**
 * - 'bigint-within-int64': an integer in signed 64 bits is a bigint, a larger one a float
 *   (Go's `UseNumber` read back with `Int64`, falling back to `Float64`);
 * - 'bigint-when-unsafe': a safe integer is a number, any other an exact bigint;
 * - 'bigint': every integer is a bigint, whatever its size.
 */
type JsonIntegerPolicy = 'bigint-within-int64' | 'bigint-when-unsafe' | 'bigint';

export interface ExactJsonOptions {
  readonly integers: JsonIntegerPolicy;
  /** 'refuse' as Go does, or 'infinity' as `JSON.parse` does. */
  readonly floatOutOfRange: 'refuse' | 'infinity';
  readonly objects: 'null-prototype' | 'plain';
  /** The top-level value is at depth 0, and each array or object holds values one deeper. */
  readonly nestingDepthMax: number;
}

export function parseExactJson(text: string, options: ExactJsonOptions): JsonValue {
  const reader = new ExactJsonReader(text, options);
  const value = reader.readValue(0);
  reader.skipWhitespace();
  if (reader.position !== text.length) reader.fail('unexpected data after the JSON value');
  return value;
}

const int64Min = -(2n ** 63n);
const int64Max = 2n ** 63n - 1n;
/** Integer literals of up to this many digits fit in an int64 (and up to 15 in a safe integer). */
const int64DigitsAlwaysFit = 18;
const safeDigitsAlwaysFit = 15;

class ExactJsonReader {
  position = 0;
  readonly #text: string;
  readonly #options: ExactJsonOptions;

  constructor(text: string, options: ExactJsonOptions) {
    this.#text = text;
    this.#options = options;
  }

  fail(message: string): never {
    throw new JsonSyntaxError(message, this.position);
  }

  skipWhitespace(): void {
    const text = this.#text;
    let position = this.position;
    while (position < text.length) {
      const code = text.charCodeAt(position);
      if (code !== 0x20 && code !== 0x0a && code !== 0x0d && code !== 0x09) break;
      position++;
    }
    this.position = position;
  }

  readValue(depth: number): JsonValue {
    this.skipWhitespace();
    switch (this.#text.charCodeAt(this.position)) {
      case 0x7b: // {
        return this.#readObject(depth);
      case 0x5b: // [
        return this.#readArray(depth);
      case 0x22: // "
        return this.readString();
      case 0x74: // t
        return this.#readLiteral('true', true);
      case 0x66: // f
        return this.#readLiteral('false', false);
      case 0x6e: // n
        return this.#readLiteral('null', null);
      default:
        if (this.position >= this.#text.length) this.fail('unexpected end of JSON');
        return this.#readNumber();
    }
  }

  #readLiteral<T extends JsonValue>(word: string, value: T): T {
    if (!this.#text.startsWith(word, this.position)) this.fail(`unexpected character ${this.#describeCurrent()}`);
    this.position += word.length;
    return value;
  }

  #describeCurrent(): string {
    const character = this.#text[this.position];
    return character === undefined ? 'end of JSON' : JSON.stringify(character);
  }

  /** Called before reading a container's first value, which sits at `depth + 1`. */
  #checkChildDepth(depth: number): void {
    const max = this.#options.nestingDepthMax;
    if (depth + 1 > max) this.fail(`JSON nested deeper than ${max} levels: nesting deeper than nestingDepthMax is refused`);
  }

  #readArray(depth: number): JsonValue[] {
    this.position++;
    const items: JsonValue[] = [];
    this.skipWhitespace();
    if (this.#text.charCodeAt(this.position) === 0x5d) {
      this.position++;
      return items;
    }
    this.#checkChildDepth(depth);
    for (;;) {
      items.push(this.readValue(depth + 1));
      this.skipWhitespace();
      const separator = this.#text.charCodeAt(this.position);
      if (separator === 0x5d) {
        this.position++;
        return items;
      }
      if (separator !== 0x2c) this.fail(`expected "," or "]" but found ${this.#describeCurrent()}`);
      this.position++;
    }
  }

  #readObject(depth: number): JsonObject {
    this.position++;
    const plain = this.#options.objects === 'plain';
    const object = (plain ? {} : Object.create(null)) as JsonObject;
    this.skipWhitespace();
    if (this.#text.charCodeAt(this.position) === 0x7d) {
      this.position++;
      return object;
    }
    this.#checkChildDepth(depth);
    for (;;) {
      this.skipWhitespace();
      if (this.#text.charCodeAt(this.position) !== 0x22) this.fail(`expected a string key but found ${this.#describeCurrent()}`);
      const key = this.readString();
      this.skipWhitespace();
      if (this.#text.charCodeAt(this.position) !== 0x3a) this.fail(`expected ":" but found ${this.#describeCurrent()}`);
      this.position++;
      const value = this.readValue(depth + 1);
      // On a plain object, assigning "__proto__" would set the prototype: define it as data.
      if (plain && key === '__proto__') {
        Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
      } else {
        object[key] = value;
      }
      this.skipWhitespace();
      const separator = this.#text.charCodeAt(this.position);
      if (separator === 0x7d) {
        this.position++;
        return object;
      }
      if (separator !== 0x2c) this.fail(`expected "," or "}" but found ${this.#describeCurrent()}`);
      this.position++;
    }
  }

  #readNumber(): number | bigint {
    const text = this.#text;
    const start = this.position;
    const first = text.charCodeAt(start);
    if (first !== 0x2d && (first < 0x30 || first > 0x39)) this.fail(`unexpected character ${this.#describeCurrent()}`);
    const digitsStart = first === 0x2d ? start + 1 : start;
    const integerEnd = text.charCodeAt(digitsStart) === 0x30 ? digitsStart + 1 : this.#skipDigits(digitsStart);
    const end = this.#skipExponent(this.#skipFraction(integerEnd));
    const literal = text.slice(start, end);
    // Neither fraction nor exponent: an integer, exact unless the policy reads it as a float.
    const exact = end === integerEnd ? this.#readInteger(literal, integerEnd - digitsStart) : undefined;
    if (exact !== undefined) {
      this.position = end;
      return exact;
    }
    const float = Number(literal);
    if (!Number.isFinite(float) && this.#options.floatOutOfRange === 'refuse') this.fail(`number ${literal} is out of range`);
    this.position = end;
    return float;
  }

  /** Past a '.' and its digits at `position`, when there is one. */
  #skipFraction(position: number): number {
    return this.#text.charCodeAt(position) === 0x2e ? this.#skipDigits(position + 1) : position;
  }

  /** Past an exponent at `position` ('e' or 'E', an optional sign, digits), when there is one. */
  #skipExponent(position: number): number {
    const marker = this.#text.charCodeAt(position);
    if (marker !== 0x65 && marker !== 0x45) return position;
    const sign = this.#text.charCodeAt(position + 1);
    return this.#skipDigits(sign === 0x2b || sign === 0x2d ? position + 2 : position + 1);
  }

  /** The value of an integer literal under the policy; undefined when it is to be read as a float. */
  #readInteger(literal: string, digitCount: number): number | bigint | undefined {
    switch (this.#options.integers) {
      case 'bigint-within-int64': {
        if (digitCount <= safeDigitsAlwaysFit) return BigInt(Number(literal));
        const integer = BigInt(literal);
        if (digitCount <= int64DigitsAlwaysFit || (integer >= int64Min && integer <= int64Max)) return integer;
        return undefined;
      }
      case 'bigint-when-unsafe': {
        if (digitCount <= safeDigitsAlwaysFit) return Number(literal);
        const value = Number(literal);
        return Number.isSafeInteger(value) ? value : BigInt(literal);
      }
      case 'bigint':
        return digitCount <= safeDigitsAlwaysFit ? BigInt(Number(literal)) : BigInt(literal);
    }
  }

  /** Skips a run of digits from `start`; an empty run is an error there. */
  #skipDigits(start: number): number {
    const text = this.#text;
    let position = start;
    while (position < text.length) {
      const code = text.charCodeAt(position);
      if (code < 0x30 || code > 0x39) break;
      position++;
    }
    if (position === start) {
      this.position = start;
      this.fail(`expected a digit but found ${this.#describeCurrent()}`);
    }
    return position;
  }

  readString(): string {
    const text = this.#text;
    const start = this.position + 1;
    // Fast path: no escapes. Control characters are invalid inside JSON strings.
    for (let end = start; end < text.length; end++) {
      const code = text.charCodeAt(end);
      if (code === 0x22) {
        this.position = end + 1;
        return text.slice(start, end);
      }
      if (code === 0x5c) return this.#readEscapedString(start, end);
      if (code < 0x20) {
        this.position = end;
        this.fail('control character in string');
      }
    }
    this.position = text.length;
    return this.fail('unterminated string');
  }

  #readEscapedString(start: number, firstEscape: number): string {
    const text = this.#text;
    let result = text.slice(start, firstEscape);
    let index = firstEscape;
    let runStart = index;
    while (index < text.length) {
      const code = text.charCodeAt(index);
      if (code === 0x22) {
        this.position = index + 1;
        return result + text.slice(runStart, index);
      }
      if (code < 0x20) {
        this.position = index;
        this.fail('control character in string');
      }
      if (code !== 0x5c) {
        index++;
        continue;
      }
      result += text.slice(runStart, index);
      const [decoded, length] = this.#decodeEscape(index);
      result += decoded;
      index += length;
      runStart = index;
    }
    this.position = text.length;
    return this.fail('unterminated string');
  }

  #decodeEscape(index: number): [string, number] {
    const escapeLetter = this.#text[index + 1];
    const simple = simpleEscapes[escapeLetter ?? ''];
    if (simple !== undefined) return [simple, 2];
    if (escapeLetter === 'u') {
      const hex = this.#text.slice(index + 2, index + 6);
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
