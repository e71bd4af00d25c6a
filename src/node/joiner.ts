/**
 * The joining node's side of `--join`. A --join address names a member either by its
 * Raft address (`host:port`, as rqlited 8 takes) or by its HTTP API (`http://host:port`
 * or `https://…`, as rqlited 7 took). The join itself always travels over the peer
 * transport: an HTTP address is first turned into that member's Raft address by asking
 * its API (`resolveHttpAddress`, wired by the server to `GET /status`, `store.addr`).
 * There is deliberately no join endpoint on the HTTP API: the peer join already forwards
 * to the leader, adds a learner, waits for it to catch up and promotes it, whichever
 * member it reaches.
 *
 * Attempts run in rounds as rqlited's: each round tries every address once, in order; a
 * round that fails everywhere waits `joinIntervalMs` before the next, at most
 * `joinAttemptCountMax` rounds. The addresses are a fixed --join list, or a source asked
 * again each round (discovery: the leader etcd names now, what DNS resolves now). Every
 * failure (no answer, no leader yet, a timeout) is retried the same way, but one: a leader
 * that refuses this node's settings (apply-settings.ts) ends the join at once, as no retry
 * changes them. A malformed address never gets here (the CLI refuses it).
 *
 * The cluster decides a join, not the answer to it (FINDINGS.md J2): the answer can be
 * lost (a partition, a call that times out while the leader waits for this node to catch
 * up) after the leader added this node. A node without state therefore also watches its
 * own log: once its configuration makes it what it asked to be, it has joined, answer or
 * not; and once any leader replicates to it (it has entries), the cluster counts it as a
 * member, so spent rounds end in a warning and a running node, never in an exit that
 * would leave a dead voter behind.
 */
import type { Credentials } from '../service/access-control.js';
import { ServiceError } from '../service/service.js';
import type { ConfState, NodeId } from '../raft/types.js';
import type { ApplySettings } from './apply-settings.js';
import type { NodeConfig } from './config.js';
import type { NodeLogger } from './logger.js';
import { readMemberRecord } from './members.js';
import { callPeer, peerMethods, type PeerTransport } from './peer-calls.js';
import type { MemberAddresses } from './ports.js';
import type { Scheduler } from './scheduler.js';

/** What a node sends to join (or rejoin) a cluster. */
export interface JoinRequest {
  readonly id: NodeId;
  readonly raftAddress: string;
  readonly apiAddress: string;
  readonly voter: boolean;
  /**
   * Whether the joining node has a log already (it is restarting, maybe on new addresses).
   * A node without one that is a member already lost its log, and the leader must
   * replicate to it from scratch. Absent from a node that predates the field: false.
   */
  readonly hasState: boolean;
  /** What the leader checks before it changes anything (apply-settings.ts). Absent from a node that predates the field. */
  readonly settings?: ApplySettings;
}

/**
 * Turns an HTTP --join address into that member's Raft address, by asking its API. Bounds
 * its own wait (it is real HTTP, outside the node's scheduler); `signal` cancels it early.
 */
export type HttpAddressResolver = (url: string, signal?: AbortSignal) => Promise<string>;

/**
 * Where to join through: a fixed --join list, or a source asked again before each round
 * (it bounds its own wait, and answers what it found, maybe nothing, rather than throw).
 */
export type JoinAddresses = readonly string[] | ((signal: AbortSignal) => Promise<readonly string[]>);

/** The addresses a JoinAddresses gives now. */
export function currentAddresses(addresses: JoinAddresses, signal: AbortSignal): Promise<readonly string[]> {
  return typeof addresses === 'function' ? addresses(signal) : Promise.resolve(addresses);
}

interface JoinerRuntime {
  readonly stopped: boolean;
  learnMembers(members: Readonly<Record<NodeId, MemberAddresses>>): void;
  /** This node's own configuration (from its log). */
  confState(): ConfState;
  position(): { readonly lastIndex: number };
}

interface JoinerDependencies {
  readonly config: NodeConfig;
  readonly runtime: JoinerRuntime;
  readonly peers: PeerTransport;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
  readonly resolveHttpAddress: HttpAddressResolver;
  /** The -join-as user's credentials, presented with each join (peer-access.ts); default none. */
  readonly joinCredentials?: () => Credentials | null;
  /** This node's SQLite version, -fk and extensions, sent with each join and notify (apply-settings.ts). */
  readonly applySettings: ApplySettings;
}

export function isHttpJoinAddress(address: string): boolean {
  return address.startsWith('http://') || address.startsWith('https://');
}

type JoinOutcome = { readonly joined: true } | { readonly joined: false; readonly lastError: unknown };
type RoundsOutcome = { readonly joined: true } | { readonly joined: false; readonly lastError: unknown; readonly targets: readonly string[] };

/** How often a node waiting for its join answer looks at its own log. */
const joinWatchIntervalMs = 100;

/** Resolves after `delayMs`, or at once when `signal` aborts. */
function pause(scheduler: Scheduler, delayMs: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      timer.cancel();
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = scheduler.setTimeout(done, delayMs);
    signal.addEventListener('abort', done, { once: true });
  });
}

export class Joiner {
  readonly #dependencies: JoinerDependencies;

  constructor(dependencies: JoinerDependencies) {
    this.#dependencies = dependencies;
  }

  /** The join call waits for the leader to add, catch up and promote this node. */
  joinCallTimeoutMs(): number {
    return this.#dependencies.config.promotionTimeoutMs + this.#dependencies.config.requestTimeoutMs;
  }

  /** The --join addresses that are not this node itself (by Raft or by HTTP address). */
  targets(addresses: readonly string[]): string[] {
    const { config } = this.#dependencies;
    const selves = new Set([config.raftAdvertisedAddress, `http://${config.apiAdvertisedAddress}`, `https://${config.apiAdvertisedAddress}`]);
    return addresses.filter((address) => !selves.has(address));
  }

  /**
   * Joins through the first address that answers, in rounds (see the file comment).
   * Rejects with UNAVAILABLE naming every address and the last failure once the rounds
   * are spent, or once `signal` aborts (the node is stopping).
   */
  async join(addresses: JoinAddresses, options: { hasState: boolean; signal: AbortSignal }): Promise<void> {
    const { config, logger } = this.#dependencies;
    if (typeof addresses !== 'function' && this.targets(addresses).length === 0) throw new ServiceError('BAD_REQUEST', '--join lists only this node itself');
    const request: JoinRequest = {
      id: config.nodeId,
      raftAddress: config.raftAdvertisedAddress,
      apiAddress: config.apiAdvertisedAddress,
      voter: !config.nonVoter,
      hasState: options.hasState,
      settings: this.#dependencies.applySettings,
    };
    const outcome = await this.#rounds(addresses, request, options.signal);
    if (outcome.joined) return;
    const lastError = outcome.lastError;
    if (!request.hasState && (await this.#replicatedTo(config.electionTimeoutMs, options.signal))) {
      // A leader replicates to this node, so the cluster has added it (maybe as a learner
      // whose promotion did not finish): exiting now would leave a member that never answers.
      logger.warn(
        { event: 'join-unanswered', error: String(lastError) },
        'join attempts spent without an answer, but a leader already replicates to this node: it stays up as the member the cluster made it',
      );
      return;
    }
    const attempts = `${config.joinAttemptCountMax} attempts`;
    const through = outcome.targets.length === 0 ? 'no address found' : `could not join through ${outcome.targets.join(', ')}`;
    throw new ServiceError('UNAVAILABLE', `failed to join cluster: ${through} after ${attempts}: ${String(lastError)}`, {
      cause: lastError,
    });
  }

  /** Every round of attempts; `joined` once one succeeds (or the log says so), else the last failure and addresses. */
  async #rounds(addresses: JoinAddresses, request: JoinRequest, signal: AbortSignal): Promise<RoundsOutcome> {
    const { config, logger } = this.#dependencies;
    let lastError: unknown = new Error('no address to join through');
    let targets: readonly string[] = [];
    for (let round = 1; round <= config.joinAttemptCountMax; round += 1) {
      this.#throwIfStopped(signal);
      targets = this.targets(await currentAddresses(addresses, signal));
      if (targets.length === 0) logger.warn({ event: 'join-retry', attempt: round, error: 'no address to join through' }, 'join attempt failed');
      const outcome = await this.#round(targets, request, signal, round);
      if (outcome.joined) return outcome;
      lastError = outcome.lastError ?? lastError;
      if (round < config.joinAttemptCountMax) await pause(this.#dependencies.scheduler, config.joinIntervalMs, signal);
    }
    return { joined: false, lastError, targets };
  }

  /** One round: every address once, in order. */
  async #round(targets: readonly string[], request: JoinRequest, signal: AbortSignal, round: number): Promise<JoinOutcome> {
    let lastError: unknown;
    for (const target of targets) {
      this.#throwIfStopped(signal);
      const outcome = await this.#attempt(target, request, signal);
      if (outcome.joined) return outcome;
      lastError = outcome.lastError;
      // The leader refused this node's settings: every other address leads to the same leader, and no retry changes them.
      if (lastError instanceof ServiceError && lastError.code === 'SETTINGS_MISMATCH') {
        throw new ServiceError('SETTINGS_MISMATCH', `failed to join cluster through ${target}: ${lastError.message}`, { cause: lastError });
      }
      this.#dependencies.logger.warn({ event: 'join-retry', via: target, attempt: round, error: String(lastError) }, 'join attempt failed');
    }
    return { joined: false, lastError };
  }

  #throwIfStopped(signal: AbortSignal): void {
    if (signal.aborted || this.#dependencies.runtime.stopped) throw new ServiceError('UNAVAILABLE', 'node stopped while joining');
  }

  async #attempt(target: string, request: JoinRequest, signal: AbortSignal): Promise<JoinOutcome> {
    if (this.#addedAsAsked(request)) return this.#joinedByLog(target);
    try {
      const leaderId = await this.#joinThrough(target, request, signal);
      this.#dependencies.logger.info({ event: 'joined', via: target, leader: leaderId }, 'joined the cluster');
      return { joined: true };
    } catch (error) {
      if (this.#addedAsAsked(request)) return this.#joinedByLog(target);
      return { joined: false, lastError: error };
    }
  }

  /** A node without state whose own log already makes it what it asked to be (a voter, or a learner for a non-voter). */
  #addedAsAsked(request: JoinRequest): boolean {
    if (request.hasState) return false;
    const { voters, learners } = this.#dependencies.runtime.confState();
    return voters.includes(request.id) || (!request.voter && learners.includes(request.id));
  }

  /**
   * Whether a leader has replicated entries to this node, waiting up to `waitMs` for it: a
   * leader that added this node contacts it within a heartbeat, and the election timeout
   * is at least two.
   */
  async #replicatedTo(waitMs: number, signal: AbortSignal): Promise<boolean> {
    const { runtime, scheduler } = this.#dependencies;
    const deadlineMs = scheduler.nowMs() + waitMs;
    for (;;) {
      if (runtime.position().lastIndex > 0) return true;
      if (signal.aborted || runtime.stopped || scheduler.nowMs() >= deadlineMs) return false;
      await pause(scheduler, joinWatchIntervalMs, signal);
    }
  }

  #joinedByLog(via: string): { readonly joined: true } {
    this.#dependencies.logger.info({ event: 'joined', via, leader: '', byLog: true }, 'joined the cluster (its log says so; the answer did not arrive)');
    return { joined: true };
  }

  /**
   * One attempt, cancelled early (a rejection the caller then reads as joined) once this
   * node's log shows it added as asked: a lost answer must not hold the node for the
   * whole call timeout.
   */
  async #joinThrough(target: string, request: JoinRequest, signal: AbortSignal): Promise<NodeId> {
    if (request.hasState) return this.#joinCall(target, request, signal);
    const call = new AbortController();
    const cancel = (): void => call.abort();
    signal.addEventListener('abort', cancel, { once: true });
    const watch = this.#dependencies.scheduler.setInterval(() => {
      if (this.#addedAsAsked(request)) call.abort();
    }, joinWatchIntervalMs);
    try {
      return await this.#joinCall(target, request, call.signal);
    } finally {
      watch.cancel();
      signal.removeEventListener('abort', cancel);
    }
  }

  /** One attempt through one --join address; resolves with the leader's id. */
  async #joinCall(target: string, request: JoinRequest, signal: AbortSignal): Promise<NodeId> {
    const { config, peers, runtime } = this.#dependencies;
    const address = isHttpJoinAddress(target) ? await this.#dependencies.resolveHttpAddress(target, signal) : target;
    if (address === config.raftAdvertisedAddress) throw new ServiceError('BAD_REQUEST', `${target} is this node itself`);
    if (!request.hasState) {
      // A node without state knows no member yet: learn their addresses first, so the
      // leader's appends are answerable at once. A node with state knows them from its log,
      // which a peer's address book (maybe behind) must not overwrite.
      const members = await callPeer(peers, { address }, peerMethods.members, {}, { timeoutMs: config.requestTimeoutMs, signal });
      runtime.learnMembers(readMemberRecord(members));
    }
    const payload = { ...request, credentials: this.#dependencies.joinCredentials?.() ?? null };
    const answer = (await callPeer(peers, { address }, peerMethods.join, payload, { timeoutMs: this.joinCallTimeoutMs(), signal })) as { leaderId: NodeId };
    return answer.leaderId;
  }
}
