/**
 * A node's session in etcd: one lease, kept alive by etcd-keep-alive.ts, to which the node
 * attaches its registration (`members/<id>`), its applied index report and — while it
 * leads — the leader key. Leadership is the leader key: a node campaigns by creating it
 * (a transaction that succeeds only while it is absent); the key's create revision is
 * the term and the fencing token every append compares, so a node whose lease expired
 * (paused, partitioned) cannot append even if it still believes it leads.
 *
 * This node also keeps its own bound on the lease: it counts itself leader only until
 * the TTL has passed since the last keep-alive etcd acknowledged (measured from when it
 * was sent), so a node paused past its lease stops serving leader-only reads at once on
 * waking, before etcd's answer tells it the key is gone.
 */
import type { Etcd3, IKeyValue, Lease, Watcher } from 'etcd3';
import type { NodeId } from '../raft/types.js';
import type { EtcdKeys } from './etcd-keys.js';
import { EtcdKeepAlive } from './etcd-keep-alive.js';
import { EtcdMemberBook, parseRegistration } from './etcd-members.js';
import type { NodeLogger } from './logger.js';
import type { MemberAddresses } from './ports.js';
import type { Scheduler } from './scheduler.js';

interface SessionSettings {
  readonly nodeId: NodeId;
  readonly addresses: MemberAddresses;
  readonly voter: boolean;
  readonly leaseTtlSeconds: number;
  /** After resigning, this node waits this long before campaigning, so another node takes over. */
  readonly resignPauseMs: number;
}

interface SessionDependencies {
  readonly client: Etcd3;
  readonly keys: EtcdKeys;
  readonly scheduler: Scheduler;
  readonly logger: NodeLogger;
  /** Called after every change of leader, term or this node's leading. */
  readonly onChange: () => void;
}

export class EtcdSession {
  readonly members = new EtcdMemberBook();
  readonly #settings: SessionSettings;
  readonly #dependencies: SessionDependencies;
  #lease: Lease | undefined;
  #leaseId = '';
  #keepAlive: EtcdKeepAlive | undefined;
  /** Monotonic ms until which this node's lease surely holds (the last acknowledged keep-alive's send time plus the TTL). */
  #validUntilMs = 0;
  #leaderId: NodeId = '';
  #term = 0;
  #holdsLeaderKey = false;
  #campaignPausedUntilMs = 0;
  #watchers: Watcher[] = [];
  #stopped = false;
  #lastNotified = '';

  constructor(settings: SessionSettings, dependencies: SessionDependencies) {
    this.#settings = settings;
    this.#dependencies = dependencies;
  }

  get leaderId(): NodeId {
    return this.#leaderId;
  }

  /** The leader key's create revision: the current leadership's term and fencing token (0 when none is known). */
  get term(): number {
    return this.#term;
  }

  /** Whether a lease is held (a lost one is opened again by the next refreshLeader). */
  get holdsLease(): boolean {
    return this.#leaseId !== '';
  }

  /** This node holds the leader key and its lease surely has not expired. */
  get leading(): boolean {
    return this.#holdsLeaderKey && this.#dependencies.scheduler.monotonicMs() < this.#validUntilMs;
  }

  async start(): Promise<void> {
    await this.#openLease();
    const { client, keys } = this.#dependencies;
    const leaderWatch = await client.watch().key(keys.leader).create();
    leaderWatch.on('put', (kv) => this.#learnLeader(kv));
    leaderWatch.on('delete', () => void this.#leaderGone().catch(() => undefined));
    const membersWatch = await client.watch().prefix(keys.membersPrefix).create();
    membersWatch.on('put', (kv) => this.members.learn(parseRegistration(keys, kv)));
    membersWatch.on('delete', (kv) => this.members.forget(kv.key.toString().slice(keys.membersPrefix.length)));
    this.#watchers = [leaderWatch, membersWatch];
    await this.refreshMembers();
    await this.refreshLeader();
  }

  #opening: Promise<void> | undefined;

  /** One lease opening at a time (a lost lease and a poll may both ask for one). */
  #openLease(): Promise<void> {
    this.#opening ??= this.#grantLease().finally(() => {
      this.#opening = undefined;
    });
    return this.#opening;
  }

  async #grantLease(): Promise<void> {
    const { client, scheduler, keys } = this.#dependencies;
    // etcd3's own keep-alive stream would stay on a member cut off from the others: etcd-keep-alive.ts keeps it alive instead.
    const lease = client.lease(this.#settings.leaseTtlSeconds, { autoKeepAlive: false });
    this.#lease = lease;
    lease.on('lost', (error) => this.#leaseLost(lease, error));
    const grantSentMs = scheduler.monotonicMs();
    const leaseId = await lease.grant();
    if (this.#lease !== lease) return;
    this.#leaseId = leaseId;
    this.#validUntilMs = grantSentMs + this.#settings.leaseTtlSeconds * 1000;
    const keepAlive = new EtcdKeepAlive(
      { leaseId, leaseTtlSeconds: this.#settings.leaseTtlSeconds },
      {
        client,
        scheduler,
        onAcknowledged: (sentMs) => {
          if (this.#lease !== lease) return;
          this.#validUntilMs = Math.max(this.#validUntilMs, sentMs + this.#settings.leaseTtlSeconds * 1000);
          // A leader whose bound had lapsed (etcd electing) leads again at once, not at the next poll.
          this.#notify();
        },
        onExpired: (error) => this.#leaseLost(lease, error),
      },
    );
    this.#keepAlive = keepAlive;
    keepAlive.start();
    const registration = JSON.stringify({ ...this.#settings.addresses, voter: this.#settings.voter });
    await lease
      .put(keys.membersPrefix + this.#settings.nodeId)
      .value(registration)
      .exec();
  }

  #leaseLost(lease: Lease, error: Error): void {
    if (this.#lease !== lease || this.#stopped) return;
    this.#dependencies.logger.warn({ event: 'etcd-lease-lost', error: String(error) }, 'etcd session lease lost: stepping down and opening a new one');
    this.#lease = undefined;
    this.#leaseId = '';
    this.#keepAlive?.stop();
    this.#keepAlive = undefined;
    this.#holdsLeaderKey = false;
    this.#notify();
    this.#openLease().catch((openError: unknown) => {
      this.#dependencies.logger.warn({ event: 'etcd-lease-failed', error: String(openError) }, 'could not open an etcd lease; retrying at the next poll');
      this.#lease = undefined;
    });
  }

  /** Reads the leader key again, beside its watch (which may miss a change across a reconnect); campaigns when no leader holds it. */
  async refreshLeader(): Promise<void> {
    if (this.#stopped) return;
    const { client, keys } = this.#dependencies;
    if (this.#lease === undefined) await this.#openLease();
    const leader = await client.get(keys.leader).exec();
    const kv = leader.kvs[0];
    if (kv === undefined) await this.#leaderGone();
    else this.#learnLeader(kv);
    this.#notify();
  }

  /** Reads the registrations again, beside their watch. */
  async refreshMembers(): Promise<void> {
    if (this.#stopped) return;
    const { client, keys } = this.#dependencies;
    const response = await client.getAll().prefix(keys.membersPrefix).exec();
    this.members.replace(response.kvs.map((kv) => parseRegistration(keys, kv)));
  }

  #learnLeader(kv: IKeyValue): void {
    const term = Number(kv.create_revision);
    if (term < this.#term) return;
    this.#leaderId = kv.value.toString();
    this.#term = term;
    this.#holdsLeaderKey = this.#leaderId === this.#settings.nodeId && kv.lease === this.#leaseId && this.#leaseId !== '';
    this.#notify();
  }

  async #leaderGone(): Promise<void> {
    this.#leaderId = '';
    this.#holdsLeaderKey = false;
    this.#notify();
    await this.#campaign();
  }

  /** Creates the leader key if it is absent; whoever's key is there after is the leader. */
  async #campaign(): Promise<void> {
    const { client, keys, scheduler } = this.#dependencies;
    if (this.#stopped || !this.#settings.voter || this.#leaseId === '') return;
    if (scheduler.monotonicMs() < this.#campaignPausedUntilMs) return;
    const result = await client
      .if(keys.leader, 'Create', '==', 0)
      .then(client.put(keys.leader).value(this.#settings.nodeId).lease(this.#leaseId))
      .else(client.get(keys.leader))
      .commit();
    if (result.succeeded) {
      this.#learnLeader({
        key: Buffer.from(keys.leader),
        value: Buffer.from(this.#settings.nodeId),
        lease: this.#leaseId,
        create_revision: result.header.revision,
      } as IKeyValue);
      this.#dependencies.logger.info({ event: 'etcd-leader', term: this.#term }, 'this node leads (holds the etcd leader key)');
      return;
    }
    const kv = result.responses[0]?.response_range.kvs[0];
    if (kv !== undefined) this.#learnLeader(kv);
  }

  /** Gives leadership up: deletes the leader key (only if it is still this term's) and waits before campaigning again. */
  async resign(): Promise<void> {
    if (!this.#holdsLeaderKey) return;
    const { client, keys, scheduler } = this.#dependencies;
    this.#campaignPausedUntilMs = scheduler.monotonicMs() + this.#settings.resignPauseMs;
    this.#holdsLeaderKey = false;
    this.#notify();
    await client.if(keys.leader, 'Create', '==', this.#term).then(client.delete().key(keys.leader)).commit();
  }

  /** Records this node's applied index in etcd, under its lease (compaction keeps what the slowest member still needs). */
  async reportApplied(index: number): Promise<void> {
    if (this.#lease === undefined || this.#leaseId === '') return;
    await this.#lease
      .put(this.#dependencies.keys.appliedPrefix + this.#settings.nodeId)
      .value(String(index))
      .exec();
  }

  /** The applied index every registered member reported, by id. */
  async appliedReports(): Promise<Map<NodeId, number>> {
    const { client, keys } = this.#dependencies;
    const response = await client.getAll().prefix(keys.appliedPrefix).exec();
    return new Map(response.kvs.map((kv) => [kv.key.toString().slice(keys.appliedPrefix.length), Number(kv.value.toString())]));
  }

  #notify(): void {
    const fingerprint = `${this.#leaderId}/${this.#term}/${this.leading}`;
    if (fingerprint === this.#lastNotified) return;
    this.#lastNotified = fingerprint;
    this.#dependencies.onChange();
  }

  /** Re-checks the local lease bound (a poll calls it): leading ends when the bound passes. */
  checkLease(): void {
    this.#notify();
  }

  async stop(options: { resign: boolean }): Promise<void> {
    if (options.resign) await this.resign().catch(() => undefined);
    this.#stopped = true;
    await Promise.all(this.#watchers.map((watcher) => watcher.cancel().catch(() => undefined)));
    const lease = this.#lease;
    this.#lease = undefined;
    this.#keepAlive?.stop();
    // Revoking drops the registration and (if held) the leader key at once, rather than after the TTL.
    await lease?.revoke().catch(() => undefined);
  }
}
