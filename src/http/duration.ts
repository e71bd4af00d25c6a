/**
 * Go's duration syntax (`time.ParseDuration`), which rqlite's query parameters use:
 * a sequence of decimal numbers each with a unit, e.g. `300ms`, `1.5h`, `2h45m`,
 * `-1s`; units `ns`, `us` (or `µs`, `μs`), `ms`, `s`, `m`, `h`; a bare `0` is allowed.
 */

const unitMilliseconds: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3,
  'μs': 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

const wholePattern = /^[-+]?(?:(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:ns|us|µs|μs|ms|s|m|h))+$/;
const partPattern = /([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|µs|μs|ms|s|m|h)/g;

/** Milliseconds (possibly fractional), or null when `text` is not a Go duration. */
export function parseGoDurationMs(text: string): number | null {
  if (text === '0' || text === '+0' || text === '-0') return 0;
  if (!wholePattern.test(text)) return null;
  const sign = text.startsWith('-') ? -1 : 1;
  let totalMs = 0;
  for (const match of text.matchAll(partPattern)) {
    const amount = Number(match[1]);
    const unit = unitMilliseconds[match[2] ?? ''];
    if (unit === undefined) return null;
    totalMs += amount * unit;
  }
  return Number.isFinite(totalMs) ? sign * totalMs : null;
}

/** A duration in Go's `String()` style: `1.5s`, `250ms`, `12.345µs`, `2m3s`, `0s`. */
export function formatGoDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds === 0) return '0s';
  const sign = seconds < 0 ? '-' : '';
  const absolute = Math.abs(seconds);
  if (absolute < 1e-6) return `${sign}${trimNumber(absolute * 1e9)}ns`;
  if (absolute < 1e-3) return `${sign}${trimNumber(absolute * 1e6)}µs`;
  if (absolute < 1) return `${sign}${trimNumber(absolute * 1e3)}ms`;
  const hours = Math.floor(absolute / 3600);
  const minutes = Math.floor((absolute - hours * 3600) / 60);
  const rest = absolute - hours * 3600 - minutes * 60;
  const hoursText = hours > 0 ? `${hours}h` : '';
  const minutesText = hours > 0 || minutes > 0 ? `${minutes}m` : '';
  return `${sign}${hoursText}${minutesText}${trimNumber(rest)}s`;
}

function trimNumber(value: number): string {
  return String(Number(value.toFixed(9)));
}
