/**
 * What rqlited's flags set on the node (QuorumNodeOptions), beside the settings serve
 * always passed. Flags that were not given leave quorumlite's own defaults in place
 * where rqlited's would change existing behaviour (connect timeout).
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
    snapshotWalBytes: options.snapshotWalBytes,
    ...(options.connectTimeoutMs === undefined ? {} : { transportLimits: { connectTimeoutMs: options.connectTimeoutMs } }),
    joinAttemptCountMax: options.joinAttemptCountMax,
    joinIntervalMs: Math.max(1, Math.round(options.joinIntervalMs)),
    joinAs: options.joinAs,
    exitWhenRemoved: options.exitWhenRemoved,
    removeOnShutdown: options.removeOnShutdown,
    stepDownOnShutdown: options.stepDownOnShutdown,
    reapNodeTimeoutMs: options.reapNodeTimeoutMs,
    reapReadOnlyNodeTimeoutMs: options.reapReadOnlyNodeTimeoutMs,
    writeQueueCountMax: handOff.writeQueueCountMax,
    writeQueueBatchCountMax: handOff.writeQueueBatchCountMax,
    writeQueueTimeoutMs: handOff.writeQueueTimeoutMs,
    writeQueueTransaction: handOff.writeQueueTransaction,
    foreignKeys: options.foreignKeys,
  };
}
