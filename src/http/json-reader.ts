/**
 * How the server reads JSON request bodies: as rqlite's Go decoder with `UseNumber()`
 * does (an integer in signed 64 bits is an exact `bigint`, every other number a float,
 * a number beyond float range an error), into null-prototype objects so a key such as
 * `__proto__` or `constructor` is plain data. The reader is src/common/exact-json.ts.
 */
import { parseExactJson, type ExactJsonOptions, type JsonValue } from '../common/exact-json.js';

export { JsonSyntaxError, type JsonValue } from '../common/exact-json.js';

const jsonDepthMaxDefault = 64;

function serverOptions(nestingDepthMax: number): ExactJsonOptions {
  return { integers: 'bigint-within-int64', floatOutOfRange: 'refuse', objects: 'null-prototype', nestingDepthMax };
}

/** The options of the depth last asked for: every statement body asks the same depth, so a request builds none. */
let lastOptions = serverOptions(jsonDepthMaxDefault);

/** Reads `text`; no value may sit deeper than `depthMax` (the top-level value is at 0). */
export function parseJson(text: string, depthMax: number = jsonDepthMaxDefault): JsonValue {
  if (lastOptions.nestingDepthMax !== depthMax) lastOptions = serverOptions(depthMax);
  return parseExactJson(text, lastOptions);
}
