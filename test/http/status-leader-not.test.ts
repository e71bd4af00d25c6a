/**
 * `/status?leader_not=ID`: the wait may take all of `timeout`, and the document still gets
 * a `timeout` of its own to be built (its checksum reads every row), so a wait that ran to
 * its bound is answered with the document, not with 503 TIMEOUT.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { StatusDocument, StatusRequest } from '../../src/service/service.js';
import { startHarness, type Harness } from './harness.js';
import { SqliteService } from './sqlite-service.js';

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/** A node whose leader never changes, and whose document takes `buildMs` to build. */
class SlowStatusService extends SqliteService {
  readonly buildMs = 200;
  override async status(request?: StatusRequest): Promise<StatusDocument> {
    if (request?.leaderNot !== undefined) await sleep(request.leaderNot.waitMs);
    await sleep(this.buildMs);
    return super.status();
  }
}

let harness: Harness & { readonly service: SlowStatusService };
before(async () => {
  harness = await startHarness({ serviceGraceMs: 50 }, new SlowStatusService());
});
after(() => harness.close());

test('a leader_not wait that runs to its timeout is answered with the document', async () => {
  const waited = await fetch(`${harness.base}/status?leader_not=n1&timeout=300ms`);
  assert.equal(waited.status, 200, await waited.clone().text());
  assert.deepEqual(((await waited.json()) as { store: unknown }).store, { raft: { state: 'Leader', commit_index: 0, voter: true } });
});

test('without leader_not the document alone has the timeout and its grace', async () => {
  assert.equal((await fetch(`${harness.base}/status?timeout=300ms`)).status, 200);
  const tooSlow = await fetch(`${harness.base}/status?timeout=100ms`);
  assert.equal(tooSlow.status, 503, 'a document built past timeout and grace is TIMEOUT, as before');
});
