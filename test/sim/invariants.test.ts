import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { InvariantViolation, SafetyMonitor } from './invariants.js';
import { DurableTwin } from './durable-twin.js';
import type { Entry } from '../../src/raft/types.js';

function entry(index: number, term: number, text = ''): Entry {
  return { index, term, type: 'normal', data: new TextEncoder().encode(text) };
}

function violates(invariant: string, action: () => void): void {
  assert.throws(action, (error: unknown) => error instanceof InvariantViolation && error.invariant === invariant);
}

const confState = { voters: ['n1', 'n2', 'n3'], learners: [] };

describe('safety monitor', () => {
  it('election-safety: one leader per term', () => {
    const monitor = new SafetyMonitor();
    monitor.observeLeader('n1', 2);
    monitor.observeLeader('n1', 2);
    monitor.observeLeader('n2', 3);
    violates('election-safety', () => monitor.observeLeader('n3', 2));
  });

  it('single-vote-per-term: across persists and restarts', () => {
    const monitor = new SafetyMonitor();
    monitor.observeHardState('n1', { term: 2, vote: '', commit: 0 }, { term: 1, vote: '', commit: 0 });
    monitor.observeHardState('n1', { term: 2, vote: 'n2', commit: 0 }, { term: 2, vote: '', commit: 0 });
    monitor.observeHardState('n1', { term: 3, vote: 'n3', commit: 0 }, { term: 2, vote: 'n2', commit: 0 });
    violates('single-vote-per-term', () => monitor.observeHardState('n1', { term: 2, vote: 'n3', commit: 0 }, { term: 2, vote: '', commit: 0 }));
    violates('single-vote-per-term', () => monitor.observeHardState('n2', { term: 4, vote: 'n1', commit: 0 }, { term: 4, vote: 'n3', commit: 0 }));
  });

  it('durable-state-monotonic: term and commit never go back', () => {
    const monitor = new SafetyMonitor();
    violates('durable-state-monotonic', () => monitor.observeHardState('n1', { term: 1, vote: '', commit: 5 }, { term: 2, vote: '', commit: 5 }));
    violates('durable-state-monotonic', () => monitor.observeHardState('n1', { term: 2, vote: '', commit: 4 }, { term: 2, vote: '', commit: 5 }));
  });

  it('log-matching: one payload and one previous term per (index, term)', () => {
    const monitor = new SafetyMonitor();
    monitor.observePersistedEntries('n1', 1, [entry(2, 1, 'a'), entry(3, 2, 'b')]);
    monitor.observePersistedEntries('n2', 1, [entry(2, 1, 'a'), entry(3, 2, 'b'), entry(4, 2, 'c')]);
    monitor.observePersistedEntries('n3', 1, [entry(2, 1, 'a'), entry(3, 3, 'x')]);
    violates('log-matching', () => monitor.observePersistedEntries('n3', 2, [entry(4, 2, 'other')]));
    violates('log-matching', () => monitor.observePersistedEntries('n3', 3, [entry(3, 2, 'b')]));
  });

  it('state-machine-safety: one entry per index, and snapshots agree with it', () => {
    const monitor = new SafetyMonitor();
    assert.equal(monitor.observeApplied('n1', 2, 1, 'w1'), true);
    assert.equal(monitor.observeApplied('n2', 2, 1, 'w1'), false);
    violates('state-machine-safety', () => monitor.observeApplied('n3', 2, 1, 'w2'));
    violates('state-machine-safety', () => monitor.observeApplied('n3', 2, 2, 'w1'));
    monitor.observeSnapshot('n3', 2, 1);
    violates('state-machine-safety', () => monitor.observeSnapshot('n3', 2, 3));
  });

  it('applied-beyond-commit: nothing applied past the persisted commit', () => {
    const monitor = new SafetyMonitor();
    monitor.checkAppliedIsCommitted('n1', 5, 5);
    violates('applied-beyond-commit', () => monitor.checkAppliedIsCommitted('n1', 6, 5));
  });

  it('leader-completeness: a new leader holds every entry committed in an earlier term', () => {
    const monitor = new SafetyMonitor();
    monitor.observeCommit(2, 3);
    monitor.observeApplied('n1', 2, 1, 'w1');
    monitor.observeApplied('n1', 3, 2, 'w2');
    const complete = new DurableTwin(confState);
    complete.persist({ entries: [entry(1, 1), entry(2, 1), entry(3, 2), entry(4, 3)] });
    monitor.checkLeaderCompleteness('n2', 3, complete);
    const short = new DurableTwin(confState);
    short.persist({ entries: [entry(1, 1), entry(2, 1)] });
    violates('leader-completeness', () => monitor.checkLeaderCompleteness('n3', 3, short));
    const divergent = new DurableTwin(confState);
    divergent.persist({ entries: [entry(1, 1), entry(2, 1), entry(3, 3)] });
    violates('leader-completeness', () => monitor.checkLeaderCompleteness('n3', 3, divergent));
    // A leader of term 2 elected late on a delayed vote need not hold what term 2 committed
    // after it (seed 502599 found this false alarm in an earlier version of the check).
    monitor.checkLeaderCompleteness('n3', 2, short);
  });
});
