/** A 3-voter in-memory runtime (n1) elected leader, the test answering for n2. */
import assert from 'node:assert/strict';
import type { Message } from '../../src/raft/types.js';
import { raftMessage } from '../raft/helpers.js';
import type { InMemoryRuntime } from './in-memory-runtime.js';

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
