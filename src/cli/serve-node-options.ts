/**
 * What rqlited's flags set on the node (QuorumNodeOptions), beside the settings serve
 * always passed. Flags that were not given leave quorumlite's own defaults in place
 * where rqlited's would change existing behaviour (join attempts and interval, connect
 * timeout, WAL checkpoint size).
 */
import type { QuorumNodeOptions } from '../server/quorum-node.js';
import type { ServeOptions } from './serve-flags.js';

/** The options rqlited's flags give the node, beside the ones quorumlite always had. */
export function rqlitedNodeOptions(options: ServeOptions): Partial<QuorumNodeOptions> {
  const handOff = options.handOff;
  return {
    candidateElectionTimeoutMs: options.candidateElectionTimeoutMs,
    applyTimeoutMs: options.applyTimeoutMs,
    bootstrapExpectTimeoutMs: options.bootstrapExpectTimeoutMs,
    autoVacuumIntervalMs: options.autoVacuumIntervalMs,
    autoOptimizeIntervalMs: options.autoOptimizeIntervalMs,
    extensionPaths: options.extensionPaths,
    ...(options.walCheckpointBytes === undefined ? {} : { walCheckpointBytes: options.walCheckpointBytes }),
    ...(options.connectTimeoutMs === undefined ? {} : { transportLimits: { connectTimeoutMs: options.connectTimeoutMs } }),
    ...(handOff.joinAttemptCountMax === undefined ? {} : { joinAttemptCountMax: handOff.joinAttemptCountMax }),
    ...(handOff.joinIntervalMs === undefined ? {} : { joinRetryIntervalMs: handOff.joinIntervalMs }),
    joinAsUser: handOff.joinAsUser,
    shutdownOnRemoval: handOff.shutdownOnRemoval,
    removeSelfOnShutdown: handOff.removeSelfOnShutdown,
    stepDownOnShutdown: handOff.stepDownOnShutdown,
    reapNodeTimeoutMs: handOff.reapNodeTimeoutMs,
    reapReadOnlyNodeTimeoutMs: handOff.reapReadOnlyNodeTimeoutMs,
    writeQueueCountMax: handOff.writeQueueCountMax,
    writeQueueBatchCountMax: handOff.writeQueueBatchCountMax,
    writeQueueTimeoutMs: handOff.writeQueueTimeoutMs,
    writeQueueTransaction: handOff.writeQueueTransaction,
    foreignKeys: handOff.foreignKeys,
  };
}
