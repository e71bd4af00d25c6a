/**
 * The runtime's configuration: identity, addresses, timing and every bound, with unit
 * last. `resolveNodeConfig` fills defaults and checks values (BAD_REQUEST for a value out of range).
 */
import { ServiceError } from '../service/service.js';
import type { NodeId } from '../raft/types.js';
import { commandLimits } from '../state-machine/command-codec.js';
import { databaseCountMaxDefault } from '../state-machine/database-entries.js';
import { defaultPageSize } from '../state-machine/options.js';

export interface NodeConfig {
  readonly nodeId: NodeId;
  readonly raftAdvertisedAddress: string;
  readonly apiAdvertisedAddress: string;
  /**
   * How members' HTTP APIs are reached ('https' with rqlited's -http-cert): the scheme of
   * the leader's URL in a redirect and of every address /nodes lists. A cluster's nodes
   * serve their APIs alike, so this node's own scheme stands for every member's.
   */
  readonly apiScheme: 'http' | 'https';
  readonly dataDirectory: string;
  readonly joinAddresses: readonly string[];
  readonly bootstrapExpect: number;
  readonly nonVoter: boolean;
  readonly heartbeatMs: number;
  /** A follower campaigns after a random [T, 2T) without hearing from the leader (rqlited's -raft-heartbeat-timeout). */
  readonly electionTimeoutMs: number;
  /** A candidate campaigns again after a random [T, 2T) without a result (rqlited's -raft-election-timeout); 0: electionTimeoutMs. */
  readonly candidateElectionTimeoutMs: number;
  /** How long a write waits for its entry to commit and apply here (rqlited's -raft-apply-timeout), within the request's own timeout. */
  readonly applyTimeoutMs: number;
  /** The leader has every node VACUUM the database, through the log, this often; 0 is off (-auto-vacuum-int). */
  readonly autoVacuumIntervalMs: number;
  /** The leader has every node refresh stale query-planner statistics, through the log, this often; 0 is off (-auto-optimize-int). */
  readonly autoOptimizeIntervalMs: number;
  readonly snapshotThresholdEntries: number;
  readonly snapshotIntervalMs: number;
  /** A snapshot is due once the database's WAL holds this many bytes (rqlited's -raft-snap-wal-size); 0: only the entry count decides. */
  readonly snapshotWalBytes: number;
  /** Entries kept in the log behind a snapshot, so a briefly lagging follower needs no snapshot. */
  readonly snapshotTrailingEntries: number;
  /** Writes waiting for their entry to apply. */
  readonly pendingProposalCountMax: number;
  /** Linearizable reads waiting for ReadIndex. */
  readonly pendingReadCountMax: number;
  /** Entry bytes handed to the disk and not yet durable: past this, the Ready loop waits for the disk before its next turn. */
  readonly savingBytesMax: number;
  /** Committed entries handed to the state machine and not yet applied: past this, the Ready loop waits for apply before its next turn. */
  readonly applyingEntryCountMax: number;
  /** Callers waiting for an index to be applied. */
  readonly appliedWaiterCountMax: number;
  /** Rounds of join attempts (each tries every --join address once) before giving up, as rqlited's -join-attempts. */
  readonly joinAttemptCountMax: number;
  /** Pause between two rounds of join attempts, as rqlited's -join-interval. */
  readonly joinIntervalMs: number;
  /** The user a join through an HTTP address authenticates as ('' = anonymously), as rqlited's -join-as. */
  readonly joinAs: string;
  /** --bootstrap-expect: pause between two rounds of notifying the peers. */
  readonly discoveryIntervalMs: number;
  /** How long --bootstrap-expect waits to see every peer before giving up. */
  readonly bootstrapExpectTimeoutMs: number;
  /** A learner is promoted once it is within this many entries of the leader's commit. */
  readonly promotionLagEntriesMax: number;
  readonly promotionTimeoutMs: number;
  /** On SIGTERM, how long a leader waits for leadership to move before it exits anyway. */
  readonly shutdownTransferTimeoutMs: number;
  /** Default for forwarded calls and waits when a request names none. */
  readonly requestTimeoutMs: number;
  readonly linearizableTimeoutMs: number;
  /** Largest encoded write accepted into the log: under the store's entry bound and the transport's frame bound. */
  readonly entryDataBytesMax: number;
  /** While the disk or database refuses (disk full), how long to wait before retrying the same step. */
  readonly haltRetryIntervalMs: number;
  /** rqlited -raft-cluster-remove-shutdown: on a graceful stop, ask the leader to remove this node first. */
  readonly removeOnShutdown: boolean;
  /** rqlited -raft-remove-shutdown: a node that learns it was removed from the cluster stops (and the CLI exits). */
  readonly exitWhenRemoved: boolean;
  /** rqlited -raft-shutdown-stepdown: on a graceful stop, a leader hands leadership over first. */
  readonly stepDownOnShutdown: boolean;
  /** rqlited -raft-reap-node-timeout: the leader removes a voter it has not heard from for this long; 0 never. */
  readonly reapNodeTimeoutMs: number;
  /** rqlited -raft-reap-read-only-node-timeout: the same for non-voters; 0 never. */
  readonly reapReadOnlyNodeTimeoutMs: number;
  /** rqlited -fk: SQLite foreign key constraints, on every node alike (off by default, as in rqlite). */
  readonly foreignKeys: boolean;
  /** -db-count-max: databases the cluster holds at most, the default one included; equal on every node ("Several databases"). */
  readonly databaseCountMax: number;
  /** -sqlite-page-size: SQLite's page size for a database this node creates; an existing one keeps its own. Nodes may differ. */
  readonly sqlitePageSize: number;
  /** rqlited -write-queue-capacity: queued writes (`?queue`) held at most, waiting or in the batch being sent. */
  readonly writeQueueCountMax: number;
  /** rqlited -write-queue-batch-size: queued writes sent as one log entry, at most (commandLimits.queuedRequestCountMax at most). */
  readonly writeQueueBatchCountMax: number;
  /** rqlited -write-queue-timeout: a batch goes this long after its first write, full or not; 0: only once full. */
  readonly writeQueueTimeoutMs: number;
  /** rqlited -write-queue-tx: a batch of queued writes runs as one transaction. */
  readonly writeQueueTransaction: boolean;
}

export type NodeConfigInput = Pick<NodeConfig, 'nodeId' | 'raftAdvertisedAddress' | 'apiAdvertisedAddress' | 'dataDirectory'> & Partial<NodeConfig>;

export const nodeConfigDefaults = {
  joinAddresses: [] as readonly string[],
  apiScheme: 'http',
  bootstrapExpect: 0,
  nonVoter: false,
  // Measured on a loaded 2-core box (bench:cluster, load average 11-12 from other work):
  // 50/300 saw no term change in 3 runs of 64-client writes, sequential writes and reads
  // (3 s and twice 10 s a row); a hung leader (SIGSTOP) was replaced and a write
  // acknowledged in 398 ms p50 (465 max, 10 trials) against 795 ms with 50/500. An earlier
  // build saw spurious elections at 50/300 under load; /status no longer stalls the event
  // loop reading every row, and the write path got cheaper since.
  heartbeatMs: 50,
  electionTimeoutMs: 300,
  candidateElectionTimeoutMs: 0,
  applyTimeoutMs: 10_000,
  autoVacuumIntervalMs: 0,
  autoOptimizeIntervalMs: 0,
  snapshotThresholdEntries: 8192,
  snapshotIntervalMs: 10_000,
  snapshotWalBytes: 4 * 1024 * 1024,
  snapshotTrailingEntries: 1024,
  pendingProposalCountMax: 10_000,
  pendingReadCountMax: 10_000,
  savingBytesMax: 64 * 1024 * 1024,
  applyingEntryCountMax: 100_000,
  appliedWaiterCountMax: 10_000,
  // rqlited's defaults for -join-attempts and -join-interval.
  joinAttemptCountMax: 5,
  joinIntervalMs: 3_000,
  joinAs: '',
  discoveryIntervalMs: 500,
  bootstrapExpectTimeoutMs: 120_000,
  promotionLagEntriesMax: 64,
  promotionTimeoutMs: 60_000,
  shutdownTransferTimeoutMs: 5_000,
  requestTimeoutMs: 30_000,
  linearizableTimeoutMs: 10_000,
  entryDataBytesMax: 8 * 1024 * 1024 - 64 * 1024,
  haltRetryIntervalMs: 1000,
  // rqlited's defaults: stay in the cluster on shutdown, keep running when removed, hand
  // leadership over on shutdown, never reap.
  removeOnShutdown: false,
  exitWhenRemoved: false,
  stepDownOnShutdown: true,
  reapNodeTimeoutMs: 0,
  reapReadOnlyNodeTimeoutMs: 0,
  writeQueueCountMax: 1024,
  writeQueueBatchCountMax: 128,
  writeQueueTimeoutMs: 50,
  writeQueueTransaction: false,
  foreignKeys: false,
  databaseCountMax: databaseCountMaxDefault,
  sqlitePageSize: defaultPageSize,
} as const;

function requirePositiveInteger(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new ServiceError('BAD_REQUEST', `${name} must be a whole number >= 1, got ${value}`);
}

function requireNonNegativeInteger(name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new ServiceError('BAD_REQUEST', `${name} must be a whole number >= 0, got ${value}`);
}

export function resolveNodeConfig(input: NodeConfigInput): NodeConfig {
  const config: NodeConfig = { ...nodeConfigDefaults, ...input };
  if (config.nodeId.length === 0) throw new ServiceError('BAD_REQUEST', 'nodeId must not be empty');
  if (config.apiScheme !== 'http' && config.apiScheme !== 'https')
    throw new ServiceError('BAD_REQUEST', `apiScheme must be http or https, got ${String(config.apiScheme)}`);
  for (const name of [
    'heartbeatMs',
    'electionTimeoutMs',
    'snapshotThresholdEntries',
    'snapshotIntervalMs',
    'pendingProposalCountMax',
    'pendingReadCountMax',
    'savingBytesMax',
    'applyingEntryCountMax',
    'appliedWaiterCountMax',
    'joinAttemptCountMax',
    'joinIntervalMs',
    'discoveryIntervalMs',
    'bootstrapExpectTimeoutMs',
    'promotionTimeoutMs',
    'shutdownTransferTimeoutMs',
    'requestTimeoutMs',
    'linearizableTimeoutMs',
    'entryDataBytesMax',
    'haltRetryIntervalMs',
    'applyTimeoutMs',
    'writeQueueCountMax',
    'writeQueueBatchCountMax',
  ] as const) {
    requirePositiveInteger(name, config[name]);
  }
  for (const name of [
    'candidateElectionTimeoutMs',
    'autoVacuumIntervalMs',
    'autoOptimizeIntervalMs',
    'reapNodeTimeoutMs',
    'reapReadOnlyNodeTimeoutMs',
    'writeQueueTimeoutMs',
    'snapshotWalBytes',
  ] as const) {
    requireNonNegativeInteger(name, config[name]);
  }
  if (config.writeQueueBatchCountMax > commandLimits.queuedRequestCountMax) {
    throw new ServiceError(
      'BAD_REQUEST',
      `writeQueueBatchCountMax ${config.writeQueueBatchCountMax} is more than a batch entry carries (${commandLimits.queuedRequestCountMax})`,
    );
  }
  if (config.candidateElectionTimeoutMs !== 0 && config.candidateElectionTimeoutMs < config.electionTimeoutMs) {
    throw new ServiceError(
      'BAD_REQUEST',
      `candidateElectionTimeoutMs (${config.candidateElectionTimeoutMs}) must be 0 or >= electionTimeoutMs (${config.electionTimeoutMs})`,
    );
  }
  if (!Number.isInteger(config.snapshotTrailingEntries) || config.snapshotTrailingEntries < 0) {
    throw new ServiceError('BAD_REQUEST', `snapshotTrailingEntries must be >= 0, got ${config.snapshotTrailingEntries}`);
  }
  if (config.electionTimeoutMs < 2 * config.heartbeatMs) {
    throw new ServiceError('BAD_REQUEST', `electionTimeoutMs (${config.electionTimeoutMs}) must be >= 2 * heartbeatMs (${config.heartbeatMs})`);
  }
  return config;
}
