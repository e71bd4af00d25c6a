/**
 * What the comparison needs from a 3-node replicated system: start and stop, the leader,
 * single-row writes, an optional 100-row batch, point reads at named levels on the leader
 * or any node, and the kill (or SIGSTOP) / write-through-a-survivor / restart (or SIGCONT)
 * steps of a failover trial.
 */
import type { ReplyTally } from '../lib/measure.js';

export type ReadKind = 'fast' | 'linearizable';

export interface ReadMode {
  readonly kind: ReadKind;
  /** What the level is called in this system (`none`, `serializable`, `GET /key`). */
  readonly label: string;
  read(key: string): Promise<boolean>;
  /** The same read sent to node `nodeIndex` (any node, not only the leader): the read-scaling workload. */
  readAt(nodeIndex: number, key: string): Promise<boolean>;
}

/** A system's own client, for the hung-leader trial: it finds the new leader by itself. */
export interface SystemClient {
  write(key: string, value: string): Promise<boolean>;
  close(): Promise<void>;
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
  /** SIGSTOP node `index` by PID: it keeps its sockets open and answers nothing. */
  pauseNode(index: number): void;
  /** SIGCONT node `index` and wait (bounded) until the cluster is whole again. */
  resumeNode(index: number): Promise<void>;
  /** The system's own client, when the bench has one; otherwise trials use writeThrough on the survivors. */
  readonly openClient: ((deadlineMs: number) => Promise<SystemClient>) | undefined;
  /** Restarts a killed node and waits (bounded) until the cluster is whole again. */
  restartNode(index: number): Promise<void>;
  /** PIDs of the running nodes, by node index (undefined for a stopped node). */
  pids(): ReadonlyArray<number | undefined>;
  /** Log tails for an error message. */
  logs(): string;
  /** The replies that were not acknowledgements over the whole run, by text, when the system tallies them. */
  readonly failedReplies?: () => ReturnType<ReplyTally['entries']>;
}

export const clusterSize = 3;
/** Bound on waiting for a leader, membership or catch-up on a loaded 2-core machine. */
export const clusterWaitMs = 60_000;
