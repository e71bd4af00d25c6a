/**
 * How a node comes into a cluster at start: it restarts over its state, or, without state,
 * it bootstraps alone, finds its peers (-bootstrap-expect), or joins (-join). Discovery
 * (-disco-mode) only supplies the addresses to that same machinery:
 *
 * - dns, dns-srv: the resolved Raft addresses stand for the -join list of -bootstrap-expect,
 *   resolved again on every pass (dns-discovery.ts).
 * - etcd-kv: the key names the leader (etcd-discovery.ts). Empty, the node claims it and
 *   bootstraps alone; set, the node joins through the Raft address it names, read again
 *   each round. The leader keeps the key current while it runs.
 *
 * As in rqlite, discovery is ignored by a node that has state: it is in a cluster already
 * (an etcd-kv node still keeps the key current while it leads).
 */
import { ServiceError } from '../service/service.js';
import type { NodeId } from '../raft/types.js';
import type { NodeConfig } from '../node/config.js';
import type { JoinAddresses } from '../node/joiner.js';
import type { NodeLogger } from '../node/logger.js';
import { Membership } from '../node/membership.js';
import type { NodeRuntime } from '../node/runtime.js';
import { sleep, type Scheduler } from '../node/scheduler.js';
import type { DiscoverySettings } from './discovery-config.js';
import { dnsAddresses, dnsSrvAddresses } from './dns-discovery.js';
import type { EtcdDiscovery, EtcdLeaderReporter, LeaderRecord } from './etcd-discovery.js';

/** rqlited's words for a one-node cluster with state asked to join another cluster. */
const singleNodeJoinRefusal = 'node is already a single-node cluster leader, joining a cluster is not permitted';

interface FormationSettings {
  readonly logger: NodeLogger;
  /** -disco-mode and its config; absent: -join and -bootstrap-expect only. */
  readonly discovery?: DiscoverySettings | undefined;
}

interface FormationParts extends FormationSettings {
  readonly config: NodeConfig;
  readonly storage: { isEmpty(): boolean };
  readonly runtime: NodeRuntime;
  readonly membership: Membership;
  readonly scheduler: Scheduler;
}

export class ClusterFormation {
  readonly #parts: FormationParts;
  /** A restarted node's rejoin runs beside it; stop() cancels it. */
  readonly #rejoinCancel = new AbortController();
  #rejoin: Promise<void> = Promise.resolve();
  #etcd: EtcdDiscovery | undefined;
  #reporter: EtcdLeaderReporter | undefined;

  constructor(settings: FormationSettings, parts: Omit<FormationParts, keyof FormationSettings>) {
    this.#parts = { ...parts, logger: settings.logger, discovery: settings.discovery };
  }

  /** Restarts, bootstraps, discovers or joins; resolves once the node is in a cluster. */
  async formOrJoin(): Promise<void> {
    const { discovery, config } = this.#parts;
    if (discovery === undefined) return this.#form(config.joinAddresses, config.bootstrapExpect);
    this.#parts.logger.info({ event: 'disco-mode', mode: discovery.mode }, `discovery mode: ${discovery.mode}`);
    switch (discovery.mode) {
      case 'dns': {
        const port = Number(config.raftAdvertisedAddress.slice(config.raftAdvertisedAddress.lastIndexOf(':') + 1));
        return this.#formByDns(dnsAddresses(discovery.dns, port, this.#parts.logger));
      }
      case 'dns-srv':
        return this.#formByDns(dnsSrvAddresses(discovery.dnsSrv, this.#parts.logger));
      case 'etcd-kv': {
        // Loaded only here: the etcd client (and gRPC under it) costs about 20 MiB of memory.
        const { EtcdDiscovery } = await import('./etcd-discovery.js');
        return this.#formByEtcd(new EtcdDiscovery(discovery.key, discovery.etcd));
      }
    }
  }

  /** Cancels a rejoin in progress and stops reporting to etcd. */
  async stop(): Promise<void> {
    this.#rejoinCancel.abort();
    await this.#rejoin;
    this.#reporter?.stop();
    this.#etcd?.close();
  }

  /** The start-up without discovery: --join and --bootstrap-expect as given. */
  async #form(joinAddresses: readonly string[], bootstrapExpect: number): Promise<void> {
    const { runtime, storage, logger } = this.#parts;
    if (!storage.isEmpty()) {
      await runtime.startCore();
      if (joinAddresses.length === 0) return;
      if (bootstrapExpect > 1) {
        logger.info({ event: 'join-ignored' }, 'node has state: ignoring --bootstrap-expect and its --join list');
        return;
      }
      this.#refuseJoinFromSingleNodeCluster();
      this.#rejoinInBackground(joinAddresses);
      return;
    }
    if (bootstrapExpect > 1 && (await this.#bootstrappedByDiscovery(joinAddresses, bootstrapExpect))) return;
    if (joinAddresses.length > 0) {
      await runtime.startCore();
      await this.#parts.membership.joinCluster(joinAddresses, { hasState: false });
      return;
    }
    await this.#bootstrapAlone();
  }

  /** -bootstrap-expect: true once bootstrapped and started; false when a cluster already runs (join it). */
  async #bootstrappedByDiscovery(addresses: JoinAddresses, expect: number): Promise<boolean> {
    const { membership, runtime, config } = this.#parts;
    const outcome = await membership.discover(addresses, expect);
    if (outcome !== 'bootstrapped') return false;
    const founders = runtime.members.entries().map(([id]) => id);
    await runtime.startCore({ campaign: Membership.shouldCampaignFirst(config.nodeId, founders) });
    return true;
  }

  async #bootstrapAlone(): Promise<void> {
    const { config, runtime } = this.#parts;
    const self = { raftAddress: config.raftAdvertisedAddress, apiAddress: config.apiAdvertisedAddress };
    await runtime.bootstrap(new Map<NodeId, typeof self>([[config.nodeId, self]]));
    await runtime.startCore();
  }

  /** dns, dns-srv: -bootstrap-expect over the resolved addresses, or a join if a cluster already runs there. */
  async #formByDns(addresses: () => Promise<readonly string[]>): Promise<void> {
    const { runtime, storage, logger, membership, config } = this.#parts;
    if (!storage.isEmpty()) {
      logger.info({ event: 'disco-ignored' }, 'node has state: ignoring discovery');
      await runtime.startCore();
      return;
    }
    if (await this.#bootstrappedByDiscovery(addresses, Math.max(1, config.bootstrapExpect))) return;
    await runtime.startCore();
    await membership.joinCluster(addresses, { hasState: false });
  }

  /** etcd-kv: claim the key and bootstrap, or join the leader it names; then keep it current while leading. */
  async #formByEtcd(etcd: EtcdDiscovery): Promise<void> {
    const { runtime, storage, logger, config, scheduler } = this.#parts;
    this.#etcd = etcd;
    const self: LeaderRecord = { id: config.nodeId, apiUrl: `${config.apiScheme}://${config.apiAdvertisedAddress}`, raftAddress: config.raftAdvertisedAddress };
    if (!storage.isEmpty()) {
      logger.info({ event: 'disco-ignored' }, 'node has state: not registering with etcd');
      await runtime.startCore();
    } else if (await this.#claimedOrJoined(etcd, self)) {
      await this.#bootstrapAlone();
    }
    const { EtcdLeaderReporter } = await import('./etcd-discovery.js');
    this.#reporter = new EtcdLeaderReporter({
      etcd,
      self,
      isLeader: () => runtime.isLeader,
      subscribeLeaderChanges: (listener) => runtime.subscribeLeaderChanges(listener),
      scheduler,
      logger,
    });
    this.#reporter.start();
  }

  /**
   * Reads the key until it names a leader to join (then joins, and resolves false) or this
   * node claims it (resolves true: bootstrap). At most -join-attempts reads, -join-interval
   * apart; an unreachable etcd fails the start with the last error.
   */
  async #claimedOrJoined(etcd: EtcdDiscovery, self: LeaderRecord): Promise<boolean> {
    const { runtime, logger, config, scheduler, membership } = this.#parts;
    let lastError: unknown;
    for (let attempt = 1; attempt <= config.joinAttemptCountMax && !runtime.stopped; attempt += 1) {
      try {
        const leader = await etcd.leader();
        if (leader === undefined && !config.nonVoter && (await etcd.claim(self))) {
          logger.info({ event: 'disco-claimed', key: etcd.key }, 'registered as the leader in etcd: bootstrapping a new cluster');
          return true;
        }
        if (leader !== undefined && leader.raftAddress !== self.raftAddress) {
          logger.info({ event: 'disco-leader', key: etcd.key, leader: leader.id, address: leader.raftAddress }, 'etcd names the leader: joining');
          await runtime.startCore();
          await membership.joinCluster(this.#etcdLeaderAddresses(etcd, leader.raftAddress), { hasState: false });
          return false;
        }
        lastError = new Error(leader === undefined ? 'the key is empty (and this node may not claim it)' : 'the key names this node, which has no state');
      } catch (error) {
        lastError = error;
      }
      logger.warn({ event: 'disco-retry', key: etcd.key, attempt, error: String(lastError) }, 'no leader to join in etcd yet');
      if (attempt < config.joinAttemptCountMax) await sleep(scheduler, config.joinIntervalMs);
    }
    const where = `etcd at ${etcd.endpoints.join(', ')} (key ${etcd.key})`;
    const attempts = `${config.joinAttemptCountMax} attempts`;
    throw new ServiceError('UNAVAILABLE', `-disco-mode etcd-kv: no cluster to form or join through ${where} after ${attempts}: ${String(lastError)}`);
  }

  /** The leader's Raft address as etcd names it now (or the last one read, while etcd does not answer). */
  #etcdLeaderAddresses(etcd: EtcdDiscovery, first: string): JoinAddresses {
    let last = first;
    return async () => {
      try {
        last = (await etcd.leader())?.raftAddress ?? last;
      } catch (error) {
        this.#parts.logger.warn({ event: 'disco-read-failed', key: etcd.key, error: String(error) }, 'could not read the leader from etcd');
      }
      return [last];
    };
  }

  /** As rqlited: a node that is a whole cluster by itself must not join another one (its data would be lost). */
  #refuseJoinFromSingleNodeCluster(): void {
    const { runtime, config } = this.#parts;
    const confState = runtime.confState();
    const members = [...confState.voters, ...confState.learners];
    if (members.length === 1 && members[0] === config.nodeId) throw new ServiceError('BAD_REQUEST', singleNodeJoinRefusal);
  }

  /**
   * A node with state given --join sends the join anyway, as rqlited does: joins are
   * idempotent, and a member restarted on new addresses gets them re-stated through the
   * log. It runs beside the node, which is a member already and serves meanwhile; if it
   * fails the node keeps running on the addresses the cluster has for it.
   */
  #rejoinInBackground(joinAddresses: readonly string[]): void {
    const signal = this.#rejoinCancel.signal;
    this.#rejoin = this.#parts.membership.joinCluster(joinAddresses, { hasState: true, signal }).catch((error: unknown) => {
      if (signal.aborted) return;
      this.#parts.logger.error({ event: 'rejoin-failed', error: String(error) }, 'could not rejoin through --join: running on the addresses the cluster has');
    });
  }
}
