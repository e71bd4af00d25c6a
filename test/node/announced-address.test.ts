/**
 * A node with no address for its leader (it missed the conf change that added it: the
 * simulator's finding R1) answers it at the address the leader announced in its
 * transport handshake. The member directory adopts such an address only to fill that
 * gap: for any sender the core may answer (R5: a stale leader, a candidate outside the
 * configuration), never over an address the log gave, at most adoptedPeersMax at once;
 * the log's address replaces an adopted one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { encodeConfChange } from '../../src/raft/conf-change.js';
import type { Entry, Message, MessageType } from '../../src/raft/types.js';
import { adoptedPeersMax } from '../../src/node/member-directory.js';
import { encodeMemberContext } from '../../src/node/members.js';
import { startInMemoryRuntime } from './in-memory-runtime.js';

const announcedAddress = 'n9-host:7000';

function message(type: MessageType, from: string, term: number, fields: Partial<Message> = {}): Message {
  return { type, from, to: 'n1', term, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, context: new Uint8Array(0), ...fields };
}

test('a follower with no address for its leader answers it at the address its handshake announced (R1)', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, transport } = node;
    transport.deliver(message('MsgHeartbeat', 'n9', 5), announcedAddress);
    await scheduler.settle();
    assert.equal(runtime.leaderId, 'n9');
    assert.equal(transport.peers.get('n9'), announcedAddress, 'the reply has somewhere to go');
    assert.ok(transport.sent.some((sent) => sent.type === 'MsgHeartbeatResp' && sent.to === 'n9'));
    assert.equal(runtime.members.has('n9'), false, 'an announced address stays out of the address book (members.json)');
  } finally {
    await node.close();
  }
});

test('a handshake never replaces an address the log gave', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, transport } = node;
    transport.deliver(message('MsgHeartbeat', 'n2', 5), 'elsewhere:1');
    await scheduler.settle();
    assert.equal(runtime.leaderId, 'n2');
    assert.equal(transport.peers.get('n2'), 'n2:raft');
    assert.equal(runtime.members.get('n2')?.raftAddress, 'n2:raft');
  } finally {
    await node.close();
  }
});

test('a sender outside the configuration that the core answers gets its announced address: a stale leader learns the higher term (R5)', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, transport } = node;
    transport.deliver(message('MsgHeartbeat', 'n2', 5));
    await scheduler.settle();
    // A leader of an older term this node has no address for (it missed the conf changes
    // that made it one: R5). The core answers with its own term, so the leader steps up.
    transport.deliver(message('MsgHeartbeat', 'n9', 4), announcedAddress);
    // A candidate outside the configuration, below our term: the core refuses it with our term.
    transport.deliver(message('MsgVote', 'n8', 3, { index: 100, logTerm: 3 }), 'n8-host:7000');
    await scheduler.settle();
    assert.equal(runtime.leaderId, 'n2', 'neither is followed');
    assert.equal(transport.peers.get('n9'), announcedAddress);
    assert.ok(
      transport.sent.some((sent) => sent.to === 'n9' && sent.type === 'MsgAppResp' && sent.term === 5),
      'the stale leader hears the higher term',
    );
    assert.equal(transport.peers.get('n8'), 'n8-host:7000');
    assert.ok(transport.sent.some((sent) => sent.to === 'n8' && sent.type === 'MsgVoteResp' && sent.reject && sent.term === 5));
    assert.equal(runtime.members.has('n9'), false, 'still out of the address book');
  } finally {
    await node.close();
  }
});

test(`at most ${adoptedPeersMax} announced addresses are kept: the oldest sender outside the configuration is let go`, async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { scheduler, transport } = node;
    transport.deliver(message('MsgHeartbeat', 'n2', 5));
    await scheduler.settle();
    const senders = Array.from({ length: adoptedPeersMax + 1 }, (_, index) => `x${index}`);
    for (const sender of senders.slice(0, adoptedPeersMax)) transport.deliver(message('MsgHeartbeat', sender, 4), `${sender}-host:1`);
    await scheduler.settle();
    assert.equal(senders.filter((sender) => transport.peers.has(sender)).length, adoptedPeersMax, 'up to the bound, every one kept');
    transport.deliver(message('MsgHeartbeat', senders[adoptedPeersMax] ?? '', 4), 'last-host:1');
    await scheduler.settle();
    assert.equal(transport.peers.has('x0'), false, 'the oldest let go');
    assert.equal(transport.peers.get(`x${adoptedPeersMax}`), 'last-host:1');
    assert.equal(senders.filter((sender) => transport.peers.has(sender)).length, adoptedPeersMax);
    assert.equal(transport.peers.get('n2'), 'n2:raft', "the log's addresses are not counted or touched");
  } finally {
    await node.close();
  }
});

test('a member of the configuration the address book lacks gets the address it announced, leader or not', async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, transport } = node;
    // As if members.json and the log had lost n3's address (only the core still names it).
    runtime.members.delete('n3');
    transport.removePeer('n3');
    transport.deliver(message('MsgPreVote', 'n3', 2, { index: 3, logTerm: 1 }), 'n3-host:7000');
    await scheduler.settle();
    assert.equal(runtime.leaderId, '');
    assert.equal(transport.peers.get('n3'), 'n3-host:7000');
    assert.ok(transport.sent.some((sent) => sent.type === 'MsgPreVoteResp' && sent.to === 'n3'));
  } finally {
    await node.close();
  }
});

test("once the log names the leader's address it replaces the adopted one, and later handshakes change nothing", async () => {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3']);
  try {
    const { runtime, scheduler, transport } = node;
    transport.deliver(message('MsgHeartbeat', 'n9', 5), announcedAddress);
    await scheduler.settle();
    assert.equal(transport.peers.get('n9'), announcedAddress);
    const addresses = { raftAddress: 'n9:raft', apiAddress: 'n9:api' };
    const change: Entry = {
      index: 4,
      term: 5,
      type: 'conf-change',
      data: encodeConfChange({ type: 'add-learner', nodeId: 'n9', context: encodeMemberContext(addresses) }),
    };
    transport.deliver(message('MsgApp', 'n9', 5, { index: 3, logTerm: 1, entries: [change], commit: 3 }), announcedAddress);
    await scheduler.settle();
    assert.ok(transport.sent.some((sent) => sent.type === 'MsgAppResp' && sent.to === 'n9' && !sent.reject && sent.index === 4));
    assert.deepEqual(runtime.members.get('n9'), addresses);
    assert.equal(transport.peers.get('n9'), 'n9:raft');
    transport.deliver(message('MsgHeartbeat', 'n9', 5), announcedAddress);
    await scheduler.settle();
    assert.equal(transport.peers.get('n9'), 'n9:raft');
  } finally {
    await node.close();
  }
});
