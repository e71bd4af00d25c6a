/**
 * Leadership as the runtime sees it: who leads (from each Ready's soft state), how long
 * since this node heard from them, who wants to know when that changes, and handing
 * leadership over (on request, before a graceful shutdown, and when halted) to the
 * successor the core names: one policy, the core's (RawNode.successor()), for every hand-over.
 */
import { ServiceError } from '../service/service.js';
import type { NodeId, RaftRole } from '../raft/types.js';
import { HaltHandOverPacing } from './halt.js';
import { leaderChangeWithin, type LeaderSource } from './leader-wait.js';
import type { MemberDirectory } from './member-directory.js';
import type { RuntimeState } from './runtime-state.js';

export class Leadership implements LeaderSource {
  readonly #state: RuntimeState;
  readonly #directory: MemberDirectory;
  readonly #listeners = new Set<() => void>();
  readonly #haltHandOvers = new HaltHandOverPacing();

  constructor(state: RuntimeState, directory: MemberDirectory) {
    this.#state = state;
    this.#directory = directory;
    state.onHalt((attempt) => this.#handOverWhileHalted(attempt));
  }

  /** Who leads, as the last Ready's soft state said ('' for no one). */
  get leaderId(): NodeId {
    return this.#state.leaderId;
  }

  get isLeader(): boolean {
    const state = this.#state;
    return state.role === 'leader' && state.core !== undefined && !state.stopped;
  }

  /** Milliseconds since this node last heard from a leader (0 on the leader itself). */
  leaderContactAgeMs(): number {
    if (this.isLeader) return 0;
    if (this.#state.lastLeaderContactMs === 0) return Number.POSITIVE_INFINITY;
    return this.#state.scheduler.nowMs() - this.#state.lastLeaderContactMs;
  }

  /** The Ready loop: a Ready carried a new soft state. Waiting writes and reads fail at once if this node stopped leading. */
  onSoftState(leaderId: NodeId, role: RaftRole): void {
    const state = this.#state;
    const wasLeader = state.role === 'leader';
    const leaderChanged = leaderId !== state.leaderId;
    state.role = role;
    state.leaderId = leaderId;
    if (leaderChanged) {
      state.metrics.leaderChangeCount++;
      state.logger.info({ event: 'leader-changed', leader: leaderId, role, term: state.core?.status().term }, 'leader changed');
      if (leaderId !== '' && leaderId !== state.config.nodeId) state.lastLeaderContactMs = state.scheduler.nowMs();
    }
    if (wasLeader && role !== 'leader') {
      state.logger.info({ event: 'stepped-down', leader: leaderId }, 'this node is no longer the leader');
      state.proposals.failAll(new ServiceError('UNAVAILABLE', 'leadership lost while committing the write'));
      state.reads.failAll(state.notLeaderError('leadership lost before the read was confirmed'));
    }
    if (role === 'leader' && !wasLeader) {
      // rqlite: a new leader restarts every follower's reap clock.
      state.leaderSinceMs = state.scheduler.monotonicMs();
      state.logger.info({ event: 'elected', term: state.core?.status().term }, 'this node is the leader');
    }
    for (const listener of this.#listeners) listener();
  }

  /** Calls `listener` after every change of leader or role; returns the function that unregisters it. */
  subscribeLeaderChanges(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  /**
   * Leader only: milliseconds since `id` last answered, counted at the earliest from when
   * this node became leader. 0 on a non-leader: it has no such contact to judge by.
   */
  peerSilenceMs(id: NodeId): number {
    if (!this.isLeader) return 0;
    const state = this.#state;
    return state.scheduler.monotonicMs() - Math.max(state.peerContactMs.get(id) ?? 0, state.leaderSinceMs);
  }

  /** Resolves once `accept(leaderId)` holds; rejects with TIMEOUT after timeoutMs. */
  waitForLeaderChange(timeoutMs: number, accept: (leaderId: NodeId) => boolean): Promise<void> {
    return leaderChangeWithin(this, this.#state.scheduler, timeoutMs, accept);
  }

  /** Leader only: the voter to hand leadership to, by the core's policy (recently heard from, then most caught up). */
  successor(): NodeId | undefined {
    return this.#state.core?.successor();
  }

  transferLeadership(to: NodeId): void {
    this.#state.drive((core) => core.transferLeadership(to));
  }

  /** Before a graceful stop: a leader hands leadership to its successor and waits (bounded) so clients see no election timeout. */
  async handOver(): Promise<void> {
    const state = this.#state;
    const core = state.core;
    if (core === undefined || state.role !== 'leader') return;
    const target = this.successor();
    if (target === undefined) return;
    state.logger.info({ event: 'leadership-transfer', to: target, reason: 'shutdown' }, 'handing over leadership before exit');
    try {
      core.transferLeadership(target);
      state.wake();
      await this.waitForLeaderChange(state.config.shutdownTransferTimeoutMs, (leaderId) => leaderId !== state.config.nodeId);
    } catch (error) {
      state.logger.warn({ event: 'leadership-transfer-failed', error: String(error) }, 'leadership transfer on shutdown failed');
    }
  }

  /**
   * Design decision 2 keeps a halted node where it is, retrying; a halted leader also
   * keeps its followers from electing anyone (its heartbeats go on) while it can commit
   * nothing it can apply and answer. So once the same step has failed twice, it hands
   * leadership to its successor, which commits and applies what it could not; it goes on
   * retrying as a follower. Paced by HaltHandOverPacing (halt.ts).
   */
  #handOverWhileHalted(attempt: number): void {
    const state = this.#state;
    if (!this.isLeader) return;
    const target = this.successor();
    if (target === undefined || !this.#haltHandOvers.due(attempt, state.scheduler.monotonicMs())) return;
    state.logger.warn({ event: 'leadership-transfer', to: target, reason: 'halted' }, 'halted: handing leadership over');
    try {
      this.transferLeadership(target);
    } catch (error) {
      // The halt is what matters here; a refused transfer (one already running, say) is only reported.
      state.logger.warn({ event: 'leadership-transfer-failed', error: String(error) }, 'leadership transfer while halted failed');
    }
  }

  /**
   * The leader's connection to this follower closed: it most likely exited or crashed (the
   * kernel closes a killed process's sockets at once). Rather than wait out a whole election
   * timeout of silence, move the election clock to where the leader's lease ends: the
   * randomised rest of the timeout still spreads the candidates. A leader that is alive
   * loses nothing: with pre-vote and check-quorum the other voters still in its lease refuse
   * this node, and its next heartbeat restarts the clock.
   */
  onPeerDisconnected(id: NodeId): void {
    const state = this.#state;
    const core = state.core;
    if (core === undefined || state.stopped || id !== state.leaderId || state.role === 'leader' || !this.#directory.isVoter()) return;
    const ticks = Math.max(0, state.tickPlan.electionTicks - state.ticksSinceLeaderContact);
    state.logger.info({ event: 'leader-disconnected', leader: id, ticks }, 'the leader closed its connection: election clock moved to its lease end');
    for (let tick = 0; tick < ticks; tick += 1) core.tick();
    state.ticksSinceLeaderContact += ticks;
    state.wake();
  }
}
