/**
 * An in-memory runtime (n1) put in a role, the test playing its peers: elected leader of 3
 * voters (answering for n2), or a follower of n2 in a new term.
 */
import assert from 'node:assert/strict';
import type { Message, NodeId } from '../../src/raft/types.js';
import { raftMessage } from '../raft/helpers.js';
import { startInMemoryRuntime, type InMemoryRuntime } from './in-memory-runtime.js';

export function reply(to: Message, type: Message['type'], fields: Partial<Message> = {}): Message {
  return raftMessage({ type, from: to.to, to: to.from, term: to.term, ...fields });
}

/**
 * n1 campaigns and `voter` grants its pre-vote and vote: n1 leads, its term's first entry
 * sent but not committed. Returns the sent list's length when n1 became leader.
 */
export async function winElection(node: InMemoryRuntime, voter: NodeId): Promise<number> {
  const { runtime, scheduler, transport, config } = node;
  const mark = transport.sent.length;
  await scheduler.advance(config.electionTimeoutMs * 2);
  const preVote = transport.sent.slice(mark).find((message) => message.type === 'MsgPreVote' && message.to === voter);
  assert.ok(preVote, 'n1 campaigned');
  transport.deliver(reply(preVote, 'MsgPreVoteResp'));
  await scheduler.settle();
  const vote = transport.sent.slice(mark).find((message) => message.type === 'MsgVote' && message.to === voter);
  assert.ok(vote, 'n1 asked for votes');
  const leaderMark = transport.sent.length;
  transport.deliver(reply(vote, 'MsgVoteResp'));
  await scheduler.settle();
  assert.equal(runtime.role, 'leader');
  return leaderMark;
}

/** Answers, as `from`, every append with entries sent to it since `mark` (the sent list's length then); returns how many. */
export async function acknowledgeAppends(node: InMemoryRuntime, from: NodeId, mark: number): Promise<number> {
  let answered = 0;
  for (const append of node.transport.sent.slice(mark)) {
    const last = append.entries[append.entries.length - 1];
    if (append.type !== 'MsgApp' || append.to !== from || last === undefined) continue;
    node.transport.deliver(reply(append, 'MsgAppResp', { index: last.index }));
    answered += 1;
  }
  await node.scheduler.settle();
  return answered;
}

/** Elects n1 (the test answers for n2) and commits its term's first entry. */
export async function electN1(node: InMemoryRuntime): Promise<void> {
  const leaderMark = await winElection(node, 'n2');
  assert.ok((await acknowledgeAppends(node, 'n2', leaderMark)) > 0, "the leader's first entry");
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
