/**
 * A linearizable read on the leader, waiting for its read round, when the leader learns of
 * a newer one: as rqlite does with a read that meets ErrNotLeader, the node serves it
 * another way unless the request asked for `redirect` (then NOT_LEADER, rqlite's 301). Here
 * it is now a follower, so it asks the new leader for a read index and reads its own copy;
 * `strong` would go to the new leader. A real NodeRuntime and service with a ManualScheduler;
 * the test plays n2 and n3.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import { ServiceError } from '../../src/service/service.js';
import { raftMessage } from '../raft/helpers.js';
import { serviceFor } from './in-memory-service.js';
import { queryRequest } from './requests.js';
import { reply, startLeaderN1 } from './roles.js';

const context = { signal: new AbortController().signal };

function roundsSince(sent: readonly Message[], from: number): Message[] {
  return sent.slice(from).filter((message) => message.type === 'MsgHeartbeat' && message.context.length > 0);
}

async function outcome(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    (value) => value,
    (error: unknown) => error,
  );
}

for (const forward of [true, false]) {
  const outcomeName = forward ? 'is served as a follower' : 'with redirect is NOT_LEADER';
  test(`a linearizable read on a leader that learns of a newer leader before its round is confirmed ${outcomeName}`, async () => {
    const node = await startLeaderN1();
    try {
      const { runtime, scheduler, transport } = node;
      const service = serviceFor(node);
      const start = transport.sent.length;
      const read = outcome(service.query(queryRequest('SELECT 1 AS one', { level: 'linearizable', forward }), context));
      await scheduler.settle();
      assert.ok(roundsSince(transport.sent, start).length > 0, 'the read round went out, and nobody answers it');

      const status = runtime.coreStatus();
      assert.ok(status !== undefined);
      const term = status.term + 1;
      transport.deliver(raftMessage({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term, commit: status.commit }));
      await scheduler.settle();
      assert.equal(runtime.leaderId, 'n2', 'n1 now follows n2');
      if (!forward) {
        const error = await read;
        assert.ok(error instanceof ServiceError, String(error));
        assert.equal(error.code, 'NOT_LEADER');
        assert.equal(error.leaderApiAddress, 'http://n2:api');
        return;
      }
      const asked = transport.sent.slice(start).find((message) => message.type === 'MsgReadIndex' && message.to === 'n2');
      assert.ok(asked, 'n1 asks the new leader for a read index');
      transport.deliver(reply(asked, 'MsgReadIndexResp', { term, index: status.commit, context: asked.context }));
      await scheduler.settle();
      const answer = await read;
      assert.ok(!(answer instanceof Error), String(answer));
      assert.deepEqual((answer as { results: { rows?: unknown }[] }).results[0]?.rows, [[1]], JSON.stringify(answer));
    } finally {
      await node.close();
    }
  });
}
