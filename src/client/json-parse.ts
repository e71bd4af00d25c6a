/**
 * How the client reads replies: rqlite writes SQLite INTEGERs as JSON integer literals,
 * which JSON.parse would round beyond 2^53. An integer literal becomes a `bigint` when it
 * is not a safe integer (mode 'auto') or always (mode 'bigint'); non-integer literals
 * (with '.', 'e') stay numbers, and objects are plain, as JSON.parse makes them. The
 * reader is src/common/exact-json.ts.
 *
 * Fast path: in 'auto' mode a text without a run of 16+ digits cannot hold an unsafe
 * integer, so the native JSON.parse does the work (it reads the same grammar and the
 * same values; being iterative, it needs no nesting bound).
 */
import { parseExactJson, type ExactJsonOptions, type JsonValue } from '../common/exact-json.js';

export type { JsonObject, JsonValue } from '../common/exact-json.js';

export type IntegerMode = 'auto' | 'bigint';

/** Nesting deeper than this is refused rather than risking stack exhaustion. */
export const jsonDepthMax = 256;

const longDigitRun = /\d{16}/;

const readerOptions: Readonly<Record<IntegerMode, ExactJsonOptions>> = {
  auto: { integers: 'bigint-when-unsafe', floatOutOfRange: 'infinity', objects: 'plain', nestingDepthMax: jsonDepthMax },
  bigint: { integers: 'bigint', floatOutOfRange: 'infinity', objects: 'plain', nestingDepthMax: jsonDepthMax },
};

export function parseJson(text: string, integerMode: IntegerMode): JsonValue {
  if (integerMode === 'auto' && !longDigitRun.test(text)) return JSON.parse(text) as JsonValue;
  return parseExactJson(text, readerOptions[integerMode]);
}
