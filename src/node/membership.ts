/**
 * Joining, removal and `--bootstrap-expect` discovery. Joins travel over the peer
 * transport (joiner.ts is the joining node's side); a follower forwards to the leader;
 * the leader adds the node as a learner, waits until it has caught up, then promotes it
 * (voters) — one membership change at a time, serialised here. Joins are idempotent:
 * joining again with the same id and addresses is a no-op, and a member that comes back
 * with its state on new addresses keeps its place and identity, its new addresses
 * re-stated through the log (a conf change in its own role), so every node's address
 * book follows.
 */
import type { AccessControl, Credentials } from '../service/access-control.js';
import { ServiceError } from '../service/service.js';
import { RaftError } from '../raft/errors.js';
import type { ConfChange, NodeId, ProgressStatus, RaftStatus } from '../raft/types.js';
import { checkApplySettings, parseApplySettings, type ApplySettings } from './apply-settings.js';
import type { NodeConfig } from './config.js';
import type { NodeCounters } from './counters.js';
import { currentAddresses, isHttpJoinAddress, Joiner, type HttpAddressResolver, type JoinAddresses, type JoinRequest } from './joiner.js';
import type { NodeLogger } from './logger.js';
import { authorizeJoin, joinPermission } from './peer-access.js';
import { callPeer, handleEnvelope, peerMethods, type PeerTransport } from './peer-calls.js';
import type { MemberAddresses } from './ports.js';
import type { ReplicatedLog } from './replicated-log.js';
import { sleep, type Scheduler } from './scheduler.js';

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
/** How long a leader tries to tell a removed node that it was removed. */
const removedNoticeTimeoutMs = 2_000;
/** Conf-change retries while another change is pending (each waits a heartbeat). */
const confChangeAttemptCountMax = 100;

/**
 * What joins, removal and discovery need of the runtime beyond the replicated log's
 * facts: the embedded Raft's membership operations (learners, catch-up progress,
 * bootstrap). NodeRuntime provides it.
 */
interface MembershipRuntime extends Pick<ReplicatedLog, 'started' | 'stopped' | 'isLeader' | 'leaderId' | 'confState' | 'isMember' | 'members' | 'position'> {
  bootstrap(members: ReadonlyMap<NodeId, MemberAddresses>): Promise<void>;
  learnMembers(members: Readonly<Record<NodeId, MemberAddresses>>): void;
  memberContext(addresses: MemberAddresses): Uint8Array;
  proposeConfChange(change: ConfChange, timeoutMs: number): Promise<number>;
  forgetFollowerLog(id: NodeId): void;
  /** This node learned it was removed (the leader said so). */
  markRemoved(how: string): void;
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
  /** For --join addresses that name a member's HTTP API. */
  readonly resolveHttpAddress: HttpAddressResolver;
  /** Checks joining nodes' credentials (the -auth file; peer-access.ts); default null: none checked. */
  readonly access?: AccessControl | null;
  /** What this node presents when it joins or notifies (-join-as); default none. */
  readonly joinCredentials?: () => Credentials | null;
  /** This node's SQLite version, -fk and extensions: sent when it joins or notifies, and checked against those of nodes that do. */
  readonly applySettings: ApplySettings;
}

function parseJoinRequest(payload: unknown): JoinRequest {
  const record = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const { id, raftAddress, apiAddress, voter, hasState, settings } = record;
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
  if (hasState !== undefined && typeof hasState !== 'boolean') throw new ServiceError('BAD_REQUEST', 'join: hasState must be a boolean');
  const parsedSettings = parseApplySettings(settings);
  return {
    id: id as string,
    raftAddress: raftAddress as string,
    apiAddress: apiAddress as string,
    voter,
    hasState: hasState === true,
    ...(parsedSettings === undefined ? {} : { settings: parsedSettings }),
  };
}

function sameAddresses(known: MemberAddresses | undefined, request: JoinRequest): boolean {
  return known?.raftAddress === request.raftAddress && known.apiAddress === request.apiAddress;
}

export class Membership {
  readonly #config: NodeConfig;
  readonly #runtime: MembershipRuntime;
  readonly #peers: PeerTransport;
  readonly #scheduler: Scheduler;
  readonly #logger: NodeLogger;
  readonly #joiner: Joiner;
  readonly #resolveHttpAddress: HttpAddressResolver;
  readonly #access: AccessControl | null;
  readonly #joinCredentials: () => Credentials | null;
  readonly #applySettings: ApplySettings;
  /** Membership changes run one at a time on the leader. */
  #changeChain: Promise<unknown> = Promise.resolve();
  readonly #seen = new Map<NodeId, MemberAddresses>();
  /**
   * --bootstrap-expect: the last settings refusal per peer, both ways (a peer that refused this
   * node, by address; a node this one refused, by id), at most discoveredNodeCountMax of each:
   * logged when new, and named in the error if the formation times out.
   */
  readonly #refusedBy = new Map<string, string>();
  readonly #refused = new Map<NodeId, string>();

  constructor(dependencies: MembershipDependencies) {
    this.#config = dependencies.config;
    this.#runtime = dependencies.runtime;
    this.#peers = dependencies.peers;
    this.#scheduler = dependencies.scheduler;
    this.#logger = dependencies.logger;
    this.#resolveHttpAddress = dependencies.resolveHttpAddress;
    this.#access = dependencies.access ?? null;
    this.#joinCredentials = dependencies.joinCredentials ?? (() => null);
    this.#applySettings = dependencies.applySettings;
    this.#joiner = new Joiner(dependencies);
    this.#seen.set(this.#config.nodeId, this.#selfAddresses());
  }

  #selfAddresses(): MemberAddresses {
    return { raftAddress: this.#config.raftAdvertisedAddress, apiAddress: this.#config.apiAdvertisedAddress };
  }

  registerPeerHandlers(): void {
    const transport = this.#peers;
    const counters = this.#runtime.counters;
    handleEnvelope(transport, peerMethods.join, async (payload, signal) => {
      counters.add('cluster', 'num_join_req');
      const request = parseJoinRequest(payload);
      const caller = await authorizeJoin(this.#access, payload, joinPermission(request.voter));
      return this.#handleJoin(request, caller, signal);
    });
    handleEnvelope(transport, peerMethods.notify, async (payload) => {
      counters.add('cluster', 'num_notify_req');
      // rqlite: a node taking part in a --bootstrap-expect formation needs `join`.
      await authorizeJoin(this.#access, payload, 'join');
      return this.#handleNotify(payload);
    });
    handleEnvelope(transport, peerMethods.members, () => Promise.resolve(this.#runtime.members.toRecord()));
    handleEnvelope(transport, peerMethods.removed, (payload, _signal, caller) => Promise.resolve(this.#handleRemovedNotice(payload, caller.fromId)));
  }

  // ---------------------------------------------------------------------------
  // The leader's side of a join
  // ---------------------------------------------------------------------------

  /** `caller`: who this node authenticated the join as; forwarded with it (never a password). */
  async #handleJoin(request: JoinRequest, caller: string | null, signal: AbortSignal): Promise<{ leaderId: NodeId }> {
    if (!this.#runtime.isLeader) {
      const leaderId = this.#runtime.leaderId;
      if (leaderId === '' || leaderId === this.#config.nodeId) throw new ServiceError('NO_LEADER', 'leader not found');
      this.#logger.info({ event: 'join-forward', node: request.id, leader: leaderId }, 'forwarding join to the leader');
      return (await callPeer(
        this.#peers,
        { id: leaderId },
        peerMethods.join,
        { ...request, forwarded: true, caller },
        {
          timeoutMs: this.#joiner.joinCallTimeoutMs(),
          signal,
        },
      )) as { leaderId: NodeId };
    }
    this.#checkSettings('join', request);
    await this.#serialised(() => this.#admit(request));
    return { leaderId: this.#config.nodeId };
  }

  /** Refuses (SETTINGS_MISMATCH) a node whose settings would fork the databases, before anything changes; logs what it lets through. */
  #checkSettings(what: 'join' | 'notify', request: JoinRequest): void {
    const holders = { self: what === 'join' ? `the leader ${this.#config.nodeId}` : this.#config.nodeId, peer: request.id };
    let warning: string | undefined;
    try {
      warning = checkApplySettings(this.#applySettings, request.settings, holders, { hasState: request.hasState });
    } catch (error) {
      // A notifying node asks again every discovery interval: log each refusal once.
      if (what === 'notify' && !rememberRefusal(this.#refused, request.id, String(error))) throw error;
      this.#logger.error({ event: `${what}-refused`, node: request.id, error: String(error) }, `${what} refused: the node's settings differ`);
      throw error;
    }
    // A node restarted with the right settings: a later refusal is news again.
    if (what === 'notify') this.#refused.delete(request.id);
    if (warning !== undefined) this.#logger.warn({ event: `${what}-settings`, node: request.id, warning }, warning);
  }

  #serialised<Value>(change: () => Promise<Value>): Promise<Value> {
    const next = this.#changeChain.then(change, change);
    this.#changeChain = next.catch(() => undefined);
    return next;
  }

  async #admit(request: JoinRequest): Promise<void> {
    const confState = this.#runtime.confState();
    const role = confState.voters.includes(request.id) ? 'voter' : confState.learners.includes(request.id) ? 'learner' : undefined;
    if (role === undefined) return this.#admitNewMember(request);
    const known = this.#runtime.members.get(request.id);
    if (!request.hasState && known?.raftAddress !== request.raftAddress) {
      // A member that lost its state and moved joins again from scratch: removed, then
      // added as a learner that catches up before it may vote again.
      await this.#change({ type: 'remove-node', nodeId: request.id, context: new Uint8Array(0) });
      this.#runtime.counters.add('store', 'num_removed_before_joins');
      return this.#admitNewMember(request);
    }
    await this.#readmit(request, role, known);
  }

  async #admitNewMember(request: JoinRequest): Promise<void> {
    await this.#removeOtherMemberAt(request);
    const context = this.#runtime.memberContext({ raftAddress: request.raftAddress, apiAddress: request.apiAddress });
    await this.#change({ type: 'add-learner', nodeId: request.id, context });
    this.#runtime.counters.add('store', 'num_joins');
    this.#logger.info({ event: 'join', node: request.id, address: request.raftAddress, voter: request.voter }, 'node joined as a learner');
    if (request.voter) await this.#promote(request);
  }

  /**
   * A member asks to join again. With its state, it restarted (same addresses: nothing to
   * do) or moved: its new addresses are re-stated by a conf change in its own role, which
   * changes no membership; every node learns them when it appends the entry (the leader
   * first, so it reaches the member at once), and a node restarting later replays them.
   */
  async #readmit(request: JoinRequest, role: 'voter' | 'learner', known: MemberAddresses | undefined): Promise<void> {
    // A member without state lost its log: replicate to it from scratch, or the leader
    // would take its rejections for stale ones and wait forever.
    if (!request.hasState) this.#runtime.forgetFollowerLog(request.id);
    const moved = !sameAddresses(known, request);
    if (moved) {
      await this.#removeOtherMemberAt(request);
      const context = this.#runtime.memberContext({ raftAddress: request.raftAddress, apiAddress: request.apiAddress });
      await this.#change({ type: role === 'voter' ? 'add-voter' : 'add-learner', nodeId: request.id, context });
      this.#logger.info(
        { event: 'join-moved', node: request.id, from: known?.raftAddress ?? '', address: request.raftAddress, apiAddress: request.apiAddress },
        'member rejoined on new addresses',
      );
    }
    if (role === 'learner' && request.voter) await this.#promote(request);
    else if (!moved) {
      this.#logger.info({ event: 'join-noop', node: request.id }, 'node is already a member with these addresses');
      this.#runtime.counters.add('store', 'num_ignored_joins');
    }
  }

  /** A member other than the joiner at the joiner's Raft address is gone: remove it. */
  async #removeOtherMemberAt(request: JoinRequest): Promise<void> {
    const previous = this.#runtime.members.findByRaftAddress(request.raftAddress);
    if (previous === undefined || previous === request.id || !this.#runtime.isMember(previous)) return;
    this.#logger.info({ event: 'join-replace', old: previous, node: request.id }, 'removing the old member at this address');
    await this.#change({ type: 'remove-node', nodeId: previous, context: new Uint8Array(0) });
    this.#runtime.counters.add('store', 'num_removed_before_joins');
  }

  /** Waits until the learner is caught up (caughtUpToPromote), then makes it a voter. */
  async #promote(request: JoinRequest): Promise<void> {
    const config = this.#config;
    const deadlineMs = this.#scheduler.nowMs() + config.promotionTimeoutMs;
    for (;;) {
      const status = this.#runtime.coreStatus();
      if (status === undefined || status.role !== 'leader') throw new ServiceError('UNAVAILABLE', 'leadership lost during join');
      if (caughtUpToPromote(status.progress[request.id], status.commit, config.promotionLagEntriesMax)) break;
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

  /**
   * Removes a member (leader only), then tells it so (best effort): the leader stops
   * replicating to a node once its removal is in the log, so without this notice the
   * removed node would never learn it (rqlited -raft-remove-shutdown acts on it).
   */
  removeMember(id: NodeId): Promise<void> {
    return this.#serialised(async () => {
      const address = this.#runtime.members.get(id)?.raftAddress;
      await this.#change({ type: 'remove-node', nodeId: id, context: new Uint8Array(0) });
      this.#logger.info({ event: 'remove', node: id }, 'node removed');
      if (id !== this.#config.nodeId && address !== undefined) void this.#tellRemoved(id, address);
    });
  }

  async #tellRemoved(id: NodeId, address: string): Promise<void> {
    try {
      await callPeer(this.#peers, { address }, peerMethods.removed, { id }, { timeoutMs: removedNoticeTimeoutMs });
    } catch (error) {
      this.#logger.info({ event: 'removed-notice-failed', node: id, error: String(error) }, 'could not tell the removed node (it may be down)');
    }
  }

  /** A leader says this node was removed. Believed from a member of this node's configuration or the leader it follows. */
  #handleRemovedNotice(payload: unknown, callerId: NodeId): { id: NodeId } {
    const id = (payload as { id?: unknown } | null)?.id;
    const self = this.#config.nodeId;
    if (id !== self) throw new ServiceError('BAD_REQUEST', `removal notice for ${String(id)}, but this node is ${self}`);
    const runtime = this.#runtime;
    if (callerId === self || (!runtime.isMember(callerId) && runtime.leaderId !== callerId)) {
      throw new ServiceError('BAD_REQUEST', `removal notice from ${callerId}, which is not a member this node knows`);
    }
    runtime.markRemoved(`the leader ${callerId} removed it`);
    return { id: self };
  }

  // ---------------------------------------------------------------------------
  // The joiner's side
  // ---------------------------------------------------------------------------

  /**
   * Joins through the --join addresses (joiner.ts). `hasState`: this node restarts with a
   * log, so this rejoins (an idempotent join that re-states its addresses if they changed).
   */
  joinCluster(addresses: JoinAddresses, options: { hasState: boolean; signal?: AbortSignal }): Promise<void> {
    return this.#joiner.join(addresses, { hasState: options.hasState, signal: options.signal ?? new AbortController().signal });
  }

  // ---------------------------------------------------------------------------
  // --bootstrap-expect
  // ---------------------------------------------------------------------------

  #handleNotify(payload: unknown): NotifyAnswer {
    const request = parseJoinRequest({ ...(payload as object), voter: true });
    this.#checkSettings('notify', request);
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
   * Finds the peers named by --join (or, with discovery, resolved again each pass) until
   * `expect` nodes (this one included) have seen each other, then bootstraps all of them
   * with the same membership, as etcd's initial cluster does. Returns 'join' when a peer
   * already runs a cluster this node is not in.
   */
  async discover(addresses: JoinAddresses, expect: number): Promise<'bootstrapped' | 'join'> {
    const config = this.#config;
    const deadlineMs = this.#scheduler.nowMs() + config.bootstrapExpectTimeoutMs;
    const self = { id: config.nodeId, ...this.#selfAddresses() };
    const never = new AbortController().signal;
    while (this.#scheduler.nowMs() < deadlineMs && !this.#runtime.stopped) {
      const targets = this.#joiner.targets(await currentAddresses(addresses, never));
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
      await sleep(this.#scheduler, config.discoveryIntervalMs);
    }
    const found = `found only ${this.#seen.size} node(s) within ${config.bootstrapExpectTimeoutMs}ms`;
    if (this.#refusedBy.size > 0) {
      const refusals = [...this.#refusedBy].map(([address, message]) => `${address} refused this node: ${message}`);
      throw new ServiceError('SETTINGS_MISMATCH', `--bootstrap-expect ${expect}: ${found}; ${refusals.join('; ')}`);
    }
    throw new ServiceError('TIMEOUT', `--bootstrap-expect ${expect}: ${found}`);
  }

  async #notify(target: string, self: { id: NodeId } & MemberAddresses): Promise<NotifyAnswer | undefined> {
    const timeoutMs = this.#config.discoveryIntervalMs * 4;
    try {
      const address = isHttpJoinAddress(target) ? await this.#resolveHttpAddress(target) : target;
      if (address === this.#config.raftAdvertisedAddress) return undefined;
      const payload = { ...self, settings: this.#applySettings, credentials: this.#joinCredentials() };
      const answer = (await callPeer(this.#peers, { address }, peerMethods.notify, payload, { timeoutMs })) as NotifyAnswer;
      // It took this node: whatever it refused before (it was restarted with other settings) is not why a formation waits.
      this.#refusedBy.delete(target);
      for (const [id, addresses] of Object.entries(answer.seen)) {
        if (this.#seen.size < discoveredNodeCountMax || this.#seen.has(id)) this.#seen.set(id, addresses);
      }
      return answer;
    } catch (error) {
      // Which of two nodes has the settings the operator meant is not for either to decide: both go on waiting
      // (the other may be restarted with this node's settings), and a formation that times out names the refusals.
      if (error instanceof ServiceError && error.code === 'SETTINGS_MISMATCH') {
        if (rememberRefusal(this.#refusedBy, target, error.message)) {
          this.#logger.error({ event: 'notify-refused-by', address: target, error: error.message }, 'a peer refused this node: its settings differ');
        }
        return undefined;
      }
      this.#logger.debug({ event: 'notify-failed', address: target, error: String(error) }, 'peer not reachable yet');
      return undefined;
    }
  }

  /** Lowest id among the bootstrap voters: it campaigns at once instead of waiting a timeout. */
  static shouldCampaignFirst(selfId: NodeId, voters: readonly NodeId[]): boolean {
    return [...voters].sort()[0] === selfId;
  }
}

/** Records `message` for `key` (at most discoveredNodeCountMax keys; others are not kept); whether it is new, to log. */
export function rememberRefusal<Key>(map: Map<Key, string>, key: Key, message: string): boolean {
  if (map.get(key) === message) return false;
  if (map.has(key) || map.size < discoveredNodeCountMax) map.set(key, message);
  return true;
}

/**
 * A learner may become a voter once the leader streams to it ('replicate': the leader
 * found where their logs match) and it holds all but at most `lagEntriesMax` of the
 * committed entries: promoted further behind, it would hold up commits until it caught up.
 */
export function caughtUpToPromote(progress: ProgressStatus | undefined, commit: number, lagEntriesMax: number): boolean {
  return progress?.state === 'replicate' && progress.match + lagEntriesMax >= commit;
}
