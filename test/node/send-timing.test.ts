/**
 * When the Ready loop's messages leave (SendTiming, src/transport/types.ts): a leader's
 * turn that saves entries sends at the loop's next turn, behind its own log write; every
 * other message (a read round's heartbeat, a follower's answers) leaves as soon as the
 * turn or save that sent it returns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import { raftMessage as message } from '../raft/helpers.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';
import { acknowledgeAppends, followerOfNewTerm, reply, startLeaderN1 } from './roles.js';

function timingsOf(sent: readonly Message[], timings: ReadonlyMap<Message, string>, type: Message['type']): string[] {
  return sent.filter((sent) => sent.type === type).map((sent) => timings.get(sent) ?? 'none');
}

test("a leader's appends leave at the loop's next turn; its read round's heartbeats at once", async () => {
  const node = await startLeaderN1();
  try {
    const { runtime, scheduler, transport } = node;
    const start = transport.sent.length;
    const command = runtime.encodeCommandFor([{ sql: 'CREATE TABLE t (v TEXT)', positional: [], named: {} }], false, null);
    const written = runtime.propose(command, 10_000);
    await scheduler.settle();
    const appends = transport.sent.slice(start).filter((sent) => sent.type === 'MsgApp' && sent.entries.length > 0);
    // n3 never answered (the test plays n2 only): the leader probes it, so only n2 gets the entry at once.
    assert.deepEqual(
      appends.map((sent) => [sent.to, transport.timings.get(sent)]),
      [['n2', 'next-turn']],
    );
    await acknowledgeAppends(node, 'n2', start);
    await written;

    const beforeRead = transport.sent.length;
    const read = runtime.readBarrier(5_000);
    await scheduler.settle();
    const round = transport.sent.slice(beforeRead).filter((sent) => sent.type === 'MsgHeartbeat' && sent.context.length > 0);
    assert.equal(round.length, 1);
    assert.equal(transport.timings.get(round[0] as Message), 'callback', "a read round's heartbeat leaves at once");
    transport.deliver(reply(round[0] as Message, 'MsgHeartbeatResp', { context: (round[0] as Message).context }));
    await scheduler.settle();
    await read;
  } finally {
    await node.close();
  }
});

test("a follower's answer to a heartbeat, in the turn that saves entries, and its acknowledgement of them leave at once", async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { scheduler, transport } = node;
    const { term, lastIndex, lastTerm } = await followerOfNewTerm(node);
    const entry = { index: lastIndex + 1, term, type: 'normal' as const, data: new Uint8Array(0) };
    // Both stepped before the turn runs: one Ready saves the entry and answers the heartbeat.
    transport.deliver(message({ type: 'MsgApp', from: 'n2', to: 'n1', term, index: lastIndex, logTerm: lastTerm, entries: [entry] }));
    transport.deliver(message({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term }));
    await scheduler.settle();
    assert.deepEqual(timingsOf(transport.sent, transport.timings, 'MsgHeartbeatResp'), ['callback']);
    assert.deepEqual(timingsOf(transport.sent, transport.timings, 'MsgAppResp'), ['callback']);
  } finally {
    await node.close();
  }
});
