/**
 * One simulated machine: what survives its crashes (the durable log, the snapshot store,
 * the database, the files on its disk, its clock) and, while it is up, one process: a
 * real `NodeRuntime` (src/node) wired to twins of its ports over those durable parts, with
 * the scheduler of the simulated clock. A crash kills the process (its timers, turns and
 * pending I/O die with it; a write on the disk at that moment lands or not); a restart
 * builds a fresh `NodeRuntime` over what survived, exactly as a restarted process would:
 * open the store (its recovery rule), then `startCore`.
 */
import { RawNode } from '../../src/raft/raw-node.js';
import type { NodeId, RaftConfig, ReadState } from '../../src/raft/types.js';
import type { NodeConfig } from '../../src/node/config.js';
import type { NodeLogger } from '../../src/node/logger.js';
import { NodeRuntime } from '../../src/node/runtime.js';
import { DurableTwin, type DiskFaults } from './durable-twin.js';
import type { KvStateMachine, StateMachineFault } from './kv-state-machine.js';
import { NodeScheduler, ProcessLife, type NodeClock, type SimulatedClock } from './sim-clock.js';
import { SimulatedDisk, simulatedFiles } from './sim-disk.js';
import { SnapshotStoreTwin } from './snapshot-store-twin.js';
import { emptyDatabase, StateMachineTwin, type ApplyObserver, type StateMachineBehaviour } from './state-machine-twin.js';
import { StorageTwin, type DiskBehaviour, type StorageObserver } from './storage-twin.js';
import type { TransactionFault } from './transaction-command.js';
import type { Endpoint, SimulatedTransports, TransportTwin } from './transport-twin.js';

/** Core settings the scenario sets beyond what the runtime's configuration decides. */
export type CoreOverrides = Partial<Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'random' | 'logger'>>;

/** What every host shares: the world it runs in. */
export interface HostWorld {
  readonly clock: SimulatedClock;
  readonly transports: SimulatedTransports;
  readonly coreOverrides: CoreOverrides;
  readonly diskBehaviour: DiskBehaviour;
  readonly stateMachineBehaviour: StateMachineBehaviour;
  /** The monitor's view of one node's disk and apply. */
  readonly observersFor: (nodeId: NodeId) => StorageObserver & ApplyObserver;
  readonly loggerFor: (nodeId: NodeId) => NodeLogger;
  /** A broken invariant inside a runtime (its Ready loop stopped). */
  readonly onFatal: (nodeId: NodeId, error: Error) => void;
  /** Planted bug: a follower's read states say index 0, so it reads without waiting to apply the read index. */
  readonly followerReadsSkipApplyWait?: boolean;
}

/** The planted bug of `followerReadsSkipApplyWait`: the runtime then waits for nothing before a follower's read. */
function skipFollowerApplyWait(core: RawNode): void {
  const ready = core.ready.bind(core);
  core.ready = () => {
    const handed = ready();
    if (core.status().role === 'leader') return handed;
    const readStates = handed.readStates as ReadState[];
    for (let position = 0; position < readStates.length; position++) {
      readStates[position] = { context: (readStates[position] as ReadState).context, index: 0 };
    }
    return handed;
  };
}

/** One running incarnation of a host. */
export class SimProcess implements Endpoint {
  readonly life = new ProcessLife();
  readonly runtime: NodeRuntime;
  readonly storage: StorageTwin;
  readonly stateMachine: StateMachineTwin;
  readonly transport: TransportTwin;
  /** The core the runtime created (the simulator reads its status for checks). */
  core: RawNode | undefined;
  /** Client operations waiting on this process, by operation id (a transaction's: its read barrier or one commit attempt). */
  readonly pendingOperations = new Map<number, 'write' | 'read'>();
  /** Snapshots the store discarded when this process opened it. */
  readonly discardedSnapshotIndexes: readonly number[];
  /** Start-up finished (`startCore` resolved): only then does a signal stop it gracefully (serve.ts waits for the start). */
  booted = false;
  stopping = false;

  constructor(
    readonly host: SimHost,
    readonly incarnation: number,
    world: HostWorld,
  ) {
    const observers = world.observersFor(host.id);
    const opened = StorageTwin.open({
      log: host.log,
      store: host.snapshotStore,
      disk: host.disk,
      clock: world.clock,
      life: this.life,
      behaviour: world.diskBehaviour,
      observer: observers,
    });
    this.storage = opened.storage;
    this.discardedSnapshotIndexes = opened.discardedSnapshots.map((metadata) => metadata.index);
    this.stateMachine = new StateMachineTwin(
      host.database,
      host.log,
      host.disk,
      world.clock,
      this.life,
      world.stateMachineBehaviour,
      observers,
      host.config.dataDirectory,
    );
    world.transports.register(host.id);
    this.transport = world.transports.create(host.id, incarnation, this.life, host.disk);
    this.runtime = new NodeRuntime({
      config: host.config,
      storage: this.storage,
      stateMachine: this.stateMachine,
      transport: this.transport,
      createCore: (coreConfig) => {
        this.core = new RawNode({ ...coreConfig, ...world.coreOverrides });
        if (world.followerReadsSkipApplyWait === true) skipFollowerApplyWait(this.core);
        return this.core;
      },
      logger: world.loggerFor(host.id),
      scheduler: new NodeScheduler(world.clock, host.nodeClock, this.life),
      random: host.random,
      onFatal: (error) => world.onFatal(host.id, error),
      files: simulatedFiles(host.disk),
    });
    this.runtime.attachTransport();
  }

  get nodeId(): NodeId {
    return this.host.id;
  }

  get disk(): SimulatedDisk {
    return this.host.disk;
  }
}

export class SimHost {
  readonly disk = new SimulatedDisk();
  readonly log: DurableTwin;
  readonly snapshotStore: SnapshotStoreTwin;
  readonly database: KvStateMachine;
  incarnation = 0;
  process: SimProcess | undefined;
  restartAtTick: number | undefined;
  /** Set once the node's removal has been applied: it shuts down for good at this tick. */
  retireAtTick: number | undefined;
  retired = false;

  constructor(
    readonly id: NodeId,
    readonly config: NodeConfig,
    readonly nodeClock: NodeClock,
    readonly random: () => number,
    faults: { readonly disk?: DiskFaults; readonly stateMachine?: StateMachineFault; readonly transactions?: TransactionFault },
  ) {
    this.log = new DurableTwin(undefined, faults.disk);
    this.snapshotStore = new SnapshotStoreTwin(this.disk, `${config.dataDirectory}/raft/snapshots`);
    this.database = emptyDatabase(faults.stateMachine, faults.transactions);
  }

  get isUp(): boolean {
    return this.process !== undefined;
  }

  /** A new process over what survived (its runtime is built, not started). */
  start(world: HostWorld): SimProcess {
    this.incarnation++;
    this.process = new SimProcess(this, this.incarnation, world);
    return this.process;
  }

  /** The process dies at once: its scheduled work and queued writes are gone, a write on the disk lands or not. */
  crash(world: HostWorld): SimProcess | undefined {
    const process = this.process;
    if (process === undefined) return undefined;
    process.life.alive = false;
    process.storage.crash();
    process.stateMachine.crash();
    this.log.crash(this.database.appliedIndex);
    this.process = undefined;
    world.transports.processEnded(this.id);
    return process;
  }

  /** The process has stopped on its own (a graceful stop finished): nothing of it runs any more. */
  exited(world: HostWorld, process: SimProcess): void {
    process.life.alive = false;
    if (this.process === process) this.process = undefined;
    world.transports.processEnded(this.id);
  }
}
