/**
 * A real NodeRuntime (Raft core, SQLite state machine, Ready loop) on in-memory storage,
 * a recording transport and a ManualScheduler: time moves only when the test advances it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RawNode } from '../../src/raft/raw-node.js';
import type { NodeId } from '../../src/raft/types.js';
import { resolveNodeConfig, type NodeConfig, type NodeConfigInput } from '../../src/node/config.js';
import { silentLogger } from '../../src/node/logger.js';
import type { NodeFiles } from '../../src/node/ports.js';
import { NodeRuntime } from '../../src/node/runtime.js';
import { SqliteStateMachine } from '../../src/state-machine/state-machine.js';
import type { Statement } from '../../src/state-machine/types.js';
import { MemoryNodeStorage, RecordingTransport } from './fake-ports.js';
import { ManualScheduler } from './manual-scheduler.js';

export interface InMemoryRuntime {
  readonly runtime: NodeRuntime;
  readonly scheduler: ManualScheduler;
  readonly storage: MemoryNodeStorage;
  readonly transport: RecordingTransport;
  readonly stateMachine: SqliteStateMachine;
  readonly config: NodeConfig;
  /** Stops the runtime (settling its last turn) and removes the data directory. */
  close(): Promise<void>;
}

/** Bootstraps `voters` (this node first) and starts the core; nothing has ticked yet. */
/** `files`: the runtime's own file operations (members.json, snapshot files); default the real filesystem. */
export async function startInMemoryRuntime(voters: readonly NodeId[], overrides: Partial<NodeConfigInput> = {}, files?: NodeFiles): Promise<InMemoryRuntime> {
  const nodeId = voters[0] ?? 'n1';
  const dataDirectory = mkdtempSync(join(tmpdir(), 'quorumlite-manual-time-'));
  const config = resolveNodeConfig({
    nodeId,
    raftAdvertisedAddress: `${nodeId}:raft`,
    apiAdvertisedAddress: `${nodeId}:api`,
    dataDirectory,
    heartbeatMs: 10,
    electionTimeoutMs: 100,
    haltRetryIntervalMs: 1000,
    ...overrides,
  });
  const scheduler = new ManualScheduler();
  const storage = new MemoryNodeStorage();
  const transport = new RecordingTransport(nodeId);
  const stateMachine = new SqliteStateMachine({ path: join(dataDirectory, 'db.sqlite') });
  const runtime = new NodeRuntime({
    config,
    storage,
    stateMachine,
    transport,
    scheduler,
    logger: silentLogger,
    createCore: (coreConfig) => new RawNode(coreConfig),
    random: () => 0.5,
    ...(files === undefined ? {} : { files }),
  });
  runtime.attachTransport();
  await runtime.bootstrap(new Map(voters.map((id) => [id, { raftAddress: `${id}:raft`, apiAddress: `${id}:api` }])));
  await runtime.startCore();
  await scheduler.settle();
  return {
    runtime,
    scheduler,
    storage,
    transport,
    stateMachine,
    config,
    async close() {
      const stopping = runtime.stop({ transferLeadership: false });
      await scheduler.settle();
      await stopping;
      stateMachine.close();
      rmSync(dataDirectory, { recursive: true, force: true });
    },
  };
}

export function statement(sql: string, ...positional: string[]): Statement {
  return { sql, positional, named: {} };
}
