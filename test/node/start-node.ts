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

/** A node's addresses, kept across its restarts (its id is its Raft address). */
export interface TestNodeAddress {
  readonly raft: string;
  readonly http: { readonly host: string; readonly port: number };
}

/** Free ports for one node on `host`. */
export async function allocateTestNodeAddress(host = testNodeHost): Promise<TestNodeAddress> {
  return { raft: `${host}:${await freePort(host)}`, http: { host, port: await freePort(host) } };
}

/** Starts a node at `address` on `dataDirectory`, quiet and with short timers (a restart passes the same two). */
export function startNodeAt(address: TestNodeAddress, dataDirectory: string, overrides: Partial<QuorumNodeOptions> = {}): Promise<QuorumNode> {
  return QuorumNode.start({
    nodeId: address.raft,
    raftAdvertisedAddress: address.raft,
    apiAdvertisedAddress: `${address.http.host}:${address.http.port}`,
    dataDirectory,
    httpListen: address.http,
    raftListen: address.raft,
    logger: silentLogger,
    version: 'test',
    heartbeatMs: 50,
    electionTimeoutMs: 500,
    ...overrides,
  });
}

/** Starts a node; its data directory is named with `directoryPrefix`, and the caller removes it. */
export async function startTestNode(directoryPrefix: string, overrides: Partial<QuorumNodeOptions> = {}): Promise<StartedTestNode> {
  const address = await allocateTestNodeAddress();
  // A restart passes the directory it ran in; the caller must get that one back, not a new empty one.
  const dataDirectory = overrides.dataDirectory ?? mkdtempSync(join(tmpdir(), `quorumlite-${directoryPrefix}-`));
  // A start that fails (tests expect some to) leaves no directory of ours behind.
  const node = await startNodeAt(address, dataDirectory, overrides).catch((error: unknown) => {
    if (overrides.dataDirectory === undefined) rmSync(dataDirectory, { recursive: true, force: true });
    throw error;
  });
  return { node, baseUrl: `http://${address.http.host}:${address.http.port}`, dataDirectory };
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
