/**
 * One real QuorumNode in this process on 127.0.0.1 with free ports and a fresh data
 * directory, quiet and with short timers: what the in-process node tests share.
 * `overrides` change any option (a join list, timers, a random source).
 */
import { mkdtempSync, rmSync } from 'node:fs';
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
  const starting = QuorumNode.start({
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
  // A start that fails (tests expect some to) leaves no directory of ours behind.
  const node = await starting.catch((error: unknown) => {
    if (overrides.dataDirectory === undefined) rmSync(dataDirectory, { recursive: true, force: true });
    throw error;
  });
  return { node, baseUrl: `http://${host}:${httpPort}`, dataDirectory };
}

/**
 * The nodes one test file starts, stopped and their directories removed together in its
 * `after` hook: `const nodes = new TestNodes('prefix'); after(() => nodes.stopAll());`.
 */
export class TestNodes {
  readonly #directoryPrefix: string;
  readonly #defaults: Partial<QuorumNodeOptions>;
  readonly #started: StartedTestNode[] = [];

  constructor(directoryPrefix: string, defaults: Partial<QuorumNodeOptions> = {}) {
    this.#directoryPrefix = directoryPrefix;
    this.#defaults = defaults;
  }

  /** Starts a node with the file's defaults, then `overrides`. */
  async start(overrides: Partial<QuorumNodeOptions> = {}): Promise<QuorumNode> {
    const started = await startTestNode(this.#directoryPrefix, { ...this.#defaults, ...overrides });
    this.#started.push(started);
    return started.node;
  }

  /** Stops every node started (a failure to stop is not this hook's to report) and removes their directories. */
  async stopAll(): Promise<void> {
    await Promise.all(this.#started.map(({ node }) => node.stop({ transferLeadership: false }).catch(() => undefined)));
    for (const { dataDirectory } of this.#started) rmSync(dataDirectory, { recursive: true, force: true });
  }
}
