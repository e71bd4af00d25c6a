/**
 * The context the HTTP layer hands the service for each request (src/http/exchange.ts)
 * has no accessor of its own: its lazy `signal` is a getter on its class. Issue 16: it
 * was an object literal with a getter, and V8 keeps a literal's getter in a pair
 * allocated in old space, which pointed back at the request. Every request's objects then
 * survived young collections until the next full one: point reads spent a third of their
 * CPU collecting garbage (bench/README.md).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { CallContext, DataResponse, ExecuteRequest, QueryRequest } from '../../src/service/service.js';
import { type Harness, postJson, startHarness } from './harness.js';
import { SqliteService } from './sqlite-service.js';

class RecordingService extends SqliteService {
  readonly contexts: CallContext[] = [];

  override query(request: QueryRequest, context: CallContext): Promise<DataResponse> {
    this.contexts.push(context);
    return super.query(request, context);
  }

  override execute(request: ExecuteRequest, context: CallContext): Promise<DataResponse> {
    this.contexts.push(context);
    return super.execute(request, context);
  }
}

const service = new RecordingService();
let harness: Harness;
let base: string;

before(async () => {
  harness = await startHarness({}, service);
  base = harness.base;
});

after(() => harness.close());

/** Own properties defined with get or set: each such one on an object literal is an old-space pair per request. */
function ownAccessors(value: object): string[] {
  return Object.entries(Object.getOwnPropertyDescriptors(value))
    .filter(([, descriptor]) => descriptor.get !== undefined || descriptor.set !== undefined)
    .map(([name]) => name);
}

test('every request hands the service a context without accessors of its own, whose signal still works', async () => {
  for (const [path, body] of [
    ['/db/execute', ['CREATE TABLE IF NOT EXISTS t (v TEXT)']],
    ['/db/query?level=none', ['SELECT 1']],
    ['/db/query?level=weak&timeout=5s', ['SELECT 2']],
  ] as const) {
    const response = await postJson(base, path, body);
    assert.equal(response.status, 200, await response.text());
  }
  assert.equal(service.contexts.length, 3);
  const prototypes = new Set(service.contexts.map((context) => Object.getPrototypeOf(context)));
  assert.equal(prototypes.size, 1, 'one class for every context');
  for (const context of service.contexts) {
    assert.deepEqual(ownAccessors(context), [], 'the context defines no getter or setter of its own');
    assert.ok(context.signal instanceof AbortSignal);
    assert.equal(context.signal.aborted, false, 'the request answered: its signal never aborted');
    assert.equal('caller' in context, false, 'no caller where the node checks no credentials');
  }
});
