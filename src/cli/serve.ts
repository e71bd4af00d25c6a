/**
 * `quorumlite serve`: runs one node until SIGTERM or SIGINT, then stops gracefully (a
 * leader hands leadership over first, so a rolling restart costs no election timeout).
 * Imported only after TZ=UTC is set (see main.ts).
 */
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { QuorumNode } from '../server/quorum-node.js';
import type { NodeLogger } from '../node/logger.js';
import { formatHostPort, type ServeOptions } from './serve-flags.js';
import { packageVersion } from './version.js';

const testFaultLineLengthMax = 256;

function createLogger(options: ServeOptions): NodeLogger {
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

function waitForSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.off('SIGTERM', onSignal);
      process.off('SIGINT', onSignal);
      resolve(signal);
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
}

/** Runs the node; resolves with the exit code after a signal stopped it. */
export async function runServe(options: ServeOptions): Promise<number> {
  if (process.env.TZ !== 'UTC') throw new Error('assertion: serve must run with TZ=UTC');
  const logger = createLogger(options);
  const signal = waitForSignal();
  const node = await QuorumNode.start({
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
    http: { bodyBytesMax: options.httpBodyBytesMax },
    writeQueueCapacity: options.writeQueueCapacity,
    writeQueueBatchSize: options.writeQueueBatchSize,
    writeQueueTimeoutMs: options.writeQueueTimeoutMs,
    writeQueueTransaction: options.writeQueueTransaction,
    httpListen: options.httpAddress,
    raftListen: formatHostPort(options.raftAddress),
    logger,
    version: packageVersion(),
    // A broken invariant: exit non-zero and let the supervisor restart the node from its durable state.
    onFatal: () => process.exit(1),
  });
  if (options.testFaultsOnStdin) listenForTestFaults(node, logger);
  logger.info({ event: 'ready' }, 'node started');
  const received = await signal;
  logger.info({ event: 'shutdown', signal: received }, 'shutting down');
  await node.stop({ transferLeadership: true });
  logger.info({ event: 'exit' }, 'stopped');
  return 0;
}
