/**
 * rqlite's URL query parameters, validated up front as rqlite does: a bad duration or
 * integer is a 400 before anything runs. Flags count by presence (`?pretty`,
 * `?pretty=false` alike); keys are case-insensitive; unknown keys are ignored.
 */
import { DurationError, parseDurationMs } from '../common/duration.js';
import { badRequest } from './http-error.js';
import type { ReadLevel } from '../service/service.js';

interface TimeoutDefaults {
  /** `timeout` when not given (rqlite: 30 s). */
  readonly timeoutMs: number;
  /** `linearizable_timeout` when not given (rqlite: 10 s). */
  readonly linearizableTimeoutMs: number;
  /** Upper bound on any duration a client may ask the server to wait. */
  readonly timeoutMsMax: number;
}

export interface QueryParameters {
  readonly has: (key: string) => boolean;
  readonly get: (key: string) => string | undefined;
  readonly timeoutMs: number;
  readonly linearizableTimeoutMs: number;
  readonly dbTimeoutMs: number | null;
  readonly freshnessMs: number | null;
  readonly freshnessStrict: boolean;
  readonly appliedIndexMin: number | null;
  /** `retries`: forwarding attempts after the first; 0 when not given. */
  readonly forwardRetryCount: number;
  readonly level: ReadLevel;
}

/**
 * Most `retries` a client may ask for. rqlite sets no bound; here each retry waits out the
 * transport's reconnect backoff, all within the request's `timeout`, and a handful covers
 * a leader restarting.
 */
export const forwardRetryCountMax = 10;

const durationKeys = ['timeout', 'freshness', 'db_timeout', 'linearizable_timeout'] as const;

export function parseQueryParameters(rawQuery: string, defaults: TimeoutDefaults): QueryParameters {
  const values = new Map<string, string>();
  for (const [key, value] of new URLSearchParams(rawQuery)) {
    const lowered = key.toLowerCase();
    // The first value wins, as in rqlite (Go's url.Values, first element).
    if (!values.has(lowered)) values.set(lowered, value);
  }
  const durations = new Map<string, number>();
  for (const key of durationKeys) {
    const text = values.get(key);
    if (text !== undefined) durations.set(key, parseBoundedDuration(key, text, defaults.timeoutMsMax));
  }
  if (values.has('freshness_strict') && !values.has('freshness')) {
    throw badRequest('freshness_strict requires freshness');
  }
  return {
    has: (key) => values.has(key),
    get: (key) => values.get(key),
    timeoutMs: durations.get('timeout') ?? defaults.timeoutMs,
    linearizableTimeoutMs: durations.get('linearizable_timeout') ?? defaults.linearizableTimeoutMs,
    dbTimeoutMs: durations.get('db_timeout') ?? null,
    freshnessMs: durations.get('freshness') ?? null,
    freshnessStrict: values.has('freshness_strict'),
    appliedIndexMin: parseAppliedIndexMin(values.get('min_index')),
    forwardRetryCount: parseRetries(values.get('retries')),
    level: parseLevel(values.get('level')),
  };
}

function parseBoundedDuration(key: string, text: string, timeoutMsMax: number): number {
  try {
    return parseDurationMs(text, { durationMsMin: 0, durationMsMax: timeoutMsMax });
  } catch (error) {
    if (!(error instanceof DurationError)) throw error;
    if (error.reason === 'below-minimum') throw badRequest(`${key} must not be negative: ${JSON.stringify(text)}`);
    if (error.reason === 'above-maximum') {
      throw badRequest(`${key} ${JSON.stringify(text)} exceeds the maximum of ${timeoutMsMax}ms`);
    }
    throw badRequest(`${key} is not a valid duration: ${JSON.stringify(text)}`);
  }
}

function parseAppliedIndexMin(text: string | undefined): number | null {
  if (text === undefined) return null;
  if (!/^[0-9]{1,16}$/.test(text) || !Number.isSafeInteger(Number(text))) {
    throw badRequest(`min_index is not a valid log index: ${JSON.stringify(text)}`);
  }
  return Number(text);
}

/** An integer as Go's strconv.Atoi reads it (rqlite's check); a negative count means no retry, as in rqlite. */
function parseRetries(text: string | undefined): number {
  if (text === undefined) return 0;
  if (!/^[+-]?[0-9]+$/.test(text)) throw badRequest('retries is not a valid integer');
  const count = Number(text);
  if (count > forwardRetryCountMax) throw badRequest(`retries ${text} exceeds the maximum of ${forwardRetryCountMax}`);
  return Math.max(0, count);
}

/** Unknown levels mean weak, as in rqlite. */
function parseLevel(text: string | undefined): ReadLevel {
  switch (text?.toLowerCase()) {
    case 'none':
      return 'none';
    case 'linearizable':
      return 'linearizable';
    case 'strong':
      return 'strong';
    case 'auto':
      return 'auto';
    default:
      return 'weak';
  }
}
