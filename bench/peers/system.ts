/**
 * What the comparison needs from a 3-node replicated system: start and stop, the leader,
 * single-row writes, an optional 100-row batch, point reads at named levels, and the
 * kill / write-through-a-survivor / restart steps of a failover trial.
 */
export type ReadKind = 'fast' | 'linearizable';

export interface ReadMode {
  readonly kind: ReadKind;
  /** What the level is called in this system (`none`, `serializable`, `GET /key`). */
  readonly label: string;
  read(key: string): Promise<boolean>;
}

export interface ReplicatedSystem {
  readonly name: string;
  /** How durable a commit is, for the table (e.g. "fsync per commit on a quorum"). */
  readonly durability: string;
  readonly nodeCount: number;
  start(): Promise<void>;
  /** Stops every process by PID and removes the data dirs. Safe to call twice. */
  stop(): Promise<void>;
  /** Creates what the workloads write into (a table), if the system needs it. */
  prepare(): Promise<void>;
  /** One row, through the leader (or the system's normal client path); true when acknowledged. */
  write(key: string, value: string): Promise<boolean>;
  /** 100 rows in one request, or undefined when the system has no batch. */
  readonly writeBatch: ((rows: ReadonlyArray<readonly [string, string]>) => Promise<boolean>) | undefined;
  readonly readModes: readonly ReadMode[];
  /** 0-based index of the current leader; waits (bounded) until there is one. */
  leaderIndex(): Promise<number>;
  /** Makes `write` go to the current leader (after a failover). */
  refreshLeader(): Promise<void>;
  killNode(index: number): Promise<void>;
  /** One write through node `index` with a per-try timeout; true when acknowledged. */
  writeThrough(index: number, key: string, value: string, timeoutMs: number): Promise<boolean>;
  /** Restarts a killed node and waits (bounded) until the cluster is whole again. */
  restartNode(index: number): Promise<void>;
  /** PIDs of the running nodes, by node index (undefined for a stopped node). */
  pids(): ReadonlyArray<number | undefined>;
  /** Log tails for an error message. */
  logs(): string;
}

export const clusterSize = 3;
/** Bound on waiting for a leader, membership or catch-up on a loaded 2-core machine. */
export const clusterWaitMs = 60_000;
