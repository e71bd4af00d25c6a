/**
 * The Ready loop with asynchronous storage writes, on a slow disk (saves held until the
 * test releases them): a follower's acknowledgement leaves only after the save that
 * covers it, while messages that acknowledge nothing durable are not held back by it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';

function message(fields: Partial<Message> & Pick<Message, 'type' | 'from' | 'to' | 'term'>): Message {
  return { logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(0), ...fields };
}

test('a follower acknowledges an append only once its save is durable; a heartbeat answer does not wait for it', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, storage, transport } = node;
    const start = runtime.coreStatus();
    assert.ok(start !== undefined);
    const term = start.term + 1;
    const lastIndex = start.lastIndex;
    const lastTerm = storage.term(lastIndex);
    // A leader of a new term: the follower's new term must be durable before it answers at all.
    transport.deliver(message({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term }));
    await scheduler.settle();
    assert.ok(transport.sent.some((sent) => sent.type === 'MsgHeartbeatResp' && sent.term === term));
    transport.sent.length = 0;

    const release = storage.holdSaves();
    const entry = { index: lastIndex + 1, term, type: 'normal' as const, data: new Uint8Array(0) };
    transport.deliver(message({ type: 'MsgApp', from: 'n2', to: 'n1', term, index: lastIndex, logTerm: lastTerm, entries: [entry] }));
    await scheduler.settle();
    transport.deliver(message({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term }));
    await scheduler.settle();
    assert.deepEqual(
      transport.sent.map((sent) => sent.type),
      ['MsgHeartbeatResp'],
      'the append is not acknowledged while its save is on the disk; the heartbeat is answered',
    );

    release();
    await scheduler.settle();
    const acknowledgement = transport.sent.find((sent) => sent.type === 'MsgAppResp');
    assert.ok(acknowledgement !== undefined, 'acknowledged once saved');
    assert.equal(acknowledgement.index, entry.index);
    assert.equal(storage.lastIndex(), entry.index);
  } finally {
    await node.close();
  }
});
