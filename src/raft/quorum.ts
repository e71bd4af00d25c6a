/** Majority arithmetic over the voters. Learners never count. */
import type { NodeId } from './types.js';

type VoteResult = 'won' | 'lost' | 'pending';

export function quorumCount(voterCount: number): number {
  return Math.floor(voterCount / 2) + 1;
}

/**
 * The largest index a majority of voters has (their matched index), 0 with no voters.
 * Sorted descending, it is the value at position quorum - 1.
 */
export function majorityCommitIndex(voters: readonly NodeId[], matchOf: (id: NodeId) => number): number {
  if (voters.length === 0) return 0;
  const matches = voters.map(matchOf).sort((a, b) => b - a);
  return matches[quorumCount(voters.length) - 1] ?? 0;
}

/** Whether `votes` (true granted, false rejected) decide an election among `voters`. */
export function voteResult(voters: readonly NodeId[], votes: ReadonlyMap<NodeId, boolean>): VoteResult {
  if (voters.length === 0) return 'won';
  let granted = 0;
  let rejected = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === true) granted++;
    if (vote === false) rejected++;
  }
  const quorum = quorumCount(voters.length);
  if (granted >= quorum) return 'won';
  if (voters.length - rejected < quorum) return 'lost';
  return 'pending';
}

/** Whether the voters in `active` form a majority. */
export function hasQuorum(voters: readonly NodeId[], active: (id: NodeId) => boolean): boolean {
  let count = 0;
  for (const id of voters) if (active(id)) count++;
  return count >= quorumCount(voters.length);
}
