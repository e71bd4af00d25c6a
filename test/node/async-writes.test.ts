/**
 * The Ready loop with asynchronous storage writes, on a slow disk (saves held until the
 * test releases them): a follower's acknowledgement leaves only after the save that
 * covers it, while messages that acknowledge nothing durable are not held back by it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Entry } from '../../src/raft/types.js';
import { StateMachineHaltedError } from '../../src/state-machine/errors.js';
import { raftMessage as message } from '../raft/helpers.js';
import { startInMemoryRuntime, type InMemoryRuntime } from './in-memory-runtime.js';
import { followerOfNewTerm } from './roles.js';

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

function heartbeatAnswered(node: InMemoryRuntime): boolean {
  return node.transport.sent.some((sent) => sent.type === 'MsgHeartbeatResp');
}

for (const [savingBytesMax, held] of [
  [2000, false],
  [1999, true],
] as const) {
  test(`savingBytesMax ${savingBytesMax}: with 2,000 entry bytes on the disk, the next turn ${held ? 'waits for the disk' : 'runs'}`, async () => {
    const node = await startInMemoryRuntime(['n1', 'n2', 'n3'], { savingBytesMax });
    let release = (): void => undefined;
    try {
      const { term, lastIndex, lastTerm } = await followerOfNewTerm(node);
      release = node.storage.holdSaves();
      const entry: Entry = { index: lastIndex + 1, term, type: 'normal', data: new Uint8Array(2000) };
      node.transport.deliver(message({ type: 'MsgApp', from: 'n2', to: 'n1', term, index: lastIndex, logTerm: lastTerm, entries: [entry] }));
      await node.scheduler.settle();
      node.transport.deliver(message({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term }));
      await node.scheduler.settle();
      assert.equal(heartbeatAnswered(node), !held, held ? 'past the bound no turn runs while the save is on the disk' : 'at the bound turns go on');
      release();
      await node.scheduler.settle();
      assert.ok(heartbeatAnswered(node), 'answered once the disk caught up');
      assert.ok(node.transport.sent.some((sent) => sent.type === 'MsgAppResp' && sent.index === entry.index));
    } finally {
      release(); // a failed assertion must not leave the disk held: the node could not stop
      await node.close();
    }
  });
}

for (const [applyingEntryCountMax, held] of [
  [2, false],
  [1, true],
] as const) {
  test(`applyingEntryCountMax ${applyingEntryCountMax}: 2 committed entries not applied (apply halted): the next turn ${held ? 'waits' : 'runs'}`, async () => {
    const node = await startInMemoryRuntime(['n1', 'n2', 'n3'], { applyingEntryCountMax });
    try {
      const { term, lastIndex, lastTerm } = await followerOfNewTerm(node);
      const machine = node.stateMachine;
      const applyBatch = machine.applyBatch.bind(machine);
      let halted = true;
      machine.applyBatch = (entries) => {
        if (halted) throw new StateMachineHaltedError(entries[0]?.index ?? 0, 'SQLITE_FULL', 'disk full (test)');
        return applyBatch(entries);
      };
      const entries: Entry[] = [1, 2].map((offset) => ({ index: lastIndex + offset, term, type: 'normal', data: new Uint8Array(0) }));
      const commit = lastIndex + 2;
      node.transport.deliver(message({ type: 'MsgApp', from: 'n2', to: 'n1', term, index: lastIndex, logTerm: lastTerm, entries, commit }));
      await node.scheduler.settle();
      node.transport.deliver(message({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term, commit }));
      await node.scheduler.settle();
      assert.equal(heartbeatAnswered(node), !held, held ? 'past the bound no turn runs while apply is stuck' : 'at the bound turns go on');
      halted = false;
      await node.scheduler.advance(node.config.haltRetryIntervalMs);
      await node.scheduler.settle();
      assert.ok(heartbeatAnswered(node), 'answered once the entries applied');
      assert.equal(machine.appliedIndex, commit);
    } finally {
      await node.close();
    }
  });
}
