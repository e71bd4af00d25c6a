/**
 * `quorumlite serve`: runs one node until SIGTERM or SIGINT, then stops gracefully (a
 * leader hands leadership over first unless --raft-shutdown-stepdown=false, so a rolling
 * restart costs no election timeout; with --raft-cluster-remove-shutdown the node leaves
 * the cluster first). With --raft-remove-shutdown it also stops once it learns it was
 * removed from the cluster. Imported only after TZ=UTC is set (see main.ts).
 *
 * Exit codes: 0 stopped, 1 failure (or leaving the cluster on shutdown failed), 3 the
 * data directory's raft/peers.json was refused (nothing was changed).
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { QuorumNode, type QuorumNodeOptions } from '../server/quorum-node.js';
import type { EtcdQuorumNode } from '../server/etcd-quorum-node.js';
import { PeersFileError } from '../node/peers-file.js';
import { authExposureWarning, checkAuthFile } from './serve-auth-flags.js';
import { exposureWarnings } from './serve-exposure.js';
import { tuneHeapForServe } from './serve-heap.js';
import { rqlitedNodeOptions } from './serve-node-options.js';
import type { NodeLogger } from '../node/logger.js';
import { formatHostPort, type ServeOptions } from './serve-flags.js';
import { packageVersion } from './version.js';

const testFaultLineLengthMax = 256;
/** A refused raft/peers.json: the node did not start and changed nothing. */
export const exitRefusedPeersFile = 3;

function createLogger(options: ServeOptions): ReturnType<typeof pino> {
  return pino({ level: options.logLevel, base: { node: options.nodeId } }, pino.destination({ dest: 1, sync: true }));
}

/** Test-only control lines on stdin (with --test-faults-on-stdin): `isolate` cuts this node off from every peer, `heal` restores. */
function listenForTestFaults(node: QuorumNode, logger: NodeLogger): void {
  const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
  lines.on('line', (line) => {
    const command = line.trim().slice(0, testFaultLineLengthMax);
    if (command === 'isolate') {
      for (const [id] of node.runtime.members.entries()) if (id !== node.config.nodeId) node.faults.isolate(id);
    } else if (command === 'heal') {
      node.faults.heal();
    } else {
      logger.warn({ event: 'test-fault-unknown', command }, 'unknown test fault command');
      return;
    }
    logger.info({ event: 'test-fault', command }, 'test fault applied');
  });
}

function waitForSignal(): { readonly received: Promise<NodeJS.Signals | 'removed'>; readonly removed: () => void } {
  let removed: () => void = () => undefined;
  const received = new Promise<NodeJS.Signals | 'removed'>((resolve) => {
    removed = () => resolve('removed');
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  return { received, removed };
}

/** Runs the node; resolves with the exit code after a signal stopped it. */
export async function runServe(options: ServeOptions): Promise<number> {
  if (process.env.TZ !== 'UTC') throw new Error('assertion: serve must run with TZ=UTC');
  tuneHeapForServe();
  checkAuthFile(options);
  const logger = createLogger(options);
  const exposure = authExposureWarning(options.httpAddress.host, options);
  if (exposure !== undefined) logger.warn({ event: 'no-authentication', http: formatHostPort(options.httpAddress) }, exposure);
  for (const warning of exposureWarnings(options)) logger.warn({ event: 'listener-exposed' }, warning);
  const signal = waitForSignal();
  let node: QuorumNode | EtcdQuorumNode;
  try {
    node = options.etcd === undefined ? await startNode(options, logger, signal.removed) : await startEtcdNode(options, options.etcd, logger, signal.removed);
  } catch (error) {
    if (!(error instanceof PeersFileError)) throw error;
    logger.error({ event: 'peers-file-refused', path: error.path, error: error.message }, 'refusing to start');
    process.stderr.write(`quorumlite serve: ${error.message}\n`);
    return exitRefusedPeersFile;
  }
  if (options.testFaultsOnStdin && node instanceof QuorumNode) listenForTestFaults(node, logger);
  logger.info({ event: 'ready' }, 'node started');
  const received = await signal.received;
  logger.info({ event: 'shutdown', signal: received }, received === 'removed' ? 'removed from the cluster: shutting down' : 'shutting down');
  const left = await node.shutdown();
  logger.info({ event: 'exit' }, 'stopped');
  return left ? 0 : 1;
}

/** The etcd client library (and gRPC under it, about 20 MiB of memory) is loaded only by a node whose log lives in etcd. */
async function startEtcdNode(
  options: ServeOptions,
  etcd: NonNullable<ServeOptions['etcd']>,
  logger: ReturnType<typeof pino>,
  onRemoved: () => void,
): Promise<EtcdQuorumNode> {
  const { EtcdQuorumNode } = await import('../server/etcd-quorum-node.js');
  return EtcdQuorumNode.start(nodeOptions(options, logger, onRemoved), etcd);
}

function startNode(options: ServeOptions, logger: ReturnType<typeof pino>, onRemoved: () => void): Promise<QuorumNode> {
  return QuorumNode.start(nodeOptions(options, logger, onRemoved));
}

function nodeOptions(options: ServeOptions, logger: ReturnType<typeof pino>, onRemoved: () => void): QuorumNodeOptions {
  return {
    ...rqlitedNodeOptions(options),
    ...(options.raftLogLevel === undefined ? {} : { raftLogger: logger.child({ subsystem: 'raft' }, { level: options.raftLogLevel }) }),
    nodeId: options.nodeId,
    raftAdvertisedAddress: formatHostPort(options.raftAdvertisedAddress),
    apiAdvertisedAddress: formatHostPort(options.httpAdvertisedAddress),
    dataDirectory: options.dataDirectory,
    joinAddresses: options.joinAddresses,
    bootstrapExpect: options.bootstrapExpect,
    nonVoter: options.nonVoter,
    heartbeatMs: options.heartbeatMs,
    electionTimeoutMs: options.electionTimeoutMs,
    snapshotThresholdEntries: options.snapshotThresholdEntries,
    snapshotIntervalMs: Math.max(1, Math.round(options.snapshotIntervalMs)),
    snapshotTrailingEntries: options.snapshotTrailingEntries,
    onRemoved,
    http: { bodyBytesMax: options.httpBodyBytesMax, allowOrigin: options.httpAllowOrigin },
    httpListen: options.httpAddress,
    raftListen: formatHostPort(options.raftAddress),
    logger,
    version: packageVersion(),
    // A broken invariant: exit non-zero and let the supervisor restart the node from its durable state.
    onFatal: () => process.exit(1),
  };
}
