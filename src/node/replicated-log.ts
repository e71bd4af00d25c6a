/**
 * The replicated log: what the layers above consensus (the cluster service, /status, the
 * read paths) need from it, and nothing about how it is reached. `NodeRuntime` implements
 * it over the embedded Raft core; a second implementation (a log kept in etcd, say) can
 * sit behind the same interface without the layers above changing.
 *
 * The contract. Like hashicorp/raft's FSM contract, every implementation keeps it:
 *
 * - Apply. The log hands every committed command to the state machine it was built with,
 *   in log order, exactly once per index on this node, and never a command that is not
 *   committed. The state machine's apply must be deterministic: the same commands in the
 *   same order produce the same state and the same results on every node (a command
 *   carries its own timestamp and random seed for that). `appliedIndex` never goes back; a
 *   snapshot restore only moves it forward.
 * - Propose. `propose(command)` resolves once the command's entry applied on this node,
 *   with the state machine's results and the entry's index. It rejects when this node
 *   cannot take the command (NOT_LEADER with the leader's address, NO_LEADER, HALTED, or
 *   UNAVAILABLE for a full queue or a stop). A rejection after the command went into the
 *   log (leadership lost, another leader's entry at its index: UNAVAILABLE; TIMEOUT)
 *   leaves its outcome unknown: a client retries with an idempotency key.
 * - Read barrier. When `readBarrier()` resolves, every command committed before it was
 *   called has been applied here, so a local read that follows is linearizable
 *   (ReadIndex). Any node answers it: a follower or learner asks its leader for the read
 *   index; it rejects (UNAVAILABLE) when that leader's term ends here before answering,
 *   and with TIMEOUT when no answer comes.
 * - Halt. An environmental failure (disk full, I/O error) while persisting or applying
 *   stops the log at that step, which it retries until it succeeds: nothing is skipped.
 *   Meanwhile requests that need this node to apply reject at once with HALTED, and
 *   `haltError` says why. Requests already waiting keep waiting (up to their timeout).
 * - Facts (leader, role, members, position) are this node's current view; they may lag
 *   the cluster's. Listeners given to `subscribeLeaderChanges` run after every change of
 *   leader or role, synchronously, and must not throw.
 * - Every error a caller sees is a `ServiceError` (src/service/service.ts).
 */
import type { ConfState, NodeId, RaftRole } from '../raft/types.js';
import { ServiceError } from '../service/service.js';
import type { StatementResult } from '../state-machine/types.js';
import type { MemberAddressBook } from './members.js';

/** A proposed command once applied here: the state machine's results and the entry's index. */
export interface ApplyOutcome {
  readonly results: readonly StatementResult[];
  readonly index: number;
}

/** Where the log stands on this node (zeros before it starts, apart from what is stored). */
export interface LogPosition {
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  /** The first index still in the log (compaction drops what a snapshot covers). */
  readonly firstIndex: number;
  readonly lastIndex: number;
  /** The newest snapshot this node took or installed. */
  readonly lastSnapshotIndex: number;
  /** The newest snapshot in the store, if any. */
  readonly latestSnapshot: { readonly index: number; readonly term: number } | undefined;
}

type LogRole = RaftRole | 'learner';

export interface ReadBarrierCounts {
  readonly readCount: number;
  readonly roundCount: number;
}

export interface ReplicatedLog {
  // Proposing and applying.
  propose(command: Uint8Array, timeoutMs: number): Promise<ApplyOutcome>;
  readonly appliedIndex: number;
  /** Resolves once `appliedIndex >= index`; TIMEOUT after `timeoutMs`; HALTED at once while halted and behind. */
  waitForApplied(index: number, timeoutMs: number): Promise<void>;
  /** Resolves with the read index: every command committed at or below it has been applied here. */
  readBarrier(timeoutMs: number): Promise<number>;
  /** Read barriers this node took, and the ReadIndex rounds it started for them (rounds serve many reads). */
  readBarrierCounts(): ReadBarrierCounts;

  // Leadership.
  /** '' while no leader is known. */
  readonly leaderId: NodeId;
  readonly isLeader: boolean;
  readonly role: LogRole;
  /** Milliseconds since this node last heard from a leader (0 on the leader, Infinity if never). */
  leaderContactAgeMs(): number;
  /**
   * Where contact is not kept current by the leader's own heartbeats (etcd mode: a read of
   * the leader key), asks for it now, or joins the ask in flight; never rejects. A read's
   * `freshness` and readiness call it when the last contact is older than they accept.
   */
  refreshLeaderContact?(): Promise<void>;
  /** Calls `listener` after every change of leader or role; returns the function that unregisters it. */
  subscribeLeaderChanges(listener: () => void): () => void;
  /** Resolves once `accept(leaderId)` holds; TIMEOUT after `timeoutMs`. */
  waitForLeaderChange(timeoutMs: number, accept: (leaderId: NodeId) => boolean): Promise<void>;
  /** Leader only: the voter leadership should go to (one policy for every hand-over), if any. */
  mostCaughtUpVoter(): NodeId | undefined;
  /** Leader only: hands leadership to `to` once it is caught up. */
  transferLeadership(to: NodeId): void;

  // Membership.
  confState(): ConfState;
  isVoter(id?: NodeId): boolean;
  isMember(id: NodeId): boolean;
  /** Every member's Raft and API addresses. */
  readonly members: MemberAddressBook;

  // Position and health.
  position(): LogPosition;
  readonly started: boolean;
  readonly stopped: boolean;
  /** Why the log halted (see the contract), while it is halted. */
  readonly haltError: Error | undefined;
  /** False while the log's store reports its last write failed. */
  readonly logStoreHealthy: boolean;
}

/** The refusal of a request that needs a halted node to apply (the contract's Halt). */
export function haltedError(halt: Error): ServiceError {
  return new ServiceError('HALTED', `node halted: ${halt.message} (it retries the same step and resumes once the disk or database accepts it)`, {
    cause: halt,
  });
}
