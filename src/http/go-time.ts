/**
 * rqlite's DATE, DATETIME and TIMESTAMP values, reproduced exactly. rqlite's SQLite
 * driver (Go's go-sqlite3) turns such a column's value into a Go `time.Time`, and Go's
 * JSON encoder writes that as RFC 3339 (`time.Time.MarshalText`):
 *
 * - TEXT: one trailing `Z` is dropped, then the driver's nine layouts are tried in order
 *   with Go's `time.Parse` rules (below). No layout matches: Go's zero time,
 *   `0001-01-01T00:00:00Z`.
 * - INTEGER: unix seconds, or unix milliseconds beyond ±1e12 (multiplied into 64-bit
 *   nanoseconds, wrapping as Go's int64 does), in UTC.
 * - A year outside 0–9999, or an offset of 24 hours or more, cannot be written: Go's
 *   error text, which rqlite returns as the statement's error.
 *
 * Pure functions of the value: every node answers the same (no local time zone).
 */

/** Go's zero `time.Time` as MarshalText writes it. */
const goZeroTime = '0001-01-01T00:00:00Z';

export type GoTimeText = { readonly text: string } | { readonly error: string };

interface CivilTime {
  readonly year: number;
  readonly month: number;
  readonly day: number;
  readonly hour: number;
  readonly minute: number;
  readonly second: number;
  readonly nanosecond: number;
  /** East of UTC, in seconds; 0 is UTC (written `Z`). */
  readonly offsetSeconds: number;
}

// ---------------------------------------------------------------------------
// Parsing: the driver's layouts under Go's time.Parse rules
// ---------------------------------------------------------------------------

/**
 * The driver's layouts, as what each holds after the date: the separator, whether it
 * has seconds (a fraction is then always accepted, as Go accepts one after seconds even
 * when the layout shows none) and whether it ends in a `-07:00` offset.
 */
const layouts: readonly { readonly separator: string; readonly clock: 'none' | 'minutes' | 'seconds'; readonly offset: boolean }[] = [
  { separator: ' ', clock: 'seconds', offset: true },
  { separator: 'T', clock: 'seconds', offset: true },
  { separator: ' ', clock: 'seconds', offset: false },
  { separator: 'T', clock: 'seconds', offset: false },
  { separator: ' ', clock: 'seconds', offset: false },
  { separator: 'T', clock: 'seconds', offset: false },
  { separator: ' ', clock: 'minutes', offset: false },
  { separator: 'T', clock: 'minutes', offset: false },
  { separator: '', clock: 'none', offset: false },
];

class Cursor {
  position = 0;
  constructor(readonly text: string) {}

  get rest(): string {
    return this.text.slice(this.position);
  }

  isDigitAt(offset: number): boolean {
    const code = this.text.charCodeAt(this.position + offset);
    return code >= 48 && code <= 57;
  }

  digitAt(offset: number): number {
    return this.text.charCodeAt(this.position + offset) - 48;
  }

  /** Go's `getnum`: two digits when `fixed`, else one or two. */
  number(fixed: boolean): number | undefined {
    if (!this.isDigitAt(0)) return undefined;
    if (!this.isDigitAt(1)) {
      if (fixed) return undefined;
      this.position += 1;
      return this.digitAt(-1);
    }
    this.position += 2;
    return this.digitAt(-2) * 10 + this.digitAt(-1);
  }

  literal(character: string): boolean {
    if (this.text[this.position] !== character) return false;
    this.position += 1;
    return true;
  }

  /** Go's `skip` for a space in the layout: the value must start with one (or be done); all leading spaces go. */
  spaces(): boolean {
    if (this.position < this.text.length && this.text[this.position] !== ' ') return false;
    while (this.text[this.position] === ' ') this.position += 1;
    return true;
  }
}

function isLeapYear(year: number): boolean {
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

function daysInMonth(month: number, year: number): number {
  if (month === 2) return isLeapYear(year) ? 29 : 28;
  return [4, 6, 9, 11].includes(month) ? 30 : 31;
}

function parseDate(cursor: Cursor): { year: number; month: number; day: number } | undefined {
  // Go's stdLongYear: four characters, the first a digit, all of them digits.
  if (cursor.text.length - cursor.position < 4 || ![0, 1, 2, 3].every((offset) => cursor.isDigitAt(offset))) return undefined;
  const year = cursor.digitAt(0) * 1000 + cursor.digitAt(1) * 100 + cursor.digitAt(2) * 10 + cursor.digitAt(3);
  cursor.position += 4;
  if (!cursor.literal('-')) return undefined;
  const month = cursor.number(true);
  if (month === undefined || month < 1 || month > 12 || !cursor.literal('-')) return undefined;
  const day = cursor.number(true);
  if (day === undefined || day < 1 || day > daysInMonth(month, year)) return undefined;
  return { year, month, day };
}

/** After the seconds: `.` or `,` and at least one digit; digits past the ninth are dropped (not rounded). */
function parseFraction(cursor: Cursor): number {
  const mark = cursor.text[cursor.position];
  if ((mark !== '.' && mark !== ',') || !cursor.isDigitAt(1)) return 0;
  let digitCount = 1;
  while (cursor.isDigitAt(digitCount + 1)) digitCount += 1;
  const kept = cursor.text.slice(cursor.position + 1, cursor.position + 1 + Math.min(digitCount, 9));
  cursor.position += 1 + digitCount;
  return Number(kept.padEnd(9, '0'));
}

/** Go's stdNumColonTZ: `±hh:mm`; hours up to 24 and minutes up to 60 pass (Go writes such offsets as people do). */
function parseOffset(cursor: Cursor): number | undefined {
  const text = cursor.rest;
  if (text.length < 6 || text[3] !== ':') return undefined;
  const sign = text[0];
  if (!/^\d\d$/.test(text.slice(1, 3)) || !/^\d\d$/.test(text.slice(4, 6))) return undefined;
  const hours = Number(text.slice(1, 3));
  const minutes = Number(text.slice(4, 6));
  if (hours > 24 || minutes > 60 || (sign !== '+' && sign !== '-')) return undefined;
  cursor.position += 6;
  const seconds = (hours * 60 + minutes) * 60;
  return sign === '-' ? -seconds : seconds;
}

function parseClock(cursor: Cursor, clock: 'minutes' | 'seconds'): { hour: number; minute: number; second: number; nanosecond: number } | undefined {
  const hour = cursor.number(false);
  if (hour === undefined || hour >= 24 || !cursor.literal(':')) return undefined;
  const minute = cursor.number(true);
  if (minute === undefined || minute >= 60) return undefined;
  if (clock === 'minutes') return { hour, minute, second: 0, nanosecond: 0 };
  if (!cursor.literal(':')) return undefined;
  const second = cursor.number(true);
  if (second === undefined || second >= 60) return undefined;
  return { hour, minute, second, nanosecond: parseFraction(cursor) };
}

function parseWithLayout(text: string, layout: (typeof layouts)[number]): CivilTime | undefined {
  const cursor = new Cursor(text);
  const date = parseDate(cursor);
  if (date === undefined) return undefined;
  let clock = { hour: 0, minute: 0, second: 0, nanosecond: 0 };
  let offsetSeconds = 0;
  if (layout.clock !== 'none') {
    const separated = layout.separator === ' ' ? cursor.spaces() : cursor.literal(layout.separator);
    const parsed = separated ? parseClock(cursor, layout.clock) : undefined;
    if (parsed === undefined) return undefined;
    clock = parsed;
    if (layout.offset) {
      const offset = parseOffset(cursor);
      if (offset === undefined) return undefined;
      offsetSeconds = offset;
    }
  }
  // Go refuses anything left over ("extra text").
  if (cursor.position !== text.length) return undefined;
  // Written out, not spread: a literal built from two spreads is slow to build on Node 20
  // (V8 11.3; bench/README.md, "A Ready built by spreads"), and this runs per value.
  return {
    year: date.year,
    month: date.month,
    day: date.day,
    hour: clock.hour,
    minute: clock.minute,
    second: clock.second,
    nanosecond: clock.nanosecond,
    offsetSeconds,
  };
}

/** A TEXT value of a DATE / DATETIME / TIMESTAMP column, as rqlite answers it. */
export function textToGoTime(value: string): GoTimeText {
  const text = value.endsWith('Z') ? value.slice(0, -1) : value;
  for (const layout of layouts) {
    const parsed = parseWithLayout(text, layout);
    if (parsed !== undefined) return formatRfc3339(parsed);
  }
  return { text: goZeroTime };
}

// ---------------------------------------------------------------------------
// Integers: unix seconds or milliseconds
// ---------------------------------------------------------------------------

const millisecondsThreshold = 1_000_000_000_000n;
const nanosecondsPerSecond = 1_000_000_000n;
const secondsPerDay = 86_400;

/** Days since 1970-01-01 to the proleptic Gregorian date (Howard Hinnant's civil_from_days). */
function civilFromDays(days: number): { year: number; month: number; day: number } {
  const shifted = days + 719_468;
  const era = Math.floor(shifted / 146_097);
  const dayOfEra = shifted - era * 146_097;
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365);
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100));
  const monthIndex = Math.floor((5 * dayOfYear + 2) / 153);
  const day = dayOfYear - Math.floor((153 * monthIndex + 2) / 5) + 1;
  const month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9;
  return { year: era * 400 + yearOfEra + (month <= 2 ? 1 : 0), month, day };
}

/** An INTEGER value of a DATE / DATETIME / TIMESTAMP column, as rqlite answers it. */
export function unixToGoTime(value: bigint): GoTimeText {
  let seconds: bigint;
  let nanosecond = 0n;
  if (value > millisecondsThreshold || value < -millisecondsThreshold) {
    // Go: val *= int64(time.Millisecond) wraps at 64 bits; time.Unix(0, val) normalises.
    const nanoseconds = BigInt.asIntN(64, value * 1_000_000n);
    nanosecond = ((nanoseconds % nanosecondsPerSecond) + nanosecondsPerSecond) % nanosecondsPerSecond;
    seconds = (nanoseconds - nanosecond) / nanosecondsPerSecond;
  } else {
    seconds = value;
  }
  const secondsNumber = Number(seconds);
  const days = Math.floor(secondsNumber / secondsPerDay);
  const secondOfDay = secondsNumber - days * secondsPerDay;
  const { year, month, day } = civilFromDays(days);
  return formatRfc3339({
    year,
    month,
    day,
    hour: Math.floor(secondOfDay / 3600),
    minute: Math.floor((secondOfDay % 3600) / 60),
    second: secondOfDay % 60,
    nanosecond: Number(nanosecond),
    offsetSeconds: 0,
  });
}

// ---------------------------------------------------------------------------
// Writing: time.Time.MarshalText
// ---------------------------------------------------------------------------

function twoDigits(value: number): string {
  return String(value).padStart(2, '0');
}

function formatRfc3339(time: CivilTime): GoTimeText {
  if (time.year < 0 || time.year > 9999) return { error: 'Time.MarshalText: year outside of range [0,9999]' };
  const offsetMinutes = Math.abs(time.offsetSeconds) / 60;
  if (Math.floor(offsetMinutes / 60) >= 24) return { error: 'Time.MarshalText: timezone hour outside of range [0,23]' };
  const fraction = time.nanosecond === 0 ? '' : `.${String(time.nanosecond).padStart(9, '0').replace(/0+$/, '')}`;
  const zone =
    time.offsetSeconds === 0 ? 'Z' : `${time.offsetSeconds < 0 ? '-' : '+'}${twoDigits(Math.floor(offsetMinutes / 60))}:${twoDigits(offsetMinutes % 60)}`;
  const date = `${String(time.year).padStart(4, '0')}-${twoDigits(time.month)}-${twoDigits(time.day)}`;
  return { text: `${date}T${twoDigits(time.hour)}:${twoDigits(time.minute)}:${twoDigits(time.second)}${fraction}${zone}` };
}
