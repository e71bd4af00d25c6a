/**
 * An in-memory runtime (n1) put in a role, the test playing its peers: elected leader of 3
 * voters (answering for n2), or a follower of n2 in a new term.
 */
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import { raftMessage } from '../raft/helpers.js';
import { startInMemoryRuntime, type InMemoryRuntime } from './in-memory-runtime.js';

export function reply(to: Message, type: Message['type'], fields: Partial<Message> = {}): Message {
  return raftMessage({ type, from: to.to, to: to.from, term: to.term, ...fields });
}

/** Elects n1 (the test answers for n2) and commits its term's first entry. */
export async function electN1(node: InMemoryRuntime): Promise<void> {
  const { runtime, scheduler, transport, config } = node;
  await scheduler.advance(config.electionTimeoutMs * 2);
  const preVote = transport.sent.find((message) => message.type === 'MsgPreVote' && message.to === 'n2');
  assert.ok(preVote, 'n1 campaigned');
  transport.deliver(reply(preVote, 'MsgPreVoteResp'));
  await scheduler.settle();
  const vote = transport.sent.find((message) => message.type === 'MsgVote' && message.to === 'n2');
  assert.ok(vote, 'n1 asked for votes');
  transport.deliver(reply(vote, 'MsgVoteResp'));
  await scheduler.settle();
  assert.equal(runtime.role, 'leader');
  const append = transport.sent.find((message) => message.type === 'MsgApp' && message.to === 'n2' && message.entries.length > 0);
  assert.ok(append, "the leader's first entry");
  const last = append.entries[append.entries.length - 1];
  transport.deliver(reply(append, 'MsgAppResp', { index: last?.index ?? 0 }));
  await scheduler.settle();
}

/** n1 of n1..n3 (heartbeats every 50 ms), elected, its tick lined up so that none falls in the next few milliseconds. */
export async function startLeaderN1(): Promise<InMemoryRuntime> {
  const node = await startInMemoryRuntime(['n1', 'n2', 'n3'], { heartbeatMs: 50, electionTimeoutMs: 500 });
  try {
    await electN1(node);
    await node.scheduler.advance(node.runtime.tickPlan.tickMs);
    return node;
  } catch (error) {
    await node.close();
    throw error;
  }
}

/** A follower of a leader (n2) in a new term, its term durable and its first heartbeat answered; the sent list cleared. */
export async function followerOfNewTerm(node: InMemoryRuntime): Promise<{ term: number; lastIndex: number; lastTerm: number }> {
  const start = node.runtime.coreStatus();
  assert.ok(start !== undefined);
  const term = start.term + 1;
  node.transport.deliver(raftMessage({ type: 'MsgHeartbeat', from: 'n2', to: 'n1', term }));
  await node.scheduler.settle();
  node.transport.sent.length = 0;
  return { term, lastIndex: start.lastIndex, lastTerm: node.storage.term(start.lastIndex) };
}
