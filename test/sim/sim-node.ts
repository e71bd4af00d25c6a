/**
 * One simulated member: its durable twin (the disk), and while it is up, a RawNode and
 * a KvStateMachine rebuilt from that twin. A crash drops the RawNode and the state
 * machine; a restart rebuilds both from the twin alone, as a real process would.
 */
import { RawNode, RaftError, decodeConfChange, type RaftConfig } from '../../src/raft/index.js';
import type { Message, RaftRole, Ready } from '../../src/raft/types.js';
import { DurableTwin } from './durable-twin.js';
import { InvariantViolation } from './invariants.js';
import { KvStateMachine, type StateMachineFault } from './kv-state-machine.js';

export interface PendingWrite {
  readonly operationId: number;
  readonly requestId: string;
  readonly term: number;
  readonly deadlineTick: number;
}

export interface PendingRead {
  readonly operationId: number;
  readonly key: string;
  readonly deadlineTick: number;
  /** Set when the ReadIndex answer arrives; the read completes once applied >= index. */
  index: number | undefined;
}

export type CoreSettings = Omit<RaftConfig, 'id' | 'storage' | 'applied' | 'random' | 'logger'>;

export class SimNode {
  raw: RawNode | undefined;
  machine: KvStateMachine | undefined;
  incarnation = 0;
  role: RaftRole = 'follower';
  leaderId = '';
  /** Proposals of this node's clients, by log index. */
  readonly pendingWrites = new Map<number, PendingWrite>();
  /** ReadIndex requests of this node's clients, by context. */
  readonly pendingReads = new Map<string, PendingRead>();
  restartAtTick: number | undefined;
  /** Set once the node's removal has been applied: it shuts down for good at this tick. */
  retireAtTick: number | undefined;
  retired = false;
  /** This node's clock: on time, or losing / gaining one tick per clockDriftPeriodTicks. */
  clockDrift: 'none' | 'slow' | 'fast' = 'none';
  /** Ticks this node's clock has seen (for drift). */
  clockTicks = 0;
  /** A Ready whose persist is in flight (asynchronous fsync), finished at completeAtStep. */
  persisting: { ready: Ready; completeAtStep: number; becameLeaderOfTerm: number | undefined; earlyAppends: readonly Message[] } | undefined;
  /** What survives a crash of a durable state machine. */
  private durableMachine: KvStateMachine | undefined;

  constructor(
    readonly id: string,
    readonly twin: DurableTwin,
    /** The sub-tick step at which this node's clock ticks (nodes' clocks are out of phase). */
    readonly tickPhase: number,
    private readonly random: () => number,
    private readonly stateMachineIsDurable: boolean,
    private readonly stateMachineFault?: StateMachineFault,
  ) {}

  get isUp(): boolean {
    return this.raw !== undefined;
  }

  /**
   * Start (or restart) from the twin. A durable state machine (like the real one in
   * SQLite, which commits its applied index with each entry) survives a crash and the
   * core restarts with `applied` at its index; a volatile one restarts from the snapshot.
   */
  start(settings: CoreSettings): void {
    const machine = this.durableMachine ?? this.machineFromSnapshot();
    machine.fault = this.stateMachineFault;
    this.durableMachine = undefined;
    this.machine = machine;
    this.role = 'follower';
    this.leaderId = '';
    this.incarnation++;
    this.raw = this.core('construct', () => new RawNode({ ...settings, id: this.id, storage: this.twin, applied: machine.appliedIndex, random: this.random }));
  }

  private machineFromSnapshot(): KvStateMachine {
    const snapshot = this.twin.latestSnapshot();
    const machine = new KvStateMachine(snapshot.metadata.confState, decodeConfChange);
    machine.restore(snapshot.data, snapshot.metadata.index, snapshot.metadata.term);
    return machine;
  }

  /** Lose everything that is not durable. Returns the client operations cut off. */
  crash(): { writes: PendingWrite[]; reads: PendingRead[] } {
    if (this.stateMachineIsDurable) this.durableMachine = this.machine;
    const cutOff = { writes: [...this.pendingWrites.values()], reads: [...this.pendingReads.values()] };
    this.pendingWrites.clear();
    this.pendingReads.clear();
    this.raw = undefined;
    this.machine = undefined;
    this.persisting = undefined;
    this.role = 'follower';
    this.leaderId = '';
    this.twin.crash();
    return cutOff;
  }

  /** The running core; asserts the node is up. */
  get core$(): RawNode {
    if (this.raw === undefined) throw new Error(`simulator: ${this.id} is down`);
    return this.raw;
  }

  get machine$(): KvStateMachine {
    if (this.machine === undefined) throw new Error(`simulator: ${this.id} is down`);
    return this.machine;
  }

  /** Run a core call; any exception is a core bug (core-exception). */
  core<T>(what: string, call: () => T): T {
    try {
      return call();
    } catch (error) {
      if (error instanceof InvariantViolation) throw error;
      throw new InvariantViolation('core-exception', `${this.id} ${what} threw ${describeError(error)}`);
    }
  }

  /** Run a core call that may refuse with a RaftError (returned); anything else is a core bug. */
  request<T>(what: string, call: () => T): T | RaftError {
    try {
      return call();
    } catch (error) {
      if (error instanceof RaftError) return error;
      throw new InvariantViolation('core-exception', `${this.id} ${what} threw ${describeError(error)}`);
    }
  }
}

export function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}\n${(error.stack ?? '').split('\n').slice(1, 6).join('\n')}`;
  return String(error);
}
