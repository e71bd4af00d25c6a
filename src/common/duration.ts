/**
 * Go durations, read and written exactly as Go's `time.ParseDuration` and
 * `Duration.String` do, because rqlite's flags and query parameters are Go durations.
 *
 * Grammar: `[-+]?([0-9]*(\.[0-9]*)?[a-zµμ]+)+` with at least one digit per number and a
 * unit after every number (`ns`, `us`, `µs` U+00B5, `μs` U+03BC, `ms`, `s`, `m`, `h`);
 * a lone `0` (signed or not) is the only unit-less text. The value is a whole number of
 * nanoseconds in a signed 64-bit integer: fractions below a nanosecond are truncated,
 * and anything outside [-2^63, 2^63 - 1] ns is an error, as in Go.
 */

type DurationErrorReason = 'invalid' | 'missing-unit' | 'unknown-unit' | 'too-long' | 'below-minimum' | 'above-maximum';

export class DurationError extends Error {
  override readonly name = 'DurationError';
  constructor(
    readonly text: string,
    readonly reason: DurationErrorReason,
    detail?: string,
  ) {
    super(`invalid duration ${JSON.stringify(text)}${detail === undefined ? '' : `: ${detail}`}`);
  }
}

/** Longer text is refused before parsing (Go has no bound; every caller here wants one). */
export const durationTextLengthMax = 64;

const nanosecondsPerUnit: ReadonlyMap<string, bigint> = new Map([
  ['ns', 1n],
  ['us', 1_000n],
  ['µs', 1_000n],
  ['μs', 1_000n],
  ['ms', 1_000_000n],
  ['s', 1_000_000_000n],
  ['m', 60_000_000_000n],
  ['h', 3_600_000_000_000n],
]);

const twoTo63 = 1n << 63n;

/** Go's `time.ParseDuration`: the duration in whole nanoseconds, or a DurationError. */
export function parseDurationNs(text: string): bigint {
  if (text.length > durationTextLengthMax) {
    throw new DurationError(text.slice(0, durationTextLengthMax), 'too-long', `longer than ${durationTextLengthMax} characters`);
  }
  let position = 0;
  const negative = text[0] === '-';
  if (negative || text[0] === '+') position = 1;
  if (text.slice(position) === '0') return 0n;
  if (position === text.length) throw new DurationError(text, 'invalid');
  let total = 0n;
  while (position < text.length) {
    const part = readPart(text, position);
    total += part.nanoseconds;
    if (total > twoTo63) throw new DurationError(text, 'invalid', 'out of range');
    position = part.end;
  }
  if (negative) return -total;
  if (total > twoTo63 - 1n) throw new DurationError(text, 'invalid', 'out of range');
  return total;
}

/** One `number unit` part starting at `start`: its nanoseconds (at most 2^63) and where it ends. */
function readPart(text: string, start: number): { nanoseconds: bigint; end: number } {
  const whole = readDigits(text, start);
  let position = whole.end;
  let fraction = { value: 0n, scale: 1, end: position };
  if (text[position] === '.') {
    fraction = readFraction(text, position + 1);
    position = fraction.end;
  }
  const hasDigits = whole.end > start || fraction.end > start + 1;
  if (!hasDigits) throw new DurationError(text, 'invalid');
  const unitEnd = unitEndAt(text, position);
  if (unitEnd === position) throw new DurationError(text, 'missing-unit', 'missing unit');
  const unitText = text.slice(position, unitEnd);
  const unit = nanosecondsPerUnit.get(unitText);
  if (unit === undefined) throw new DurationError(text, 'unknown-unit', `unknown unit ${JSON.stringify(unitText)}`);
  if (whole.value > twoTo63 / unit) throw new DurationError(text, 'invalid', 'out of range');
  let nanoseconds = whole.value * unit;
  if (fraction.value > 0n) {
    // Go computes the fraction in float64 (exact to the nanosecond for any fraction of
    // an hour) and truncates; the same IEEE arithmetic gives the same nanoseconds.
    nanoseconds += BigInt(Math.trunc(Number(fraction.value) * (Number(unit) / fraction.scale)));
    if (nanoseconds > twoTo63) throw new DurationError(text, 'invalid', 'out of range');
  }
  return { nanoseconds, end: unitEnd };
}

/** Go's leadingInt: the run of digits at `start`, refused once it passes 2^63. */
function readDigits(text: string, start: number): { value: bigint; end: number } {
  let value = 0n;
  let position = start;
  while (position < text.length && isDigit(text.charCodeAt(position))) {
    if (value > twoTo63 / 10n) throw new DurationError(text, 'invalid', 'out of range');
    value = value * 10n + BigInt(text.charCodeAt(position) - 48);
    if (value > twoTo63) throw new DurationError(text, 'invalid', 'out of range');
    position += 1;
  }
  return { value, end: position };
}

/** Go's leadingFraction: digits after the point; past 63 bits they only lose precision. */
function readFraction(text: string, start: number): { value: bigint; scale: number; end: number } {
  let value = 0n;
  let scale = 1;
  let overflowed = false;
  let position = start;
  for (; position < text.length && isDigit(text.charCodeAt(position)); position += 1) {
    if (overflowed) continue;
    const next = value * 10n + BigInt(text.charCodeAt(position) - 48);
    if (value > (twoTo63 - 1n) / 10n || next > twoTo63) {
      overflowed = true;
      continue;
    }
    value = next;
    scale *= 10;
  }
  return { value, scale, end: position };
}

/** A unit is everything up to the next digit or point (so `1 s` has the unit " s"). */
function unitEndAt(text: string, start: number): number {
  let position = start;
  while (position < text.length && text[position] !== '.' && !isDigit(text.charCodeAt(position))) position += 1;
  return position;
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

/** The range a caller accepts, in milliseconds, both ends included. */
interface DurationRangeMs {
  readonly durationMsMin: number;
  readonly durationMsMax: number;
}

/** Every duration Go can hold: [-2^63, 2^63 - 1] nanoseconds. */
export const goDurationRangeMs: DurationRangeMs = {
  durationMsMin: Number(-twoTo63) / 1e6,
  durationMsMax: Number(twoTo63 - 1n) / 1e6,
};

/** Node's timers fire at once (with a warning) for delays beyond a signed 32-bit count of ms. */
export const timerDelayMsMax = 2 ** 31 - 1;

/** Never negative, otherwise anything Go can hold: the default for timeouts and intervals. */
const nonNegativeDurationRangeMs: DurationRangeMs = { durationMsMin: 0, durationMsMax: goDurationRangeMs.durationMsMax };

/**
 * A Go duration in milliseconds (fractional below a millisecond), refused with a
 * DurationError when it is not Go syntax or falls outside `range`.
 */
export function parseDurationMs(text: string, range: DurationRangeMs = nonNegativeDurationRangeMs): number {
  const milliseconds = Number(parseDurationNs(text)) / 1e6;
  if (milliseconds < range.durationMsMin) {
    throw new DurationError(text, 'below-minimum', `below the minimum of ${range.durationMsMin}ms`);
  }
  if (milliseconds > range.durationMsMax) {
    throw new DurationError(text, 'above-maximum', `above the maximum of ${range.durationMsMax}ms`);
  }
  return milliseconds;
}

/** Go's `Duration.String`: `1h2m3.5s`, `1m0s`, `250ms`, `1.5µs`, `7ns`, `0s`. */
export function formatDurationNs(nanoseconds: bigint): string {
  if (nanoseconds === 0n) return '0s';
  const sign = nanoseconds < 0n ? '-' : '';
  const magnitude = nanoseconds < 0n ? -nanoseconds : nanoseconds;
  if (magnitude < 1_000n) return `${sign}${magnitude}ns`;
  if (magnitude < 1_000_000n) return `${sign}${withFraction(magnitude, 3)}µs`;
  if (magnitude < 1_000_000_000n) return `${sign}${withFraction(magnitude, 6)}ms`;
  const seconds = withFraction(magnitude % 60_000_000_000n, 9);
  const totalMinutes = magnitude / 60_000_000_000n;
  if (totalMinutes === 0n) return `${sign}${seconds}s`;
  const hours = totalMinutes / 60n;
  const minutesText = `${totalMinutes % 60n}m${seconds}s`;
  return hours === 0n ? `${sign}${minutesText}` : `${sign}${hours}h${minutesText}`;
}

/** `value / 10^digits` in decimal, trailing zeros (and a bare point) left out, as Go's fmtFrac. */
function withFraction(value: bigint, digits: number): string {
  const divisor = 10n ** BigInt(digits);
  const fraction = (value % divisor).toString().padStart(digits, '0').replace(/0+$/, '');
  const whole = (value / divisor).toString();
  return fraction === '' ? whole : `${whole}.${fraction}`;
}

/** Seconds (as status reports measure them) in Go's `Duration.String`, to the nearest nanosecond. */
export function formatDurationSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '0s';
  return formatDurationNs(BigInt(Math.round(seconds * 1e9)));
}
