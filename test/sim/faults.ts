/**
 * The faults a seed injects while the chaos lasts, each through what a real operator or
 * machine does to a node: crashes (the process dies; a write on the disk lands or not)
 * and graceful stops (`runtime.stop()`: a leader hands over first), restarts of fresh
 * runtimes over what survived, partitions of the network, membership changes
 * (`runtime.proposeConfChange` on the leader, a new node joining as a learner with the
 * members' addresses, as membership.ts's join does) and leadership transfers
 * (`runtime.transferLeadership`, to a random voter or to the runtime's own successor).
 */
import type { ConfChange, NodeId } from '../../src/raft/types.js';
import { ServiceError } from '../../src/service/service.js';
import type { WorkloadClients } from './clients.js';
import type { Prng } from './prng.js';
import { simulatorTickMs, type Scenario } from './scenario.js';
import type { HostWorld, SimHost, SimProcess } from './sim-host.js';
import type { SimulationStats } from './simulation.js';
import type { Trace } from './trace.js';
import { apiAddressOf, raftAddressOf } from './transport-twin.js';

/** Nodes ever created in one run, beyond the initial cluster. */
export const addedNodesMax = 4;
const votersMax = 7;

/** What the fault injector acts on. */
export interface Cluster {
  readonly hosts: ReadonlyMap<NodeId, SimHost>;
  readonly world: HostWorld;
  readonly scenario: Scenario;
  readonly trace: Trace;
  readonly stats: SimulationStats;
  readonly clients: WorkloadClients;
  readonly clusterSize: number;
  readonly tick: number;
  readonly chaosTicks: number;
  nowMs(): number;
  /** A new machine with an empty disk (not started). */
  addHost(id: NodeId): SimHost;
  /** Starts a fresh runtime over what the host's disk holds. */
  startProcess(host: SimHost): void;
  findLeader(): SimProcess | undefined;
  /** Runs an asynchronous action beside the event loop; a failure fails the run. */
  spawn(task: Promise<void>, what: string): void;
}

export class FaultInjector {
  private partitionHealTick: number | undefined;
  private nextNodeNumber: number;

  constructor(
    private readonly cluster: Cluster,
    private readonly prng: Prng,
    private readonly criticalPrng: Prng,
  ) {
    this.nextNodeNumber = cluster.clusterSize + 1;
  }

  /** A critical moment of a node's runtime (see Scenario.crashAtCriticalPointProbability): maybe crash it a few ms later. */
  criticalPoint(host: SimHost, what: string): void {
    const { scenario, tick } = this.cluster;
    const process = host.process;
    if (process === undefined || tick >= this.cluster.chaosTicks || !this.criticalPrng.chance(scenario.crashAtCriticalPointProbability)) return;
    const delayMs = this.criticalPrng.nextIntBetween(0, Math.max(1, scenario.diskLatencyMsMax));
    const restartAtTick = tick + this.criticalPrng.nextIntBetween(1, scenario.downTicksMax);
    this.cluster.world.clock.schedule(delayMs, () => {
      if (host.process === process && this.cluster.tick < this.cluster.chaosTicks) this.crash(host, restartAtTick, `crash-after-${what}`);
    });
  }

  injectFaults(): void {
    const { scenario, tick } = this.cluster;
    if (this.prng.chance(scenario.crashProbabilityPerTick)) this.stopSomeNode();
    if (this.partitionHealTick !== undefined && tick >= this.partitionHealTick) this.healPartition();
    if (this.partitionHealTick === undefined && this.prng.chance(scenario.partitionProbabilityPerTick)) this.partitionSomehow();
    if (this.prng.chance(scenario.membershipChangeProbabilityPerTick)) this.changeMembership();
    if (this.prng.chance(scenario.transferProbabilityPerTick)) this.transferLeadership();
  }

  private liveHosts(): SimHost[] {
    return [...this.cluster.hosts.values()].filter((host) => !host.retired);
  }

  private stopSomeNode(): void {
    const live = this.liveHosts();
    const up = live.filter((host) => host.process !== undefined && !host.process.stopping);
    const downCount = live.length - up.length;
    // Usually keep a majority up (so there is progress to be unsafe about); sometimes not.
    if (up.length === 0 || (downCount >= Math.floor((live.length - 1) / 2) && !this.prng.chance(0.1))) return;
    const host = this.prng.pick(up);
    const restartAtTick = this.cluster.tick + this.prng.nextIntBetween(1, this.cluster.scenario.downTicksMax);
    if (this.prng.chance(this.cluster.scenario.gracefulStopProbability)) this.stopGracefully(host, restartAtTick, 'stop');
    else this.crash(host, restartAtTick, 'crash');
  }

  crash(host: SimHost, restartAtTick: number | undefined, why: string): void {
    const process = host.crash(this.cluster.world);
    if (process === undefined) return;
    this.cluster.clients.processEnded(process, why === 'crash' ? 'crashed' : why);
    if (this.prng.chance(0.5)) this.cluster.world.transports.network.discardTo(host.id);
    host.restartAtTick = restartAtTick;
    this.cluster.stats.crashes++;
    this.cluster.trace.record(this.cluster.nowMs(), why, host.id, `restart@${restartAtTick ?? 'never'}`);
  }

  /**
   * runtime.stop(): a leader hands leadership over first; waiting requests fail; then the
   * process exits. A process still starting cannot be stopped so (serve.ts acts on a signal
   * once the start finished): it is killed instead.
   */
  stopGracefully(host: SimHost, restartAtTick: number | undefined, why: string): void {
    const process = host.process;
    if (process === undefined || process.stopping) return;
    if (!process.booted) {
      this.crash(host, restartAtTick, why);
      return;
    }
    process.stopping = true;
    this.cluster.stats.gracefulStops++;
    this.cluster.trace.record(this.cluster.nowMs(), `${why}-begin`, host.id);
    this.cluster.spawn(
      (async () => {
        await process.runtime.stop({ transferLeadership: true });
        await process.storage.close();
        if (!process.life.alive) return; // crashed while stopping
        host.exited(this.cluster.world, process);
        this.cluster.clients.processEnded(process, 'stopped');
        host.restartAtTick = restartAtTick;
        this.cluster.trace.record(this.cluster.nowMs(), `${why}-end`, host.id, `restart@${restartAtTick ?? 'never'}`);
      })(),
      `${host.id} stop`,
    );
  }

  restartAndRetire(): void {
    const tick = this.cluster.tick;
    for (const host of this.cluster.hosts.values()) {
      if (host.retireAtTick !== undefined && tick >= host.retireAtTick && !host.retired) this.retire(host);
      if (host.retired || host.isUp || host.restartAtTick === undefined || tick < host.restartAtTick) continue;
      host.restartAtTick = undefined;
      this.cluster.startProcess(host);
    }
  }

  /** The operator shuts a removed member down for good. */
  private retire(host: SimHost): void {
    host.retired = true;
    this.cluster.trace.record(this.cluster.nowMs(), 'retire', host.id);
    if (this.prng.chance(0.5)) this.stopGracefully(host, undefined, 'retire');
    else this.crash(host, undefined, 'retire');
  }

  private partitionSomehow(): void {
    const network = this.cluster.world.transports.network;
    const ids = this.liveHosts().map((host) => host.id);
    if (ids.length < 2) return;
    const shuffled = this.prng.shuffle([...ids]);
    const kind = this.prng.pick(['majority-minority', 'isolate-leader', 'one-way', 'bridge'] as const);
    const minoritySize = this.prng.nextIntBetween(1, Math.floor(ids.length / 2));
    const minority = shuffled.slice(0, minoritySize);
    const majority = shuffled.slice(minoritySize);
    if (kind === 'majority-minority') network.partition(minority, majority);
    if (kind === 'one-way') network.partitionOneWay(minority, majority);
    if (kind === 'isolate-leader') network.isolate(this.cluster.findLeader()?.nodeId ?? (shuffled[0] as string), ids);
    if (kind === 'bridge') {
      const bridgeNode = majority[0] as string;
      network.bridge([...minority, bridgeNode], majority, bridgeNode);
    }
    this.partitionHealTick = this.cluster.tick + this.prng.nextIntBetween(5, this.cluster.scenario.partitionTicksMax);
    this.cluster.stats.partitions++;
    this.cluster.trace.record(this.cluster.nowMs(), 'partition', kind, `minority=${minority.join(',')}`, `heal@${this.partitionHealTick}`);
  }

  private healPartition(): void {
    this.cluster.world.transports.network.heal();
    this.partitionHealTick = undefined;
    this.cluster.trace.record(this.cluster.nowMs(), 'heal');
  }

  /** The end of the chaos: the network heals and quiets, every node that is down restarts now. */
  healEverything(): void {
    const network = this.cluster.world.transports.network;
    network.heal();
    this.partitionHealTick = undefined;
    network.reconfigure({ ...this.cluster.scenario.network, dropProbability: 0, duplicateProbability: 0, longDelayProbability: 0 });
    for (const host of this.liveHosts()) if (!host.isUp) host.restartAtTick = this.cluster.tick;
    this.cluster.trace.record(this.cluster.nowMs(), 'heal-all');
  }

  private changeMembership(): void {
    const leader = this.cluster.findLeader();
    if (leader === undefined) return;
    const confState = leader.runtime.confState();
    const choices: (() => void)[] = [];
    if (this.nextNodeNumber <= this.cluster.clusterSize + addedNodesMax) choices.push(() => this.addLearner(leader));
    const upLearners = confState.learners.filter((id) => this.cluster.hosts.get(id)?.isUp === true);
    if (upLearners.length > 0 && confState.voters.length < votersMax) choices.push(() => this.promote(leader, this.prng.pick(upLearners)));
    const remove = (nodeId: NodeId): void => this.propose(leader, { type: 'remove-node', nodeId, context: new Uint8Array() });
    if (confState.voters.length > 3) choices.push(() => remove(this.prng.pick(confState.voters)));
    if (confState.learners.length > 0) choices.push(() => remove(this.prng.pick(confState.learners)));
    if (choices.length > 0) this.prng.pick(choices)();
  }

  /** As membership.ts's join: the new node starts empty, knowing the members' addresses, and the leader adds it as a learner. */
  private addLearner(leader: SimProcess): void {
    const id = `n${this.nextNodeNumber}`;
    this.nextNodeNumber++;
    const host = this.cluster.addHost(id);
    this.cluster.startProcess(host);
    this.propose(leader, { type: 'add-learner', nodeId: id, context: memberContextOf(leader, id) });
  }

  private promote(leader: SimProcess, id: NodeId): void {
    this.propose(leader, { type: 'add-voter', nodeId: id, context: memberContextOf(leader, id) });
  }

  private propose(leader: SimProcess, change: ConfChange): void {
    const { trace } = this.cluster;
    trace.record(this.cluster.nowMs(), 'propose-conf', leader.nodeId, change.type, change.nodeId);
    leader.runtime.proposeConfChange(change, this.cluster.clients.timeoutMs).then(
      (index) => trace.record(this.cluster.nowMs(), 'conf-applied', leader.nodeId, change.type, change.nodeId, `i=${index}`),
      (error: unknown) => trace.record(this.cluster.nowMs(), 'conf-refused', leader.nodeId, change.type, change.nodeId, codeOf(error)),
    );
  }

  /** A removal applied: the operator shuts the removed member down a little later (it may be the leader handing over). */
  removalApplied(nodeId: NodeId): void {
    const removed = this.cluster.hosts.get(nodeId);
    if (removed !== undefined && removed.retireAtTick === undefined) {
      removed.retireAtTick = this.cluster.tick + Math.ceil((2 * this.cluster.scenario.electionTimeoutMs) / simulatorTickMs);
    }
  }

  private transferLeadership(): void {
    const leader = this.cluster.findLeader();
    if (leader === undefined) return;
    const voters = leader.runtime.confState().voters.filter((id) => id !== leader.nodeId);
    if (voters.length === 0) return;
    this.cluster.stats.transfersRequested++;
    const toSuccessor = this.prng.chance(0.3);
    const target = toSuccessor ? leader.runtime.mostCaughtUpVoter() : this.prng.pick(voters);
    let outcome = 'started';
    if (target === undefined) outcome = 'no successor';
    else {
      try {
        leader.runtime.transferLeadership(target);
      } catch (error) {
        outcome = `refused ${codeOf(error)}`;
      }
    }
    this.cluster.trace.record(this.cluster.nowMs(), toSuccessor ? 'step-down' : 'transfer', leader.nodeId, target ?? '-', outcome);
  }
}

/** A member's addresses, as a conf change carries them (the runtime encodes them). */
function memberContextOf(leader: SimProcess, id: NodeId): Uint8Array {
  return leader.runtime.memberContext({ raftAddress: raftAddressOf(id), apiAddress: apiAddressOf(id) });
}

function codeOf(error: unknown): string {
  return error instanceof ServiceError ? error.code : String(error);
}
