/**
 * Raft's safety properties, checked incrementally as the simulation runs (each
 * observation is O(entries observed), so they can run after every step):
 *
 * - election-safety: at most one leader per term.
 * - single-vote-per-term: a node never persists two different votes in one term
 *   (the root of election safety; catches a disk that forgets votes).
 * - log-matching: two logs holding an entry with the same index and term hold the same
 *   entry and the same entries before it. Checked by induction: every (index, term)
 *   ever persisted must always come with the same payload and the same previous term.
 * - leader-completeness: a new leader's log holds every entry committed in an earlier term.
 * - state-machine-safety: every node applies the same entry at each index.
 * - durable-state-monotonic: a node's persisted term and commit never go back.
 * - applied-beyond-commit: nothing is applied beyond the commit index its core knows (the
 *   runtime saves the commit index lazily, so the persisted one may lag: see src/node).
 * - membership-agreement (in simulation.ts): the membership a snapshot is labelled with
 *   (the core's, as of its index) equals the one its data derived from the applied
 *   conf-change entries.
 * - snapshot-coverage (in simulation.ts): whenever a store opens or compacts, its log's
 *   compacted prefix is covered by a snapshot it holds (stored or installed): otherwise
 *   the node can no longer catch up a follower that needs that prefix.
 * - runtime-fatal / runtime-exception: the runtime stopped on a broken invariant of its
 *   own (onFatal), failed to start, or threw where nothing should.
 * - request-unanswered: a client request waited far past its timeout (the runtime must
 *   answer every request, if only with TIMEOUT).
 * - linearizability (linearizability.ts) of the key-value workload's history, or
 *   serializability (serializability.ts) of the transaction workload's, at the end.
 */
import type { Entry, HardState } from '../../src/raft/types.js';
import type { LogView } from './durable-twin.js';
import { digestBytes } from './trace.js';

export type InvariantName =
  | 'election-safety'
  | 'single-vote-per-term'
  | 'log-matching'
  | 'leader-completeness'
  | 'state-machine-safety'
  | 'durable-state-monotonic'
  | 'applied-beyond-commit'
  | 'membership-agreement'
  | 'snapshot-coverage'
  | 'linearizability'
  | 'serializability'
  | 'liveness'
  | 'request-unanswered'
  | 'runtime-fatal'
  | 'runtime-exception'
  | 'core-exception';

export class InvariantViolation extends Error {
  constructor(
    readonly invariant: InvariantName,
    message: string,
  ) {
    super(`${invariant}: ${message}`);
    this.name = 'InvariantViolation';
  }
}

/** An error with the first lines of its stack, for a failure report. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}\n${(error.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return String(error);
}

interface CommittedEntry {
  readonly term: number;
  readonly label: string;
  readonly firstNode: string;
}

export class SafetyMonitor {
  private readonly leaderByTerm = new Map<number, string>();
  private readonly votesByNode = new Map<string, Map<number, string>>();
  private readonly entryShapes = new Map<string, string>();
  /** committed[index] = what was applied at index (by whoever applied it first). */
  private readonly committed: (CommittedEntry | undefined)[] = [];
  committedIndexMax = 0;
  /** commitTerms[index] = the term of the first node seen persisting a commit >= index. */
  private readonly commitTerms: number[] = [];
  private commitObservedMax = 0;

  observeLeader(nodeId: string, term: number): void {
    const existing = this.leaderByTerm.get(term);
    if (existing === undefined) {
      this.leaderByTerm.set(term, nodeId);
      return;
    }
    if (existing !== nodeId) throw new InvariantViolation('election-safety', `two leaders in term ${term}: ${existing} and ${nodeId}`);
  }

  /** The node seen leading `term`, if any. */
  leaderOf(term: number): string | undefined {
    return this.leaderByTerm.get(term);
  }

  leaderCount(): number {
    return this.leaderByTerm.size;
  }

  /**
   * A hard state about to be persisted over `persisted`. The term never goes back;
   * neither does commit (the core may only learn of more commits). One vote per term.
   */
  observeHardState(nodeId: string, next: HardState, persisted: HardState): void {
    if (next.term < persisted.term) throw new InvariantViolation('durable-state-monotonic', `${nodeId} persists term ${next.term} over ${persisted.term}`);
    if (next.commit < persisted.commit)
      throw new InvariantViolation('durable-state-monotonic', `${nodeId} persists commit ${next.commit} over ${persisted.commit}`);
    if (next.term === persisted.term && persisted.vote !== '' && next.vote !== persisted.vote) {
      throw new InvariantViolation('single-vote-per-term', `${nodeId} replaces its vote for ${persisted.vote} with "${next.vote}" in term ${next.term}`);
    }
    this.observeVote(nodeId, next.term, next.vote);
  }

  /** The runtime applies only what its core says is committed. */
  checkAppliedIsCommitted(nodeId: string, index: number, commit: number): void {
    if (index > commit) throw new InvariantViolation('applied-beyond-commit', `${nodeId} applies entry ${index}, but its core's commit index is ${commit}`);
  }

  private observeVote(nodeId: string, term: number, vote: string): void {
    if (vote === '') return;
    let votes = this.votesByNode.get(nodeId);
    if (votes === undefined) {
      votes = new Map();
      this.votesByNode.set(nodeId, votes);
    }
    const earlier = votes.get(term);
    if (earlier === undefined) {
      votes.set(term, vote);
      return;
    }
    if (earlier !== vote) throw new InvariantViolation('single-vote-per-term', `${nodeId} voted for ${earlier} and then ${vote} in term ${term}`);
  }

  /** Entries about to be appended to `nodeId`'s log right after an entry of term `previousTerm`. */
  observePersistedEntries(nodeId: string, previousTerm: number, entries: readonly Entry[]): void {
    let previous = previousTerm;
    for (const entry of entries) {
      const key = `${entry.index}/${entry.term}`;
      const shape = `${previous}|${entry.type}|${digestBytes(entry.data)}`;
      const known = this.entryShapes.get(key);
      if (known === undefined) this.entryShapes.set(key, shape);
      else if (known !== shape) {
        throw new InvariantViolation('log-matching', `${nodeId} persisted entry ${key} as (previous term|type|digest) ${shape}, another log holds ${known}`);
      }
      previous = entry.term;
    }
  }

  /** Returns true for the first node to apply `index`. */
  observeApplied(nodeId: string, index: number, term: number, label: string): boolean {
    const committed = this.committed[index];
    if (committed === undefined) {
      this.committed[index] = { term, label, firstNode: nodeId };
      if (index > this.committedIndexMax) this.committedIndexMax = index;
      return true;
    }
    if (committed.term !== term || committed.label !== label) {
      throw new InvariantViolation(
        'state-machine-safety',
        `${nodeId} applied ${index}/${term} "${label}" but ${committed.firstNode} applied ${index}/${committed.term} "${committed.label}"`,
      );
    }
    return false;
  }

  /** The label applied at `index`, if any node applied it. */
  committedLabel(index: number): string | undefined {
    return this.committed[index]?.label;
  }

  /** A node installed a snapshot: if that index was applied anywhere, the terms must agree. */
  observeSnapshot(nodeId: string, index: number, term: number): void {
    const committed = this.committed[index];
    if (committed !== undefined && committed.term !== term) {
      throw new InvariantViolation(
        'state-machine-safety',
        `${nodeId} installed a snapshot at ${index}/${term} but ${committed.firstNode} applied ${index}/${committed.term}`,
      );
    }
  }

  /**
   * A node persisted commit index `commit` while in `term`. The first such observation of
   * an index records the term it was committed in, or a later one (a node can only learn
   * of a commit from the leader that made it, or later): never an earlier one.
   */
  observeCommit(term: number, commit: number): void {
    for (let index = this.commitObservedMax + 1; index <= commit; index++) this.commitTerms[index] = term;
    if (commit > this.commitObservedMax) this.commitObservedMax = commit;
  }

  /**
   * `nodeId` leads `term` and has persisted its first entry of that term (so its durable
   * log holds everything its core's log held when it won); that log must hold every entry
   * committed in an earlier term (Raft's leader completeness: a leader of an older term,
   * elected late on a delayed vote, need not hold entries committed in newer terms).
   */
  checkLeaderCompleteness(nodeId: string, term: number, log: LogView): void {
    let requiredIndexMax = 0;
    for (let index = 1; index <= this.commitObservedMax; index++) {
      if ((this.commitTerms[index] ?? Infinity) < term) requiredIndexMax = index;
    }
    if (log.lastIndex() < requiredIndexMax) {
      throw new InvariantViolation(
        'leader-completeness',
        `${nodeId} leads term ${term} with last index ${log.lastIndex()}, but ${requiredIndexMax} was committed in term ${this.commitTerms[requiredIndexMax]}`,
      );
    }
    for (let index = Math.max(1, log.firstIndex() - 1); index <= requiredIndexMax; index++) {
      const committed = this.committed[index];
      if (committed === undefined || (this.commitTerms[index] ?? Infinity) >= term) continue;
      const held = log.term(index);
      if (held !== committed.term) {
        throw new InvariantViolation(
          'leader-completeness',
          `${nodeId} leads term ${term} holding ${index}/${held}, but ${index}/${committed.term} ` +
            `was committed in term ${this.commitTerms[index]} (applied by ${committed.firstNode})`,
        );
      }
    }
  }
}
