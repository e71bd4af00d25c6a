/**
 * rqlite's DATE / DATETIME / TIMESTAMP values at the edges of Go's rules: time.Parse's
 * layouts (spaces, one-digit hours, fractions past nine digits, offsets of 24 hours or
 * 60 minutes, extra text) and time.Unix with MarshalText (the year range, milliseconds
 * beyond ±1e12 wrapping at 64 bits as Go's int64 does).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { textToGoTime, unixToGoTime } from '../../src/http/go-time.js';

const zeroTime = { text: '0001-01-01T00:00:00Z' };

describe('text values', () => {
  it("reads each of the driver's layouts", () => {
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00.5+01:00'), { text: '2004-02-14T07:15:00.5+01:00' });
    assert.deepEqual(textToGoTime('2004-02-14T07:15:00-03:30'), { text: '2004-02-14T07:15:00-03:30' });
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00.250'), { text: '2004-02-14T07:15:00.25Z' });
    assert.deepEqual(textToGoTime('2004-02-14T07:15:00'), { text: '2004-02-14T07:15:00Z' });
    assert.deepEqual(textToGoTime('2004-02-14 07:15'), { text: '2004-02-14T07:15:00Z' });
    assert.deepEqual(textToGoTime('2004-02-14T07:15'), { text: '2004-02-14T07:15:00Z' });
    assert.deepEqual(textToGoTime('2004-02-14'), { text: '2004-02-14T00:00:00Z' });
    assert.deepEqual(textToGoTime('2004-02-14T07:15:00Z'), { text: '2004-02-14T07:15:00Z' });
  });

  it("follows Go's parsing rules at the edges", () => {
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00.123456789123'), { text: '2004-02-14T07:15:00.123456789Z' }, 'truncated, not rounded');
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00,5'), { text: '2004-02-14T07:15:00.5Z' }, 'a comma marks a fraction too');
    assert.deepEqual(textToGoTime('2004-02-14   7:15'), { text: '2004-02-14T07:15:00Z' }, 'spaces collapse; a one-digit hour');
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00+05:60'), { text: '2004-02-14T07:15:00+06:00' }, 'minutes up to 60');
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00-00:00'), { text: '2004-02-14T07:15:00Z' });
    assert.deepEqual(textToGoTime('2000-02-29'), { text: '2000-02-29T00:00:00Z' });
  });

  it("answers Go's zero time for what no layout reads", () => {
    for (const text of [
      '',
      'Z',
      'yesterday',
      '2004-02-30',
      '2003-02-29',
      '2004-2-14',
      '2004-02-14 24:00:00',
      '2004-02-14T07:15:00ZZ',
      '2004-02-14 07:15:00 ',
      '02004-02-14',
    ]) {
      assert.deepEqual(textToGoTime(text), zeroTime, JSON.stringify(text));
    }
  });

  it("fails as Go's MarshalText does for an offset of 24 hours", () => {
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00+24:00'), { error: 'Time.MarshalText: timezone hour outside of range [0,23]' });
    assert.deepEqual(textToGoTime('2004-02-14 07:15:00+25:00'), zeroTime, 'past 24 hours Go does not parse it');
  });
});

describe('integer values', () => {
  it('reads unix seconds, and milliseconds beyond ±1e12', () => {
    assert.deepEqual(unixToGoTime(0n), { text: '1970-01-01T00:00:00Z' });
    assert.deepEqual(unixToGoTime(-1n), { text: '1969-12-31T23:59:59Z' });
    assert.deepEqual(unixToGoTime(1_000_000_000_001n), { text: '2001-09-09T01:46:40.001Z' });
    assert.deepEqual(unixToGoTime(-1_000_000_000_001n), { text: '1938-04-24T22:13:19.999Z' });
  });

  it('covers years 0 to 9999 and fails outside them', () => {
    assert.deepEqual(unixToGoTime(253_402_300_799n), { text: '9999-12-31T23:59:59Z' });
    assert.deepEqual(unixToGoTime(-62_167_219_200n), { text: '0000-01-01T00:00:00Z' });
    const outside = { error: 'Time.MarshalText: year outside of range [0,9999]' };
    assert.deepEqual(unixToGoTime(253_402_300_800n), outside);
    assert.deepEqual(unixToGoTime(-62_167_219_201n), outside);
    assert.deepEqual(unixToGoTime(1_000_000_000_000n), outside, '1e12 seconds is still seconds');
  });

  it("wraps milliseconds past 64-bit nanoseconds as Go's int64 does", () => {
    assert.deepEqual(unixToGoTime(9_223_372_036_854n), { text: '2262-04-11T23:47:16.854Z' });
    assert.deepEqual(unixToGoTime(9_223_372_036_855n), { text: '1677-09-21T00:12:43.145448384Z' });
  });
});
