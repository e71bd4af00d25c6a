/**
 * One real QuorumNode in this process on 127.0.0.1 with free ports and a fresh data
 * directory, quiet and with short timers: what the in-process node tests share.
 * `overrides` change any option (a join list, timers, a random source).
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '../../src/node/logger.js';
import { QuorumNode, type QuorumNodeOptions } from '../../src/server/quorum-node.js';
import { freePort } from '../cluster/harness.js';

export const testNodeHost = '127.0.0.1';

export interface StartedTestNode {
  readonly node: QuorumNode;
  /** `http://127.0.0.1:PORT`, the node's HTTP API. */
  readonly baseUrl: string;
  readonly dataDirectory: string;
}

/** Starts a node; its data directory is named with `directoryPrefix`, and the caller removes it. */
export async function startTestNode(directoryPrefix: string, overrides: Partial<QuorumNodeOptions> = {}): Promise<StartedTestNode> {
  const host = testNodeHost;
  const raft = `${host}:${await freePort(host)}`;
  const httpPort = await freePort(host);
  // A restart passes the directory it ran in; the caller must get that one back, not a new empty one.
  const dataDirectory = overrides.dataDirectory ?? mkdtempSync(join(tmpdir(), `quorumlite-${directoryPrefix}-`));
  const node = await QuorumNode.start({
    nodeId: raft,
    raftAdvertisedAddress: raft,
    apiAdvertisedAddress: `${host}:${httpPort}`,
    dataDirectory,
    httpListen: { host, port: httpPort },
    raftListen: raft,
    logger: silentLogger,
    version: 'test',
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    ...overrides,
  });
  return { node, baseUrl: `http://${host}:${httpPort}`, dataDirectory };
}
