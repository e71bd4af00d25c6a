/**
 * The Ready loop's hedge of a read round (ready-loop.ts): a round asks only the follower a
 * quorum of 3 needs; if it has not answered within readRoundHedgeMs (1 ms) of the
 * scheduler's clock, the other voter is asked too, long before the next heartbeat tick.
 * A real NodeRuntime with a ManualScheduler and a recording transport: the test plays the
 * two followers.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import type { InMemoryRuntime } from './in-memory-runtime.js';
import { reply, startLeaderN1 } from './roles.js';

function heartbeatsSince(node: InMemoryRuntime, from: number): Message[] {
  return node.transport.sent.slice(from).filter((message) => message.type === 'MsgHeartbeat' && message.context.length > 0);
}

test('a read round asked of a follower that does not answer within 1 ms is asked of the other voter too, before any tick', async () => {
  const node = await startLeaderN1();
  try {
    const { runtime, scheduler, transport } = node;
    const start = transport.sent.length;
    const read = runtime.readBarrier(5_000);
    await scheduler.settle();
    const asked = heartbeatsSince(node, start);
    assert.deepEqual(
      asked.map((message) => message.to),
      ['n2'],
      'the round asks one follower',
    );
    await scheduler.advance(0.9);
    assert.deepEqual(
      heartbeatsSince(node, start).map((message) => message.to),
      ['n2'],
      'not before 1 ms',
    );
    await scheduler.advance(0.1);
    const hedged = heartbeatsSince(node, start);
    assert.deepEqual(
      hedged.map((message) => message.to),
      ['n2', 'n3'],
      '1 ms later, the other voter too',
    );
    assert.deepEqual(hedged[1]?.context, hedged[0]?.context, "with the round's context");
    const hedge = hedged[1] as Message;
    transport.deliver(reply(hedge, 'MsgHeartbeatResp', { context: hedge.context }));
    await scheduler.settle();
    const index = await read;
    assert.ok(index >= 1, 'confirmed by the voter the hedge asked');
    const next = transport.sent.length;
    const second = runtime.readBarrier(5_000);
    await scheduler.settle();
    assert.deepEqual(
      heartbeatsSince(node, next).map((message) => message.to),
      ['n3'],
      'the voter that answered is asked first from then on',
    );
    const round = heartbeatsSince(node, next)[0] as Message;
    transport.deliver(reply(round, 'MsgHeartbeatResp', { context: round.context }));
    await scheduler.settle();
    await scheduler.advance(1);
    assert.equal(await second, index);
    assert.deepEqual(
      heartbeatsSince(node, next).map((message) => message.to),
      ['n3'],
      'a round answered in time is not hedged',
    );
  } finally {
    await node.close();
  }
});
