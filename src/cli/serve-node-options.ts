/**
 * What rqlited's flags set on the node (QuorumNodeOptions), beside the settings serve
 * always passed. Flags that were not given leave quorumlite's own defaults in place
 * where rqlited's would change existing behaviour (connect timeout).
 */
import type { QuorumNodeOptions } from '../server/quorum-node.js';
import type { ServeOptions } from './serve-flags.js';

/** The options rqlited's flags give the node, beside the ones quorumlite always had. */
export function rqlitedNodeOptions(options: ServeOptions): Partial<QuorumNodeOptions> {
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
    ...(options.authFile === null ? {} : { authFile: options.authFile }),
    exitWhenRemoved: options.exitWhenRemoved,
    removeOnShutdown: options.removeOnShutdown,
    stepDownOnShutdown: options.stepDownOnShutdown,
    reapNodeTimeoutMs: options.reapNodeTimeoutMs,
    reapReadOnlyNodeTimeoutMs: options.reapReadOnlyNodeTimeoutMs,
    writeQueueCountMax: options.writeQueueCountMax,
    writeQueueBatchCountMax: options.writeQueueBatchCountMax,
    writeQueueTimeoutMs: options.writeQueueTimeoutMs,
    writeQueueTransaction: options.writeQueueTransaction,
    foreignKeys: options.foreignKeys,
    databaseCountMax: options.databaseCountMax,
    sqlitePageSize: options.sqlitePageSize,
    // Only when a TLS flag was given: without one the node runs plain, as without the option.
    ...(options.tls.http === undefined && options.tls.peers === undefined ? {} : { tls: options.tls }),
    ...backupNodeOptions(options),
    ...(options.discovery === undefined ? {} : { discovery: options.discovery }),
    ...(options.cdc === undefined ? {} : { cdc: options.cdc }),
  };
}

/** -auto-backup, -auto-restore: only when given (their parsed files). */
function backupNodeOptions(options: ServeOptions): Pick<QuorumNodeOptions, 'backups'> {
  if (options.autoBackup === undefined && options.autoRestore === undefined) return {};
  return {
    backups: {
      ...(options.autoBackup === undefined ? {} : { autoBackup: options.autoBackup }),
      ...(options.autoRestore === undefined ? {} : { autoRestore: options.autoRestore }),
    },
  };
}
