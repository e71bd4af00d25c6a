/**
 * Overrides that make SQLite's non-deterministic functions answer from the entry being
 * applied: random() and randomblob() draw from a generator seeded by the entry's seed;
 * the date/time functions see 'now' (and CURRENT_TIMESTAMP/DATE/TIME, and the implicit
 * 'now' of a call without a time value) as the entry's timestamp. Every other input is
 * evaluated by SQLite's own function on a pristine connection, so every modifier and
 * format keeps SQLite's exact semantics.
 *
 * The overrides are registered once per connection and read the current entry from this
 * object; registering per entry would expire every prepared statement.
 */
import type Database from 'better-sqlite3';
import { assert } from '../common/assert.js';
import { SplitMix64 } from './prng.js';

/** What 'now' and randomness mean while one entry (or, test-only, one call) runs. */
export interface TimeAndRandomSource {
  /** The entry's timestamp in ms since the Unix epoch. */
  timestampMs(): number;
  readonly random: SplitMix64;
}

/** The largest randomblob(N) an entry may ask for; larger is a deterministic SQL error. */
export const randomBlobBytesMax = 1024 * 1024;

/** Functions whose first argument is a time value. */
const timeValueFirst = ['date', 'time', 'datetime', 'julianday', 'unixepoch'] as const;

type FunctionArgument = null | number | bigint | string | Buffer;

/** 'YYYY-MM-DD HH:MM:SS.SSS', the text form of an instant SQLite parses to the exact millisecond. */
export function sqliteTimeText(timestampMs: number): string {
  const iso = new Date(timestampMs).toISOString();
  return `${iso.slice(0, 10)} ${iso.slice(11, 23)}`;
}

function isNow(argument: FunctionArgument | undefined): boolean {
  return typeof argument === 'string' && argument.length === 3 && argument.toLowerCase() === 'now';
}

export class DeterministicFunctions {
  #source: TimeAndRandomSource | undefined;
  readonly #pristineStatements = new Map<string, Database.Statement>();
  readonly #pristine: Database.Database;

  constructor(pristine: Database.Database) {
    this.#pristine = pristine;
  }

  /** Every call until `end()` answers from `source`. */
  begin(source: TimeAndRandomSource): void {
    assert(this.#source === undefined, 'one entry at a time');
    this.#source = source;
  }

  end(): void {
    this.#source = undefined;
  }

  #current(): TimeAndRandomSource {
    assert(this.#source !== undefined, 'overridden functions are only called while applying an entry');
    return this.#source;
  }

  /** SQLite's own function `name`, on the pristine connection, with these arguments. */
  #evaluate(name: string, argumentsList: readonly FunctionArgument[]): unknown {
    const key = `${name}/${argumentsList.length}`;
    let statement = this.#pristineStatements.get(key);
    if (statement === undefined) {
      const placeholders = argumentsList.map(() => '?').join(',');
      statement = this.#pristine.prepare(`SELECT ${name}(${placeholders})`).pluck().safeIntegers(true);
      this.#pristineStatements.set(key, statement);
    }
    return statement.get(...argumentsList);
  }

  #nowText(): string {
    return sqliteTimeText(this.#current().timestampMs());
  }

  #replaceNow(argumentsList: FunctionArgument[], timeValuePositions: readonly number[]): FunctionArgument[] {
    const replaced = [...argumentsList];
    for (const position of timeValuePositions) {
      if (isNow(replaced[position])) replaced[position] = this.#nowText();
    }
    return replaced;
  }

  #randomBlob(sizeArgument: null | number | bigint): Buffer {
    let size: bigint;
    if (typeof sizeArgument === 'bigint') size = sizeArgument;
    else if (typeof sizeArgument === 'number' && Number.isFinite(sizeArgument)) size = BigInt(Math.trunc(sizeArgument));
    else if (typeof sizeArgument === 'number' && sizeArgument > 0) size = 2n ** 63n - 1n;
    else size = 0n;
    if (size < 1n) size = 1n;
    if (size > BigInt(randomBlobBytesMax)) throw new RangeError(`randomblob(${size}) is over the bound ${randomBlobBytesMax} bytes`);
    const bytes = this.#current().random.nextBytes(Number(size));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Registers the overrides on the apply connection. */
  register(database: Database.Database): void {
    database.function('random', { deterministic: false }, () => this.#current().random.nextSigned());
    database.function('randomblob', { deterministic: false, safeIntegers: true }, (size: FunctionArgument) =>
      this.#randomBlob(size === null || typeof size === 'bigint' || typeof size === 'number' ? size : this.#castToInteger(size)),
    );
    const dateOptions = { deterministic: true, varargs: true, safeIntegers: true } as const;
    for (const name of timeValueFirst) {
      database.function(name, dateOptions, (...argumentsList: FunctionArgument[]) =>
        this.#evaluate(name, argumentsList.length === 0 ? [this.#nowText()] : this.#replaceNow(argumentsList, [0])),
      );
    }
    database.function('strftime', dateOptions, (...argumentsList: FunctionArgument[]) =>
      this.#evaluate('strftime', argumentsList.length === 1 ? [argumentsList[0] ?? null, this.#nowText()] : this.#replaceNow(argumentsList, [1])),
    );
    database.function('timediff', dateOptions, (...argumentsList: FunctionArgument[]) => this.#evaluate('timediff', this.#replaceNow(argumentsList, [0, 1])));
    database.function('current_timestamp', { deterministic: true }, () => this.#evaluate('datetime', [this.#nowText()]));
    database.function('current_date', { deterministic: true }, () => this.#evaluate('date', [this.#nowText()]));
    database.function('current_time', { deterministic: true }, () => this.#evaluate('time', [this.#nowText()]));
  }

  /** SQLite's own text/blob → integer conversion (leading digits, as sqlite3_value_int64). */
  #castToInteger(value: FunctionArgument): bigint {
    let statement = this.#pristineStatements.get('cast-integer');
    if (statement === undefined) {
      statement = this.#pristine.prepare('SELECT CAST(? AS INTEGER)').pluck().safeIntegers(true);
      this.#pristineStatements.set('cast-integer', statement);
    }
    return (statement.get(value) ?? 0n) as bigint;
  }
}

/** An entry's own time and seed: what every node sees while applying it. */
export class EntrySource implements TimeAndRandomSource {
  readonly random: SplitMix64;
  readonly #entryTimestampMs: number;

  constructor(entryTimestampMs: number, seed: bigint) {
    this.#entryTimestampMs = entryTimestampMs;
    this.random = new SplitMix64(seed);
  }

  timestampMs(): number {
    return this.#entryTimestampMs;
  }
}

/** Test-only source: a local clock and a process-wide generator, as an unreplicated SQLite would see. */
export function localSource(clock: () => number, seed: bigint): TimeAndRandomSource {
  const random = new SplitMix64(seed);
  return { timestampMs: clock, random };
}
