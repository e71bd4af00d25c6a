/**
 * Joining, removal and `--bootstrap-expect` discovery. Joins travel over the peer
 * transport to a Raft address (as rqlite's `-join`); a follower forwards to the leader;
 * the leader adds the node as a learner, waits until it has caught up, then promotes it
 * (voters) — one membership change at a time, serialised here. Re-joining with the same
 * id and address is a no-op.
 */
import { ServiceError } from '../service/service.js';
import { RaftError } from '../raft/errors.js';
import type { ConfChange, NodeId, RaftStatus } from '../raft/types.js';
import type { NodeConfig } from './config.js';
import type { NodeCounters } from './counters.js';
import type { NodeLogger } from './logger.js';
import { readMemberRecord } from './members.js';
import { callPeer, handleEnvelope, peerMethods, type PeerTransport } from './peer-calls.js';
import type { MemberAddresses } from './ports.js';
import type { ReplicatedLog } from './replicated-log.js';
import { sleep, type Scheduler } from './scheduler.js';

interface JoinRequest {
  readonly id: NodeId;
  readonly raftAddress: string;
  readonly apiAddress: string;
  readonly voter: boolean;
}

interface NotifyAnswer {
  readonly id: NodeId;
  readonly addresses: MemberAddresses;
  /** Every node this node has seen (itself included). */
  readonly seen: Readonly<Record<NodeId, MemberAddresses>>;
  /** Set once this node belongs to a cluster: its voters and their addresses. */
  readonly cluster: { readonly voters: readonly NodeId[]; readonly members: Readonly<Record<NodeId, MemberAddresses>> } | null;
}

export const joinFieldLengthMax = 256;
/** Nodes remembered by --bootstrap-expect discovery; notifications beyond are refused. */
export const discoveredNodeCountMax = 64;
/** Conf-change retries while another change is pending (each waits a heartbeat). */
const confChangeAttemptCountMax = 100;

/**
 * What joins, removal and discovery need of the runtime beyond the replicated log's
 * facts: the embedded Raft's membership operations (learners, catch-up progress,
 * bootstrap). NodeRuntime provides it.
 */
interface MembershipRuntime extends Pick<ReplicatedLog, 'started' | 'stopped' | 'isLeader' | 'leaderId' | 'confState' | 'isMember' | 'members'> {
  bootstrap(members: ReadonlyMap<NodeId, MemberAddresses>): Promise<void>;
  learnMembers(members: Readonly<Record<NodeId, MemberAddresses>>): void;
  memberContext(addresses: MemberAddresses): Uint8Array;
  proposeConfChange(change: ConfChange, timeoutMs: number): Promise<number>;
  forgetFollowerLog(id: NodeId): void;
  /** The core's view: the leader's per-follower progress and commit index. */
  coreStatus(): Pick<RaftStatus, 'role' | 'commit' | 'progress'> | undefined;
  /** rqlite's expvar counters (joins counted here). */
  readonly counters: NodeCounters;
}

interface MembershipDependencies {
  readonly config: NodeConfig;
  readonly runtime: MembershipRuntime;
  /** Join, notify and members calls between nodes. */
  readonly peers: PeerTransport;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
}

function parseJoinRequest(payload: unknown): JoinRequest {
  const record = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const { id, raftAddress, apiAddress, voter } = record;
  for (const [name, value] of [
    ['id', id],
    ['raftAddress', raftAddress],
    ['apiAddress', apiAddress],
  ] as const) {
    if (typeof value !== 'string' || value.length === 0 || value.length > joinFieldLengthMax) {
      throw new ServiceError('BAD_REQUEST', `join: ${name} must be a string of 1-${joinFieldLengthMax} characters`);
    }
  }
  if (typeof voter !== 'boolean') throw new ServiceError('BAD_REQUEST', 'join: voter must be a boolean');
  return { id: id as string, raftAddress: raftAddress as string, apiAddress: apiAddress as string, voter };
}

export class Membership {
  readonly #config: NodeConfig;
  readonly #runtime: MembershipRuntime;
  readonly #peers: PeerTransport;
  readonly #scheduler: Scheduler;
  readonly #logger: NodeLogger;
  /** Membership changes run one at a time on the leader. */
  #changeChain: Promise<unknown> = Promise.resolve();
  readonly #seen = new Map<NodeId, MemberAddresses>();

  constructor(dependencies: MembershipDependencies) {
    this.#config = dependencies.config;
    this.#runtime = dependencies.runtime;
    this.#peers = dependencies.peers;
    this.#scheduler = dependencies.scheduler;
    this.#logger = dependencies.logger;
    this.#seen.set(this.#config.nodeId, this.#selfAddresses());
  }

  #selfAddresses(): MemberAddresses {
    return { raftAddress: this.#config.raftAdvertisedAddress, apiAddress: this.#config.apiAdvertisedAddress };
  }

  registerPeerHandlers(): void {
    const transport = this.#peers;
    const counters = this.#runtime.counters;
    handleEnvelope(transport, peerMethods.join, (payload, signal) => {
      counters.add('cluster', 'num_join_req');
      return this.#handleJoin(parseJoinRequest(payload), signal);
    });
    handleEnvelope(transport, peerMethods.notify, (payload) => {
      counters.add('cluster', 'num_notify_req');
      return Promise.resolve(this.#handleNotify(payload));
    });
    handleEnvelope(transport, peerMethods.members, () => Promise.resolve(this.#runtime.members.toRecord()));
  }

  // ---------------------------------------------------------------------------
  // The leader's side of a join
  // ---------------------------------------------------------------------------

  async #handleJoin(request: JoinRequest, signal: AbortSignal): Promise<{ leaderId: NodeId }> {
    if (!this.#runtime.isLeader) {
      const leaderId = this.#runtime.leaderId;
      if (leaderId === '' || leaderId === this.#config.nodeId) throw new ServiceError('NO_LEADER', 'leader not found');
      this.#logger.info({ event: 'join-forward', node: request.id, leader: leaderId }, 'forwarding join to the leader');
      return (await callPeer(this.#peers, { id: leaderId }, peerMethods.join, request, {
        timeoutMs: this.#joinCallTimeoutMs(),
        signal,
      })) as { leaderId: NodeId };
    }
    await this.#serialised(() => this.#admit(request));
    return { leaderId: this.#config.nodeId };
  }

  #serialised<Value>(change: () => Promise<Value>): Promise<Value> {
    const next = this.#changeChain.then(change, change);
    this.#changeChain = next.catch(() => undefined);
    return next;
  }

  async #admit(request: JoinRequest): Promise<void> {
    const runtime = this.#runtime;
    const known = runtime.members.get(request.id);
    const confState = runtime.confState();
    const isVoter = confState.voters.includes(request.id);
    const isLearner = confState.learners.includes(request.id);
    if ((isVoter || isLearner) && known?.raftAddress === request.raftAddress) {
      // Only a node without state asks to join (one with state rejoins by itself), so a
      // member asking again has lost its log: replicate to it from scratch, or the
      // leader would take its rejections for stale ones and wait forever.
      runtime.forgetFollowerLog(request.id);
      if (isLearner && request.voter) await this.#promote(request);
      else this.#logger.info({ event: 'join-noop', node: request.id }, 'node is already a member with this address');
      runtime.counters.add('store', 'num_ignored_joins');
      return;
    }
    if (isVoter || isLearner) {
      await this.#change({ type: 'remove-node', nodeId: request.id, context: new Uint8Array(0) });
      runtime.counters.add('store', 'num_removed_before_joins');
    }
    const previous = runtime.members.findByRaftAddress(request.raftAddress);
    if (previous !== undefined && previous !== request.id && runtime.isMember(previous)) {
      this.#logger.info({ event: 'join-replace', old: previous, node: request.id }, 'removing the old member at this address');
      await this.#change({ type: 'remove-node', nodeId: previous, context: new Uint8Array(0) });
      runtime.counters.add('store', 'num_removed_before_joins');
    }
    const context = runtime.memberContext({ raftAddress: request.raftAddress, apiAddress: request.apiAddress });
    await this.#change({ type: 'add-learner', nodeId: request.id, context });
    runtime.counters.add('store', 'num_joins');
    this.#logger.info({ event: 'join', node: request.id, address: request.raftAddress, voter: request.voter }, 'node joined as a learner');
    if (request.voter) await this.#promote(request);
  }

  /** Waits until the learner replicates and is within promotionLagEntriesMax of the commit index, then makes it a voter. */
  async #promote(request: JoinRequest): Promise<void> {
    const config = this.#config;
    const deadlineMs = this.#scheduler.nowMs() + config.promotionTimeoutMs;
    for (;;) {
      const status = this.#runtime.coreStatus();
      if (status === undefined || status.role !== 'leader') throw new ServiceError('UNAVAILABLE', 'leadership lost during join');
      // 'replicate': the leader found where the learner's log matches and streams to it.
      const progress = status.progress[request.id];
      if (progress?.state === 'replicate' && progress.match + config.promotionLagEntriesMax >= status.commit) break;
      if (this.#scheduler.nowMs() > deadlineMs) {
        throw new ServiceError('TIMEOUT', `node ${request.id} did not catch up within ${config.promotionTimeoutMs}ms`);
      }
      await sleep(this.#scheduler, config.heartbeatMs);
    }
    const context = this.#runtime.memberContext({ raftAddress: request.raftAddress, apiAddress: request.apiAddress });
    await this.#change({ type: 'add-voter', nodeId: request.id, context });
    this.#logger.info({ event: 'promote', node: request.id }, 'learner promoted to voter');
  }

  /** Proposes one change; retries (bounded) while another change is still pending. */
  async #change(change: ConfChange): Promise<void> {
    const timeoutMs = this.#config.requestTimeoutMs;
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.#runtime.proposeConfChange(change, timeoutMs);
        return;
      } catch (error) {
        const pending = error instanceof ServiceError && error.cause instanceof RaftError && error.cause.code === 'CONF_CHANGE_PENDING';
        if (!pending || attempt >= confChangeAttemptCountMax) throw error;
        await sleep(this.#scheduler, this.#config.heartbeatMs);
      }
    }
  }

  /** Removes a member (leader only). */
  removeMember(id: NodeId): Promise<void> {
    return this.#serialised(async () => {
      await this.#change({ type: 'remove-node', nodeId: id, context: new Uint8Array(0) });
      this.#logger.info({ event: 'remove', node: id }, 'node removed');
    });
  }

  // ---------------------------------------------------------------------------
  // The joiner's side
  // ---------------------------------------------------------------------------

  #joinCallTimeoutMs(): number {
    return this.#config.promotionTimeoutMs + this.#config.requestTimeoutMs;
  }

  /** Calls `join` on each address in turn until one answers (bounded in attempts). */
  async joinCluster(addresses: readonly string[]): Promise<void> {
    const config = this.#config;
    const targets = addresses.filter((address) => address !== config.raftAdvertisedAddress);
    if (targets.length === 0) throw new ServiceError('BAD_REQUEST', '--join lists only this node itself');
    const request: JoinRequest = { id: config.nodeId, ...this.#selfAddresses(), voter: !config.nonVoter };
    let lastError: unknown;
    for (let attempt = 0; attempt < config.joinAttemptCountMax && !this.#runtime.stopped; attempt += 1) {
      const address = targets[attempt % targets.length] ?? '';
      try {
        // Learn the members' addresses first: the leader's appends must be answerable at once.
        const members = await callPeer(
          this.#peers,
          { address },
          peerMethods.members,
          {},
          {
            timeoutMs: config.requestTimeoutMs,
          },
        );
        this.#runtime.learnMembers(readMemberRecord(members));
        const answer = (await callPeer(this.#peers, { address }, peerMethods.join, request, {
          timeoutMs: this.#joinCallTimeoutMs(),
        })) as { leaderId: NodeId };
        this.#logger.info({ event: 'joined', via: address, leader: answer.leaderId }, 'joined the cluster');
        return;
      } catch (error) {
        lastError = error;
        this.#logger.warn({ event: 'join-retry', via: address, attempt: attempt + 1, error: String(error) }, 'join attempt failed');
        await sleep(this.#scheduler, config.joinRetryIntervalMs);
      }
    }
    const message = `could not join through ${targets.join(', ')} after ${config.joinAttemptCountMax} attempts: ${String(lastError)}`;
    throw new ServiceError('UNAVAILABLE', message, { cause: lastError });
  }

  // ---------------------------------------------------------------------------
  // --bootstrap-expect
  // ---------------------------------------------------------------------------

  #handleNotify(payload: unknown): NotifyAnswer {
    const request = parseJoinRequest({ ...(payload as object), voter: true });
    if (!this.#seen.has(request.id) && this.#seen.size >= discoveredNodeCountMax) {
      throw new ServiceError('UNAVAILABLE', `already discovered ${discoveredNodeCountMax} nodes`);
    }
    if (!this.#seen.has(request.id)) {
      this.#logger.info({ event: 'discovered', node: request.id, address: request.raftAddress }, 'discovered a peer');
    }
    this.#seen.set(request.id, { raftAddress: request.raftAddress, apiAddress: request.apiAddress });
    const runtime = this.#runtime;
    const cluster = runtime.started ? { voters: [...runtime.confState().voters], members: runtime.members.toRecord() } : null;
    return { id: this.#config.nodeId, addresses: this.#selfAddresses(), seen: Object.fromEntries(this.#seen), cluster };
  }

  /**
   * Finds the peers named by --join until `expect` nodes (this one included) have seen
   * each other, then bootstraps all of them with the same membership, as etcd's initial
   * cluster does. Returns 'join' when a peer already runs a cluster this node is not in.
   */
  async discover(addresses: readonly string[], expect: number): Promise<'bootstrapped' | 'join'> {
    const config = this.#config;
    const targets = addresses.filter((address) => address !== config.raftAdvertisedAddress);
    const deadlineMs = this.#scheduler.nowMs() + config.bootstrapExpectTimeoutMs;
    const self = { id: config.nodeId, ...this.#selfAddresses() };
    while (this.#scheduler.nowMs() < deadlineMs && !this.#runtime.stopped) {
      for (const address of targets) {
        const answer = await this.#notify(address, self);
        if (answer?.cluster == null) continue;
        if (!answer.cluster.voters.includes(config.nodeId)) return 'join';
        await this.#runtime.bootstrap(new Map(Object.entries(answer.cluster.members)));
        return 'bootstrapped';
      }
      if (this.#seen.size >= expect) {
        this.#logger.info({ event: 'bootstrap-expect', nodes: [...this.#seen.keys()] }, `all ${expect} nodes found`);
        await this.#runtime.bootstrap(this.#seen);
        return 'bootstrapped';
      }
      await sleep(this.#scheduler, config.joinRetryIntervalMs);
    }
    const found = `found only ${this.#seen.size} node(s) within ${config.bootstrapExpectTimeoutMs}ms`;
    throw new ServiceError('TIMEOUT', `--bootstrap-expect ${expect}: ${found}`);
  }

  async #notify(address: string, self: { id: NodeId } & MemberAddresses): Promise<NotifyAnswer | undefined> {
    try {
      const answer = (await callPeer(this.#peers, { address }, peerMethods.notify, self, {
        timeoutMs: this.#config.joinRetryIntervalMs * 4,
      })) as NotifyAnswer;
      for (const [id, addresses] of Object.entries(answer.seen)) {
        if (this.#seen.size < discoveredNodeCountMax || this.#seen.has(id)) this.#seen.set(id, addresses);
      }
      return answer;
    } catch (error) {
      this.#logger.debug({ event: 'notify-failed', address, error: String(error) }, 'peer not reachable yet');
      return undefined;
    }
  }

  /** Lowest id among the bootstrap voters: it campaigns at once instead of waiting a timeout. */
  static shouldCampaignFirst(selfId: NodeId, voters: readonly NodeId[]): boolean {
    return [...voters].sort()[0] === selfId;
  }
}
