/**
 * Reaping (rqlited -raft-reap-node-timeout, -raft-reap-read-only-node-timeout): the
 * leader removes a member it has not heard from for longer than its timeout, voters and
 * non-voters each with their own (0: never, the default, as rqlite).
 *
 * "Not heard from" is the leader's own Raft contact: a follower answers every append and
 * heartbeat, so the time since its last message (NodeRuntime.peerSilenceMs) is how long
 * the leader has been unable to reach it. As in rqlite, the clock restarts when a new
 * leader is elected, and a member added since gets its whole timeout from when this
 * leader first saw it in the configuration.
 *
 * rqlite reaps whatever crosses the timeout. Here a voter is reaped only when the voters
 * that would remain include a quorum the leader hears from now: such a removal commits at
 * once and leaves the cluster writable. One reap at a time (membership changes are
 * serialised anyway); each is logged, and a failed one is tried again at the next check.
 */
import type { NodeId } from '../raft/types.js';
import type { NodeConfig } from './config.js';
import type { NodeLogger } from './logger.js';
import type { ReplicatedLog } from './replicated-log.js';
import type { ScheduledTimer, Scheduler } from './scheduler.js';

/** Checks at most this often; a timeout shorter than two checks is checked at half of it. */
export const reapCheckIntervalMsMax = 1_000;

interface ReaperLog extends Pick<ReplicatedLog, 'isLeader' | 'confState' | 'stopped'> {
  peerSilenceMs(id: NodeId): number;
}

interface ReaperDependencies {
  readonly config: Pick<NodeConfig, 'nodeId' | 'heartbeatMs' | 'electionTimeoutMs' | 'reapNodeTimeoutMs' | 'reapReadOnlyNodeTimeoutMs'>;
  readonly log: ReaperLog;
  readonly removeMember: (id: NodeId) => Promise<void>;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
}

interface ReapCandidate {
  readonly id: NodeId;
  readonly voter: boolean;
  readonly silentMs: number;
}

export class Reaper {
  readonly #config: ReaperDependencies['config'];
  readonly #log: ReaperLog;
  readonly #removeMember: (id: NodeId) => Promise<void>;
  readonly #scheduler: Scheduler;
  readonly #logger: NodeLogger;
  /** While this node leads: when it first saw each member in the configuration (monotonic ms). */
  readonly #firstSeenMs = new Map<NodeId, number>();
  /** Voters whose reap waits for a quorum, logged once each. */
  readonly #deferred = new Set<NodeId>();
  #timer: ScheduledTimer | undefined;
  #reaping = false;

  constructor(dependencies: ReaperDependencies) {
    this.#config = dependencies.config;
    this.#log = dependencies.log;
    this.#removeMember = dependencies.removeMember;
    this.#scheduler = dependencies.scheduler;
    this.#logger = dependencies.logger;
  }

  get enabled(): boolean {
    return this.#config.reapNodeTimeoutMs > 0 || this.#config.reapReadOnlyNodeTimeoutMs > 0;
  }

  /** Starts the periodic check (nothing when both timeouts are 0). */
  start(): void {
    if (!this.enabled || this.#timer !== undefined) return;
    const timeouts = [this.#config.reapNodeTimeoutMs, this.#config.reapReadOnlyNodeTimeoutMs].filter((timeoutMs) => timeoutMs > 0);
    const intervalMs = Math.max(this.#config.heartbeatMs, Math.min(reapCheckIntervalMsMax, Math.min(...timeouts) / 2));
    this.#timer = this.#scheduler.setInterval(() => this.check(), intervalMs);
  }

  stop(): void {
    this.#timer?.cancel();
    this.#timer = undefined;
  }

  /** One check: reaps at most one member. Public for tests that drive time themselves. */
  check(): void {
    if (this.#log.stopped || !this.#log.isLeader) {
      this.#firstSeenMs.clear();
      this.#deferred.clear();
      return;
    }
    if (this.#reaping) return;
    const candidate = this.#candidate();
    if (candidate === undefined) return;
    this.#reaping = true;
    void this.#reap(candidate).finally(() => {
      this.#reaping = false;
    });
  }

  /** The member silent longest past its timeout, if any may be reaped now. */
  #candidate(): ReapCandidate | undefined {
    const { voters, learners } = this.#log.confState();
    const nowMs = this.#scheduler.monotonicMs();
    const members = new Set([...voters, ...learners]);
    for (const id of this.#firstSeenMs.keys()) if (!members.has(id)) this.#firstSeenMs.delete(id);
    let best: ReapCandidate | undefined;
    for (const id of members) {
      if (id === this.#config.nodeId) continue;
      const voter = voters.includes(id);
      const silentMs = this.#silentMs(id, nowMs);
      const timeoutMs = voter ? this.#config.reapNodeTimeoutMs : this.#config.reapReadOnlyNodeTimeoutMs;
      const due = timeoutMs > 0 && silentMs > timeoutMs && (!voter || this.#quorumRemainsWithout(id, voters));
      if (due && (best === undefined || silentMs > best.silentMs)) best = { id, voter, silentMs };
    }
    return best;
  }

  /** How long `id` has been silent, counted at the earliest from when this leader first saw it as a member. */
  #silentMs(id: NodeId, nowMs: number): number {
    const firstSeenMs = this.#firstSeenMs.get(id) ?? nowMs;
    this.#firstSeenMs.set(id, firstSeenMs);
    return Math.min(this.#log.peerSilenceMs(id), nowMs - firstSeenMs);
  }

  /** Whether the voters other than `id` include a majority (of themselves) that the leader hears from. */
  #quorumRemainsWithout(id: NodeId, voters: readonly NodeId[]): boolean {
    const remaining = voters.filter((voter) => voter !== id);
    const heard = remaining.filter((voter) => voter === this.#config.nodeId || this.#log.peerSilenceMs(voter) <= this.#config.electionTimeoutMs);
    const enough = remaining.length > 0 && heard.length >= Math.floor(remaining.length / 2) + 1;
    if (!enough && !this.#deferred.has(id)) {
      this.#deferred.add(id);
      this.#logger.warn(
        { event: 'reap-deferred', node: id, voters: remaining.length, heard: heard.length },
        'not reaping a voter: the voters left would not include a quorum this leader hears from',
      );
    }
    if (enough) this.#deferred.delete(id);
    return enough;
  }

  async #reap(candidate: ReapCandidate): Promise<void> {
    const kind = candidate.voter ? 'voting node' : 'read-only node';
    const fields = { node: candidate.id, voter: candidate.voter, silentMs: Math.round(candidate.silentMs) };
    this.#logger.warn({ event: 'reap', ...fields }, `reaping ${kind} ${candidate.id}: not heard from for ${fields.silentMs}ms`);
    try {
      await this.#removeMember(candidate.id);
      this.#logger.warn({ event: 'reaped', ...fields }, `reaped ${kind} ${candidate.id}`);
    } catch (error) {
      this.#logger.error({ event: 'reap-failed', ...fields, error: String(error) }, `failed to reap ${kind} ${candidate.id}; will retry`);
    }
  }
}
