/**
 * rqlited's -cdc-config: a URL (the endpoint, every other setting its default), `stdout`
 * (events printed as JSON lines), or a JSON file in rqlite's format (its field names,
 * Go durations such as "250ms"). Unknown fields are refused, as a typo would otherwise
 * silently keep a default.
 */
import { parseDurationMs } from '../common/duration.js';

interface CdcTlsConfig {
  readonly caCertFile: string | undefined;
  readonly certFile: string | undefined;
  readonly keyFile: string | undefined;
  readonly insecureSkipVerify: boolean;
  readonly serverName: string | undefined;
}

export interface CdcConfig {
  /** An http(s) URL, or 'stdout'. */
  readonly endpoint: string;
  readonly serviceId: string | undefined;
  readonly rowIdsOnly: boolean;
  readonly tableFilter: RegExp | undefined;
  readonly tls: CdcTlsConfig | undefined;
  /** Entries (log indexes with changes) per POST. */
  readonly batchEntryCountMax: number;
  readonly batchDelayMs: number;
  readonly highWaterMarkIntervalMs: number;
  readonly transmitTimeoutMs: number;
  /** Undefined: retry for ever (rqlite's default when the field is omitted). */
  readonly transmitRetryCountMax: number | undefined;
  readonly exponentialBackoff: boolean;
  readonly backoffMinMs: number;
  readonly backoffMaxMs: number;
}

export class CdcConfigError extends Error {}

/** Bounds on what a config may ask for: a batch is one POST body held in memory. */
const batchEntryCountLimit = 100_000;

const defaults = {
  batchEntryCountMax: 100,
  batchDelayMs: 1_000,
  highWaterMarkIntervalMs: 1_000,
  transmitTimeoutMs: 5_000,
  backoffMinMs: 100,
  backoffMaxMs: 60_000,
};

const knownFields = new Set([
  'endpoint',
  'service_id',
  'row_ids_only',
  'table_filter',
  'tls',
  'max_batch_size',
  'max_batch_delay',
  'high_watermark_interval',
  'transmit_timeout',
  'transmit_max_retries',
  'transmit_retry_policy',
  'transmit_min_backoff',
  'transmit_max_backoff',
]);
const knownTlsFields = new Set(['ca_cert_file', 'cert_file', 'key_file', 'insecure_skip_verify', 'server_name']);

/** The flag's value: a URL or `stdout` is the endpoint itself; anything else names a file, whose text `readFile` gives. */
export function parseCdcFlag(value: string, readFile: (path: string) => string): CdcConfig {
  if (value === 'stdout' || /^https?:\/\//.test(value)) return withDefaults({ endpoint: value });
  const fileText = readFile(value);
  let parsed: unknown;
  try {
    parsed = JSON.parse(fileText);
  } catch (error) {
    throw new CdcConfigError(`not JSON: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new CdcConfigError('not a JSON object');
  return withDefaults(parsed as Record<string, unknown>);
}

function withDefaults(fields: Record<string, unknown>): CdcConfig {
  for (const name of Object.keys(fields)) if (!knownFields.has(name)) throw new CdcConfigError(`unknown field ${JSON.stringify(name)}`);
  const endpoint = text(fields, 'endpoint');
  if (endpoint === undefined || (endpoint !== 'stdout' && !/^https?:\/\//.test(endpoint))) {
    throw new CdcConfigError('endpoint must be an http:// or https:// URL, or "stdout"');
  }
  const filter = text(fields, 'table_filter');
  return {
    endpoint,
    serviceId: text(fields, 'service_id'),
    rowIdsOnly: flag(fields, 'row_ids_only'),
    tableFilter: filter === undefined || filter === '' ? undefined : compileFilter(filter),
    tls: tlsConfig(fields['tls']),
    batchEntryCountMax: batchSize(fields),
    batchDelayMs: duration(fields, 'max_batch_delay') ?? defaults.batchDelayMs,
    highWaterMarkIntervalMs: duration(fields, 'high_watermark_interval') ?? defaults.highWaterMarkIntervalMs,
    transmitTimeoutMs: duration(fields, 'transmit_timeout') ?? defaults.transmitTimeoutMs,
    transmitRetryCountMax: integer(fields, 'transmit_max_retries'),
    exponentialBackoff: exponentialPolicy(fields),
    backoffMinMs: duration(fields, 'transmit_min_backoff') ?? defaults.backoffMinMs,
    backoffMaxMs: duration(fields, 'transmit_max_backoff') ?? defaults.backoffMaxMs,
  };
}

function batchSize(fields: Record<string, unknown>): number {
  const batchEntryCountMax = integer(fields, 'max_batch_size') ?? defaults.batchEntryCountMax;
  if (batchEntryCountMax < 1 || batchEntryCountMax > batchEntryCountLimit) throw new CdcConfigError(`max_batch_size must be 1 to ${batchEntryCountLimit}`);
  return batchEntryCountMax;
}

function exponentialPolicy(fields: Record<string, unknown>): boolean {
  const policy = text(fields, 'transmit_retry_policy') ?? 'LinearRetryPolicy';
  if (!['LinearRetryPolicy', 'ExponentialRetryPolicy', 'linear', 'exponential'].includes(policy)) {
    throw new CdcConfigError('transmit_retry_policy must be LinearRetryPolicy or ExponentialRetryPolicy');
  }
  return policy === 'ExponentialRetryPolicy' || policy === 'exponential';
}

function compileFilter(source: string): RegExp {
  try {
    return new RegExp(source);
  } catch (error) {
    throw new CdcConfigError(`table_filter: ${error instanceof Error ? error.message : String(error)}`);
  }
}

function tlsConfig(value: unknown): CdcTlsConfig | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) throw new CdcConfigError('tls must be an object');
  const fields = value as Record<string, unknown>;
  for (const name of Object.keys(fields)) if (!knownTlsFields.has(name)) throw new CdcConfigError(`unknown field tls.${name}`);
  return {
    caCertFile: text(fields, 'ca_cert_file'),
    certFile: text(fields, 'cert_file'),
    keyFile: text(fields, 'key_file'),
    insecureSkipVerify: flag(fields, 'insecure_skip_verify'),
    serverName: text(fields, 'server_name'),
  };
}

function text(fields: Record<string, unknown>, name: string): string | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string') throw new CdcConfigError(`${name} must be a string`);
  return value;
}

function flag(fields: Record<string, unknown>, name: string): boolean {
  const value = fields[name];
  if (value === undefined || value === null) return false;
  if (typeof value !== 'boolean') throw new CdcConfigError(`${name} must be true or false`);
  return value;
}

function integer(fields: Record<string, unknown>, name: string): number | undefined {
  const value = fields[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw new CdcConfigError(`${name} must be a whole number, 0 or more`);
  return value;
}

function duration(fields: Record<string, unknown>, name: string): number | undefined {
  const value = text(fields, name);
  if (value === undefined) return undefined;
  try {
    return parseDurationMs(value);
  } catch (error) {
    throw new CdcConfigError(`${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}
