/**
 * Service requests for node tests: every field at its ordinary value, overridable. One
 * builder per request type, so a field added to the contract is added here once.
 */
import assert from 'node:assert/strict';
import { type ExecuteRequest, type QueryRequest, ServiceError } from '../../src/service/service.js';
import type { Statement } from '../../src/state-machine/types.js';

export function statement(sql: string, ...positional: (string | number)[]): Statement {
  return { sql, positional, named: {} };
}

export function executeRequest(statements: Statement[], overrides: Partial<ExecuteRequest> = {}): ExecuteRequest {
  return {
    statements,
    transaction: false,
    timings: false,
    timeoutMs: 10_000,
    dbTimeoutMs: null,
    forward: true,
    queue: false,
    wait: false,
    idempotencyKey: null,
    forwardRetryCountMax: 0,
    ...overrides,
  };
}

export function queryRequest(sql: string, overrides: Partial<QueryRequest> = {}): QueryRequest {
  return {
    statements: [statement(sql)],
    transaction: false,
    timings: false,
    timeoutMs: 10_000,
    dbTimeoutMs: null,
    forward: true,
    level: 'weak',
    freshnessMs: null,
    freshnessStrict: false,
    appliedIndexMin: null,
    linearizableTimeoutMs: 10_000,
    qualifyColumns: false,
    ...overrides,
  };
}

/** The ServiceError `promise` is refused with; fails the test when it resolves or rejects with anything else. */
export async function serviceRejection(promise: Promise<unknown>): Promise<ServiceError> {
  const outcome = await promise.then(
    () => new Error('expected a refusal'),
    (error: unknown) => error,
  );
  assert.ok(outcome instanceof ServiceError, String(outcome));
  return outcome;
}
