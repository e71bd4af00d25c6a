/**
 * Flag values, read as rqlited reads them: integers as Go's strconv with base 0 (flag.IntVar
 * and Uint64Var), durations as Go's time.ParseDuration, addresses as host:port. Each
 * parser names the flag as the user spelled it in its UsageError.
 */
import { DurationError, parseDurationMs, timerDelayMsMax } from '../common/duration.js';
import { UsageError } from './usage-error.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Go's underscoreOK: an underscore only between digits, or between a base prefix and a digit. */
function underscoresAllowed(body: string, hex: boolean): boolean {
  let seen: 'start' | 'digit' | 'underscore' | 'other' = 'start';
  let position = 0;
  if (/^0[bBoOxX]/.test(body)) {
    position = 2;
    seen = 'digit';
  }
  for (; position < body.length; position += 1) {
    const character = body[position] as string;
    if (/[0-9]/.test(character) || (hex && /[a-fA-F]/.test(character))) {
      seen = 'digit';
    } else if (character === '_') {
      if (seen !== 'digit') return false;
      seen = 'underscore';
    } else {
      if (seen === 'underscore') return false;
      seen = 'other';
    }
  }
  return seen !== 'underscore';
}

/** The base and digits of a Go integer literal without its sign: 0x, 0o, 0b, a leading 0 (octal) or decimal. */
function splitBase(body: string): { base: number; digits: string } {
  const prefix = body.slice(0, 2).toLowerCase();
  if (prefix === '0x') return { base: 16, digits: body.slice(2) };
  if (prefix === '0o') return { base: 8, digits: body.slice(2) };
  if (prefix === '0b') return { base: 2, digits: body.slice(2) };
  if (body.length > 1 && body.startsWith('0')) return { base: 8, digits: body.slice(1) };
  return { base: 10, digits: body };
}

const digitPatterns: Readonly<Record<number, RegExp>> = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ };

/**
 * Go's strconv.ParseInt(text, 0, 64) when `signed`, else ParseUint(text, 0, 64): the
 * value, or undefined when Go would refuse the text (syntax or range).
 */
export function parseGoInteger(text: string, signed: boolean): bigint | undefined {
  let body = text;
  let negative = false;
  if (signed && (body.startsWith('-') || body.startsWith('+'))) {
    negative = body.startsWith('-');
    body = body.slice(1);
  }
  if (body === '' || !underscoresAllowed(body, body.slice(0, 2).toLowerCase() === '0x')) return undefined;
  const { base, digits: withUnderscores } = splitBase(body);
  const digits = withUnderscores.replaceAll('_', '');
  if (!(digitPatterns[base] as RegExp).test(digits)) return undefined;
  let magnitude = 0n;
  for (const digit of digits) magnitude = magnitude * BigInt(base) + BigInt(Number.parseInt(digit, 16));
  const value = negative ? -magnitude : magnitude;
  const [minimum, maximum] = signed ? [-(2n ** 63n), 2n ** 63n - 1n] : [0n, 2n ** 64n - 1n];
  return value < minimum || value > maximum ? undefined : value;
}

/** An rqlited integer flag (Go syntax), within [minimum, maximum]. */
export function parseGoIntegerFlag(text: string, spelling: string, range: { minimum: number; maximum: number; signed: boolean }): number {
  const value = parseGoInteger(text, range.signed);
  if (value === undefined) throw new UsageError(`${spelling}: ${JSON.stringify(text)} is not a whole number`);
  if (value < BigInt(range.minimum) || value > BigInt(range.maximum)) {
    throw new UsageError(`${spelling}: ${value} out of range ${range.minimum}-${range.maximum}`);
  }
  return Number(value);
}

/** One of quorumlite's own whole-number flags: decimal digits only. */
export function parseWholeNumber(text: string, spelling: string, minimum: number, maximum: number): number {
  if (!/^\d+$/.test(text)) throw new UsageError(`${spelling}: ${JSON.stringify(text)} is not a whole number`);
  const value = Number(text);
  if (value < minimum || value > maximum) throw new UsageError(`${spelling}: ${value} out of range ${minimum}-${maximum}`);
  return value;
}

/** Intervals and timeouts drive timers: at least 1ms, at most what a Node timer can wait. */
export const timerRangeMs = { durationMsMin: 1, durationMsMax: timerDelayMsMax };

/** A Go duration flag in whole milliseconds (a fraction rounds up, so no positive duration becomes 0). */
export function parseDurationFlag(text: string, spelling: string, range: { durationMsMin: number; durationMsMax: number } = timerRangeMs): number {
  try {
    return Math.ceil(parseDurationMs(text, range));
  } catch (error) {
    if (error instanceof DurationError) throw new UsageError(`${spelling}: ${error.message}`);
    throw error;
  }
}

/** Parses "host:port" (IPv6 as "[::1]:port"). */
export function parseHostPort(text: string, spelling: string): HostPort {
  const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text);
  if (match === null) throw new UsageError(`${spelling}: invalid address ${JSON.stringify(text)}, expected HOST:PORT`);
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) throw new UsageError(`${spelling}: port ${port} out of range 1-65535`);
  const hostText = match[1] ?? '';
  const host = hostText.startsWith('[') ? hostText.slice(1, -1) : hostText;
  return { host, port };
}

export function formatHostPort(address: HostPort): string {
  return address.host.includes(':') ? `[${address.host}]:${address.port}` : `${address.host}:${address.port}`;
}
