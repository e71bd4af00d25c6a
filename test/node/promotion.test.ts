/**
 * A joining learner becomes a voter only once it is caught up: the leader streams to it
 * and it holds all but at most promotionLagEntriesMax of the committed entries. The
 * bound itself, both sides of it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nodeConfigDefaults } from '../../src/node/config.js';
import { caughtUpToPromote } from '../../src/node/membership.js';
import type { ProgressStatus } from '../../src/raft/types.js';

function progress(state: ProgressStatus['state'], match: number): ProgressStatus {
  return { state, match, next: match + 1, isLearner: true, recentActive: true, inflightMessageCount: 0, pendingSnapshotIndex: 0 };
}

test('a learner streamed to is promoted within promotionLagEntriesMax of the commit index, and not one entry further behind', () => {
  const lag = nodeConfigDefaults.promotionLagEntriesMax;
  assert.equal(lag, 64);
  const commit = 1_000;
  assert.equal(caughtUpToPromote(progress('replicate', commit), commit, lag), true);
  assert.equal(caughtUpToPromote(progress('replicate', commit - lag), commit, lag), true);
  assert.equal(caughtUpToPromote(progress('replicate', commit - lag - 1), commit, lag), false);
});

test('a learner still probed or sent a snapshot is not promoted however close its match, nor one the leader has no progress for', () => {
  const lag = nodeConfigDefaults.promotionLagEntriesMax;
  assert.equal(caughtUpToPromote(progress('probe', 1_000), 1_000, lag), false);
  assert.equal(caughtUpToPromote(progress('snapshot', 1_000), 1_000, lag), false);
  assert.equal(caughtUpToPromote(undefined, 1_000, lag), false);
});
