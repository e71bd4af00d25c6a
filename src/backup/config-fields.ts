/**
 * Reading one field of an -auto-backup / -auto-restore file with Go's json.Unmarshal
 * rules, which rqlite's files follow: `null` is the same as an absent field, a field of
 * the wrong JSON type is an error, a duration is a Go duration string or a number of
 * nanoseconds. Each error names the field (`sub.bucket: …`), so the operator can find it.
 */
import { DurationError, parseDurationNs, timerDelayMsMax } from '../common/duration.js';

export class BackupConfigError extends Error {
  override readonly name = 'BackupConfigError';
}

export type JsonFields = Readonly<Record<string, unknown>>;

function isJsonObject(value: unknown): value is JsonFields {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (Array.isArray(value)) return 'an array';
  if (value === null) return 'null';
  return typeof value === 'object' ? 'an object' : `${typeof value} ${JSON.stringify(value)}`;
}

/** The fields of `value` (an object), refusing names outside `known`: a misspelt field is an error, not a silent default. */
export function objectFields(value: unknown, label: string, known: readonly string[]): JsonFields {
  if (!isJsonObject(value)) throw new BackupConfigError(`${label}: expected a JSON object, got ${describe(value)}`);
  for (const name of Object.keys(value)) {
    if (!known.includes(name)) throw new BackupConfigError(`${label === '' ? '' : `${label}.`}${name}: unknown field (known: ${known.join(', ')})`);
  }
  return value;
}

export function optionalString(fields: JsonFields, name: string, label: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new BackupConfigError(`${label}: expected a string, got ${describe(value)}`);
  return value;
}

export function requiredString(fields: JsonFields, name: string, label: string): string {
  const value = optionalString(fields, name, label);
  if (value === undefined || value === '') throw new BackupConfigError(`${label}: required, and may not be empty`);
  return value;
}

export function optionalBoolean(fields: JsonFields, name: string, label: string): boolean {
  const value = fields[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new BackupConfigError(`${label}: expected true or false, got ${describe(value)}`);
  return value;
}

/** rqlite's `version`: an integer, at most `versionMax` (rqlite: "invalid version"); absent is 0, which rqlite accepts. */
export function configVersion(fields: JsonFields, versionMax: number): number {
  const value = fields.version;
  if (value === undefined || value === null) return 0;
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) throw new BackupConfigError(`version: expected an integer, got ${describe(value)}`);
  if (value > versionMax) throw new BackupConfigError(`version: invalid version ${value} (this build reads files up to version ${versionMax})`);
  return value;
}

/**
 * rqlite's duration fields (auto.Duration): a Go duration string ("5m") or a JSON number
 * of nanoseconds; zero or less is "invalid interval". Sub-millisecond values round up to
 * 1 ms, the timers' grain; longer than a timer can wait is refused.
 */
export function durationMs(fields: JsonFields, name: string, label: string, fallbackMs: number | undefined): number {
  const value = fields[name];
  if (value === undefined || value === null) {
    if (fallbackMs === undefined) throw new BackupConfigError(`${label}: required (a Go duration such as "5m")`);
    return fallbackMs;
  }
  let nanoseconds: bigint;
  if (typeof value === 'number' && Number.isFinite(value)) {
    nanoseconds = BigInt(Math.trunc(value));
  } else if (typeof value === 'string') {
    try {
      nanoseconds = parseDurationNs(value);
    } catch (error) {
      if (error instanceof DurationError) throw new BackupConfigError(`${label}: ${error.message}`);
      throw error;
    }
  } else {
    throw new BackupConfigError(`${label}: expected a Go duration string or a number of nanoseconds, got ${describe(value)}`);
  }
  if (nanoseconds <= 0n) throw new BackupConfigError(`${label}: invalid interval ${JSON.stringify(value)} (must be greater than zero)`);
  const milliseconds = Math.max(1, Math.ceil(Number(nanoseconds) / 1e6));
  if (milliseconds > timerDelayMsMax)
    throw new BackupConfigError(`${label}: ${JSON.stringify(value)} is longer than ${timerDelayMsMax} ms, the longest wait supported`);
  return milliseconds;
}
