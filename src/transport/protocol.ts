/**
 * The payloads of the control frames, and their validation on arrival: a peer's bytes
 * are input, so every field is checked before use (MALFORMED_FRAME otherwise).
 */
import { decodeValue } from './codec.js';
import { TransportError } from './errors.js';

export interface Hello {
  readonly protocolVersion: number;
  readonly clusterId: string;
  readonly nodeId: string;
  readonly address: string;
  /** What the peer can do beyond its protocol version (codec.ts `protocolFeatures`); empty from older peers. */
  readonly features: readonly string[];
}

interface Refusal {
  readonly code: string;
  readonly message: string;
}

interface CallRequest {
  readonly requestId: number;
  readonly method: string;
  readonly payload: unknown;
}

type CallReply =
  | { readonly requestId: number; readonly ok: true; readonly result: unknown }
  | { readonly requestId: number; readonly ok: false; readonly code: string; readonly message: string };

export interface SnapshotBegin {
  readonly metadata: unknown;
  readonly totalBytes: number;
  /** Present when the sender can resume: names the file, so a later attempt finds what this one left. */
  readonly resumeKey: string | undefined;
}

/** How much of a resumable transfer the receiver holds: its first `offset` bytes, whose SHA-256 is `sha256`. */
export interface SnapshotOffer {
  readonly offset: number;
  readonly sha256: string;
}

export interface SnapshotEnd {
  readonly totalBytes: number;
  readonly sha256: string;
}

export type SnapshotResult = { readonly ok: true } | { readonly ok: false; readonly code: string; readonly message: string };

type Fields = Record<string, unknown>;

function decodeRecord(bytes: Uint8Array, what: string): Fields {
  const value = decodeValue(bytes);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TransportError('MALFORMED_FRAME', `${what} frame does not hold an object`);
  }
  return value as Fields;
}

function field<T>(record: Fields, name: string, what: string, check: (value: unknown) => value is T, expected: string): T {
  const value = record[name];
  if (!check(value)) {
    throw new TransportError('MALFORMED_FRAME', `${what} frame field ${name} must be ${expected}, got ${typeof value}`);
  }
  return value;
}

const isString = (value: unknown): value is string => typeof value === 'string';
const isNonEmptyString = (value: unknown): value is string => typeof value === 'string' && value.length > 0;
const isCount = (value: unknown): value is number => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
const isBoolean = (value: unknown): value is boolean => typeof value === 'boolean';

export function decodeHello(bytes: Uint8Array): Hello {
  const record = decodeRecord(bytes, 'hello');
  return {
    protocolVersion: field(record, 'protocolVersion', 'hello', isCount, 'a non-negative integer'),
    clusterId: field(record, 'clusterId', 'hello', isString, 'a string'),
    nodeId: field(record, 'nodeId', 'hello', isNonEmptyString, 'a non-empty string'),
    address: field(record, 'address', 'hello', isString, 'a string'),
    features: Array.isArray(record['features']) ? record['features'].filter(isString) : [],
  };
}

export function decodeRefusal(bytes: Uint8Array, what: string): Refusal {
  const record = decodeRecord(bytes, what);
  return {
    code: field(record, 'code', what, isNonEmptyString, 'a non-empty string'),
    message: field(record, 'message', what, isString, 'a string'),
  };
}

export function decodeCallRequest(bytes: Uint8Array): CallRequest {
  const record = decodeRecord(bytes, 'call');
  return {
    requestId: field(record, 'requestId', 'call', isCount, 'a non-negative integer'),
    method: field(record, 'method', 'call', isNonEmptyString, 'a non-empty string'),
    payload: record['payload'],
  };
}

export function decodeCallReply(bytes: Uint8Array): CallReply {
  const record = decodeRecord(bytes, 'reply');
  const requestId = field(record, 'requestId', 'reply', isCount, 'a non-negative integer');
  if (field(record, 'ok', 'reply', isBoolean, 'a boolean')) return { requestId, ok: true, result: record['result'] };
  const refusal = decodeRefusal(bytes, 'reply');
  return { requestId, ok: false, code: refusal.code, message: refusal.message };
}

export function decodeSnapshotBegin(bytes: Uint8Array): SnapshotBegin {
  const record = decodeRecord(bytes, 'snapshot-begin');
  return {
    metadata: record['metadata'],
    totalBytes: field(record, 'totalBytes', 'snapshot-begin', isCount, 'a non-negative integer'),
    resumeKey: record['resumeKey'] === undefined ? undefined : field(record, 'resumeKey', 'snapshot-begin', isNonEmptyString, 'a non-empty string'),
  };
}

export function decodeSnapshotOffer(bytes: Uint8Array): SnapshotOffer {
  const record = decodeRecord(bytes, 'snapshot-offer');
  return {
    offset: field(record, 'offset', 'snapshot-offer', isCount, 'a non-negative integer'),
    sha256: field(record, 'sha256', 'snapshot-offer', isString, 'a string'),
  };
}

export function decodeSnapshotSeek(bytes: Uint8Array): number {
  return field(decodeRecord(bytes, 'snapshot-seek'), 'offset', 'snapshot-seek', isCount, 'a non-negative integer');
}

export function decodeSnapshotEnd(bytes: Uint8Array): SnapshotEnd {
  const record = decodeRecord(bytes, 'snapshot-end');
  return {
    totalBytes: field(record, 'totalBytes', 'snapshot-end', isCount, 'a non-negative integer'),
    sha256: field(record, 'sha256', 'snapshot-end', isString, 'a string'),
  };
}

export function decodeSnapshotResult(bytes: Uint8Array): SnapshotResult {
  const record = decodeRecord(bytes, 'snapshot-result');
  if (field(record, 'ok', 'snapshot-result', isBoolean, 'a boolean')) return { ok: true };
  const refusal = decodeRefusal(bytes, 'snapshot-result');
  return { ok: false, code: refusal.code, message: refusal.message };
}
