/**
 * candidateElectionTicks: a candidate (or pre-candidate) that gets no result waits its
 * own timeout before campaigning again (hashicorp/raft's ElectionTimeout, rqlited's
 * -raft-election-timeout), while a follower still times out after electionTicks.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStorage, RaftError, RawNode } from '../../src/raft/index.js';
import type { RaftConfig } from '../../src/raft/index.js';
import { testConfig } from './helpers.js';

/** Node 1 of three, cut off (nothing is delivered), with no election jitter. */
function isolatedNode(overrides: Partial<RaftConfig>): RawNode {
  const storage = new MemoryStorage({ confState: { voters: ['1', '2', '3'], learners: [] } });
  return new RawNode(testConfig('1', storage, { random: () => 0, ...overrides }));
}

/** Ticks until the node starts a campaign; returns how many ticks that took. */
function ticksUntilCampaign(node: RawNode, isCampaign: () => boolean, limit = 1000): number {
  for (let ticks = 1; ticks <= limit; ticks += 1) {
    node.tick();
    if (node.hasReady()) node.advance(node.ready());
    if (isCampaign()) return ticks;
  }
  throw new Error('no campaign');
}

test('a candidate waits candidateElectionTicks before its next election; a follower electionTicks', () => {
  const node = isolatedNode({ electionTicks: 10, candidateElectionTicks: 30 });
  let term = node.status().term;
  const nextTerm = (): boolean => node.status().term > term;
  assert.equal(ticksUntilCampaign(node, nextTerm), 10, 'the follower timeout');
  assert.equal(node.status().role, 'candidate');
  term = node.status().term;
  assert.equal(ticksUntilCampaign(node, nextTerm), 30, 'the candidate timeout');
  term = node.status().term;
  assert.equal(ticksUntilCampaign(node, nextTerm), 30, 'and again');
});

test('without candidateElectionTicks a candidate waits electionTicks, as before', () => {
  const node = isolatedNode({ electionTicks: 10 });
  let term = node.status().term;
  const nextTerm = (): boolean => node.status().term > term;
  assert.equal(ticksUntilCampaign(node, nextTerm), 10);
  term = node.status().term;
  assert.equal(ticksUntilCampaign(node, nextTerm), 10);
});

test('a pre-candidate waits candidateElectionTicks before polling again', () => {
  const node = isolatedNode({ electionTicks: 10, candidateElectionTicks: 25, preVote: true });
  let polls = 0;
  const polled = (): boolean => {
    const ready = node.hasReady() ? node.ready() : undefined;
    const sent = ready?.messages.some((message) => message.type === 'MsgPreVote') ?? false;
    if (ready !== undefined) node.advance(ready);
    if (sent) polls += 1;
    return sent;
  };
  const tickAndCheck = (): number => {
    for (let ticks = 1; ticks <= 1000; ticks += 1) {
      node.tick();
      if (polled()) return ticks;
    }
    throw new Error('no poll');
  };
  assert.equal(tickAndCheck(), 10);
  assert.equal(node.status().role, 'pre-candidate');
  assert.equal(tickAndCheck(), 25);
  assert.equal(polls, 2);
});

test('candidateElectionTicks below electionTicks is refused', () => {
  assert.throws(
    () => isolatedNode({ electionTicks: 10, candidateElectionTicks: 9 }),
    (error: unknown) => error instanceof RaftError && error.code === 'INVALID_CONFIG' && /candidateElectionTicks must be >= 10/.test(error.message),
  );
});
