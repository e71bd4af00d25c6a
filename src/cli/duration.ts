/**
 * Go-style durations ("500ms", "2s", "1m30s", "1h"), as rqlited's flags take them.
 * A bare "0" is zero. Anything else is an error with the offending text in it.
 */

const unitMs: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** The longest duration text accepted; longer input is refused before parsing. */
export const durationTextLengthMax = 64;

export class DurationError extends Error {
  constructor(text: string) {
    super(`invalid duration ${JSON.stringify(text)}: expected e.g. 500ms, 10s, 1m30s`);
    this.name = 'DurationError';
  }
}

/** Parses a Go-style duration into milliseconds (may be fractional for ns/us). */
export function parseDurationMs(text: string): number {
  if (text.length === 0 || text.length > durationTextLengthMax) throw new DurationError(text);
  if (text === '0') return 0;
  const part = /(\d+(?:\.\d+)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let totalMs = 0;
  let position = 0;
  while (position < text.length) {
    part.lastIndex = position;
    const match = part.exec(text);
    if (match === null) throw new DurationError(text);
    const amount = Number(match[1]);
    const unit = unitMs[match[2] ?? ''];
    if (unit === undefined || !Number.isFinite(amount)) throw new DurationError(text);
    totalMs += amount * unit;
    position = part.lastIndex;
  }
  return totalMs;
}
