/**
 * The shared Go duration reader and writer against Go's own tables (time_test.go:
 * parseDurationTests, parseDurationErrorTests, durationTests), plus the bounds our
 * callers add.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  DurationError,
  durationTextLengthMax,
  formatDurationNs,
  formatDurationSeconds,
  goDurationRangeMs,
  parseDurationMs,
  parseDurationNs,
} from '../../src/common/duration.js';

const nanosecond = 1n;
const microsecond = 1_000n * nanosecond;
const millisecond = 1_000n * microsecond;
const second = 1_000n * millisecond;
const minute = 60n * second;
const hour = 60n * minute;
const int64Max = (1n << 63n) - 1n;
const int64Min = -(1n << 63n);

describe('parseDurationNs reads what Go reads', () => {
  const valid: [string, bigint][] = [
    ['0', 0n],
    ['5s', 5n * second],
    ['30s', 30n * second],
    ['1478s', 1478n * second],
    ['-5s', -5n * second],
    ['+5s', 5n * second],
    ['-0', 0n],
    ['+0', 0n],
    ['5.0s', 5n * second],
    ['5.6s', 5n * second + 600n * millisecond],
    ['5.s', 5n * second],
    ['.5s', 500n * millisecond],
    ['1.0s', second],
    ['1.00s', second],
    ['1.004s', second + 4n * millisecond],
    ['1.0040s', second + 4n * millisecond],
    ['100.00100s', 100n * second + millisecond],
    ['10ns', 10n],
    ['11us', 11n * microsecond],
    ['12µs', 12n * microsecond],
    ['12μs', 12n * microsecond],
    ['13ms', 13n * millisecond],
    ['14s', 14n * second],
    ['15m', 15n * minute],
    ['16h', 16n * hour],
    ['3h30m', 3n * hour + 30n * minute],
    ['10.5s4m', 4n * minute + 10n * second + 500n * millisecond],
    ['-2m3.4s', -(2n * minute + 3n * second + 400n * millisecond)],
    ['1h2m3s4ms5us6ns', hour + 2n * minute + 3n * second + 4n * millisecond + 5n * microsecond + 6n],
    ['39h9m14.425s', 39n * hour + 9n * minute + 14n * second + 425n * millisecond],
    ['52763797000ns', 52763797000n],
    ['0.3333333333333333333h', 20n * minute],
    ['9007199254740993ns', (1n << 53n) + 1n],
    ['9223372036854775807ns', int64Max],
    ['9223372036854775.807us', int64Max],
    ['9223372036s854ms775us807ns', int64Max],
    ['-9223372036854775808ns', int64Min],
    ['-9223372036854775.808us', int64Min],
    ['-9223372036s854ms775us808ns', int64Min],
    ['-2562047h47m16.854775808s', int64Min],
    ['0.100000000000000000000h', 6n * minute],
    ['0.830103483285477580700h', 49n * minute + 48n * second + 372539827n],
    // The forms the brief names, and fractions below a nanosecond (truncated, as in Go).
    ['1h2m3.5s', hour + 2n * minute + 3n * second + 500n * millisecond],
    ['500ms', 500n * millisecond],
    ['1.5us', 1500n],
    ['1.5µs', 1500n],
    ['1.9ns', 1n],
    ['0.5ns', 0n],
    ['0s', 0n],
    ['00s', 0n],
    ['-0s', 0n],
  ];
  for (const [text, nanoseconds] of valid) {
    it(`reads ${text}`, () => assert.equal(parseDurationNs(text), nanoseconds));
  }

  const refused: [string, DurationError['reason']][] = [
    ['', 'invalid'],
    ['3', 'missing-unit'],
    ['-', 'invalid'],
    ['+', 'invalid'],
    ['s', 'invalid'],
    ['.', 'invalid'],
    ['-.', 'invalid'],
    ['.s', 'invalid'],
    ['+.s', 'invalid'],
    ['1d', 'unknown-unit'],
    ['\x85\x85', 'invalid'],
    ['\uFFFD', 'invalid'],
    ['\uFFFD hello \uFFFD world', 'invalid'],
    ['9223372036854775810ns', 'invalid'],
    ['9223372036854775808ns', 'invalid'],
    ['-9223372036854775809ns', 'invalid'],
    ['9223372036854776us', 'invalid'],
    ['3000000h', 'invalid'],
    ['9223372036854775.808us', 'invalid'],
    ['9223372036854ms775us808ns', 'invalid'],
    // A unit is required after every number but a lone zero; units are case-sensitive.
    ['00', 'missing-unit'],
    ['1s2', 'missing-unit'],
    ['1.2.3s', 'missing-unit'],
    ['1S', 'unknown-unit'],
    ['1 s', 'unknown-unit'],
    ['1s ', 'unknown-unit'],
    [' 1s', 'invalid'],
    ['--1s', 'invalid'],
    ['1e3s', 'unknown-unit'],
    ['one second', 'invalid'],
  ];
  for (const [text, reason] of refused) {
    it(`refuses ${JSON.stringify(text)} (${reason})`, () => {
      assert.throws(
        () => parseDurationNs(text),
        (error: unknown) => {
          assert.ok(error instanceof DurationError);
          assert.equal(error.reason, reason);
          assert.match(error.message, /^invalid duration /);
          return true;
        },
      );
    });
  }

  it('names the unknown unit and the missing one, as Go does', () => {
    assert.throws(() => parseDurationNs('1d'), /invalid duration "1d": unknown unit "d"/);
    assert.throws(() => parseDurationNs('3'), /invalid duration "3": missing unit/);
  });

  it('bounds the text: durationTextLengthMax characters parse, one more is refused', () => {
    assert.equal(parseDurationNs(`${'0'.repeat(durationTextLengthMax - 1)}s`), 0n);
    assert.throws(() => parseDurationNs(`${'0'.repeat(durationTextLengthMax)}s`), { reason: 'too-long' });
  });
});

describe('parseDurationMs', () => {
  it('converts to (fractional) milliseconds', () => {
    assert.equal(parseDurationMs('1.5s'), 1500);
    assert.equal(parseDurationMs('100us'), 0.1);
    assert.equal(parseDurationMs('1.1s'), 1100, 'exact, where 1.1 * 1000 in floats is not');
    assert.equal(parseDurationMs('-9223372036854775808ns', goDurationRangeMs), goDurationRangeMs.durationMsMin);
    assert.equal(parseDurationMs('9223372036854775807ns', goDurationRangeMs), goDurationRangeMs.durationMsMax);
  });

  it('is never negative by default, and keeps to the range it is given', () => {
    assert.throws(() => parseDurationMs('-1ns'), { reason: 'below-minimum' });
    assert.equal(parseDurationMs('-0s'), 0);
    const range = { durationMsMin: 1, durationMsMax: 1000 };
    assert.equal(parseDurationMs('1ms', range), 1);
    assert.equal(parseDurationMs('1s', range), 1000);
    assert.throws(() => parseDurationMs('999us', range), /invalid duration "999us": below the minimum of 1ms/);
    assert.throws(() => parseDurationMs('1s1ns', range), /invalid duration "1s1ns": above the maximum of 1000ms/);
  });
});

describe('formatDurationNs writes what Go writes', () => {
  const cases: [bigint, string][] = [
    [0n, '0s'],
    [1n, '1ns'],
    [1100n, '1.1µs'],
    [2200n * microsecond, '2.2ms'],
    [3300n * millisecond, '3.3s'],
    [4n * minute + 5n * second, '4m5s'],
    [4n * minute + 5001n * millisecond, '4m5.001s'],
    [5n * hour + 6n * minute + 7001n * millisecond, '5h6m7.001s'],
    [8n * minute + 1n, '8m0.000000001s'],
    [int64Max, '2562047h47m16.854775807s'],
    [int64Min, '-2562047h47m16.854775808s'],
    [-1n, '-1ns'],
    [hour, '1h0m0s'],
    [minute, '1m0s'],
    [999n, '999ns'],
    [1_000n, '1µs'],
  ];
  for (const [nanoseconds, text] of cases) {
    it(`writes ${text}`, () => {
      assert.equal(formatDurationNs(nanoseconds), text);
      assert.equal(parseDurationNs(text), nanoseconds, 'what Go writes, Go reads back');
    });
  }

  it('writes seconds to the nearest nanosecond', () => {
    assert.equal(formatDurationSeconds(0.000012), '12µs');
    assert.equal(formatDurationSeconds(1.23456789012), '1.23456789s');
    assert.equal(formatDurationSeconds(Number.NaN), '0s');
  });
});
