/**
 * parseJson against JSON.parse on seeded random documents and on single-character
 * mutations of them: both accept the same texts and read the same values (integers
 * compared by value; ours are exact bigints), except that numbers out of float range
 * are refused by ours. A failing seed replays exactly.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJson, type JsonValue } from '../../src/http/json-reader.js';

/** xorshift32: a small seeded generator so every case can be replayed. */
function randomSource(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}

const pieces = ['a', 'é', '"', '\\', '\n', '\u0001', '\u2028', '😀', '\ud800', ' ', '/', "x'00'"];

function randomValue(random: () => number, depth: number): unknown {
  const kind = Math.floor(random() * (depth > 3 ? 5 : 7));
  switch (kind) {
    case 0:
      return null;
    case 1:
      return random() < 0.5;
    case 2:
      return Math.floor((random() - 0.5) * 2 ** 40);
    case 3:
      return Number(((random() - 0.5) * 10 ** Math.floor(random() * 30)).toPrecision(12));
    case 4:
      return Array.from({ length: Math.floor(random() * 4) }, () => pieces[Math.floor(random() * pieces.length)]).join('');
    case 5:
      return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
    default: {
      const object: Record<string, unknown> = {};
      for (let index = 0; index < Math.floor(random() * 4); index++) object[`k${Math.floor(random() * 5)}`] = randomValue(random, depth + 1);
      return object;
    }
  }
}

/** Our value with integers as numbers, so it compares with JSON.parse's. */
function comparable(value: JsonValue): unknown {
  if (typeof value === 'bigint') return Number(value);
  if (Array.isArray(value)) return value.map(comparable);
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).map((key) => [key, comparable(value[key] as JsonValue)]));
  }
  return value;
}

function outcome(parse: () => unknown): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: parse() };
  } catch {
    return { ok: false };
  }
}

function hasNonFinite(value: unknown): boolean {
  if (typeof value === 'number') return !Number.isFinite(value);
  if (Array.isArray(value)) return value.some(hasNonFinite);
  if (typeof value === 'object' && value !== null) return Object.values(value).some(hasNonFinite);
  return false;
}

const mutations = ['', '"', '\\', ',', ']', '}', '[', '{', ':', '0', '-', '.', 'e', ' ', 'n', '\u0000'];

describe('parseJson differential against JSON.parse', () => {
  it('reads 2000 random documents as JSON.parse does', () => {
    const random = randomSource(20261126);
    for (let caseIndex = 0; caseIndex < 2000; caseIndex++) {
      const text = JSON.stringify(randomValue(random, 0), null, caseIndex % 3 === 0 ? 2 : undefined);
      assert.deepEqual(comparable(parseJson(text)), JSON.parse(text), `case ${caseIndex}: ${text}`);
    }
  });

  it('accepts and refuses the same single-character mutations', () => {
    const random = randomSource(7);
    let refusedCount = 0;
    for (let caseIndex = 0; caseIndex < 3000; caseIndex++) {
      const text = JSON.stringify(randomValue(random, 0));
      const position = Math.floor(random() * (text.length + 1));
      const replacement = mutations[Math.floor(random() * mutations.length)] ?? '';
      const mutated = text.slice(0, position) + replacement + text.slice(position + (random() < 0.5 ? 1 : 0));
      const ours = outcome(() => comparable(parseJson(mutated)));
      const theirs = outcome(() => JSON.parse(mutated));
      if (theirs.ok && hasNonFinite(theirs.value)) {
        // JSON.parse reads 1e999 as Infinity; we refuse it, as Go's float parsing does.
        assert.equal(ours.ok, false, `case ${caseIndex}: ${JSON.stringify(mutated)}`);
        refusedCount++;
        continue;
      }
      assert.equal(ours.ok, theirs.ok, `case ${caseIndex}: ${JSON.stringify(mutated)}`);
      if (ours.ok && theirs.ok) assert.deepEqual(ours.value, theirs.value, `case ${caseIndex}: ${JSON.stringify(mutated)}`);
      if (!ours.ok) refusedCount++;
    }
    assert.ok(refusedCount > 300, `mutations should often break the document; ${refusedCount} did`);
  });
});
